import sys

import numpy as np
import pytest
from _weak_signal import weak_signal
from sklearn.linear_model import LogisticRegression

from cvn_sklearn import Calibrate, ThetaSweep, theta_sweep
from cvn_sklearn.plots import reliability_diagram, theta_curve

@pytest.fixture(scope="module")
def fitted():
    (X, y, _), (X_test, y_test, _) = weak_signal(1500, seed=0), weak_signal(800, seed=1)
    calibrated = Calibrate(LogisticRegression(class_weight="balanced"), method="sigmoid").fit(X, y)
    return calibrated, X_test, y_test

def test_reliability_diagram_draws_both_curves_and_saves_png(fitted, tmp_path):
    calibrated, X_test, y_test = fitted
    raw = calibrated.estimators_[0].predict_proba(X_test)
    fig = reliability_diagram(y_test, raw, calibrated.predict_proba(X_test))
    curve, hist = fig.axes
    labels = [line.get_label() for line in curve.get_lines()]
    assert labels[0] == "perfectly calibrated"
    assert labels[1].startswith("raw (ECE ") and labels[2].startswith("calibrated (ECE ")
    assert len(hist.patches) == 2
    fig.savefig(tmp_path / "reliability.png")
    assert (tmp_path / "reliability.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

def test_theta_curve_marks_the_chosen_theta_and_the_cap(fitted, tmp_path):
    calibrated, X_test, y_test = fitted
    result = theta_sweep(y_test, calibrated.predict_proba(X_test))
    fig = theta_curve(result)
    objective, rate = fig.axes
    vertical = [line for line in objective.get_lines() if line.get_label().startswith("θ = ")]
    assert len(vertical) == 1 and vertical[0].get_xdata()[0] == result.theta
    cap = [line for line in rate.get_lines() if line.get_label().startswith("rate cap")]
    assert cap[0].get_ydata()[0] == pytest.approx(result.positive_rate_cap)
    np.testing.assert_array_equal(rate.get_lines()[0].get_ydata(), result.positive_rates)
    fig.savefig(tmp_path / "theta.png")
    assert (tmp_path / "theta.png").stat().st_size > 1000

def test_theta_curve_of_a_fitted_estimator_with_infinite_scores():
    X, y, returns = weak_signal(600, seed=3)
    clf = ThetaSweep(objective="sortino").fit(X, y, returns=returns)
    assert theta_curve(clf.theta_result_).axes

def test_missing_matplotlib_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        reliability_diagram([0, 1], [0.2, 0.8])
