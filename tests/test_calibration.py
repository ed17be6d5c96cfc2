import numpy as np
import pandas as pd
import pytest
from _weak_signal import weak_signal
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, TimeSeriesSplit
from sklearn.utils.estimator_checks import parametrize_with_checks
from test_common import stratified_expected_failures
from structlog.testing import capture_logs

from cvn_sklearn import Calibrate
from cvn_sklearn.calibration import fit_calibrator
from cvn_sklearn.metrics import expected_calibration_error
from cvn_sklearn.registry import registry

METHODS = ["isotonic", "sigmoid", "temperature", "beta"]


# Stratified hold-outs for the checks: see the note in test_threshold.py.
@parametrize_with_checks(
    [Calibrate(method=m, cv=StratifiedKFold(3)) for m in METHODS]
    + [Calibrate(registry["logreg"](), cv=StratifiedKFold(3))]
    + [Calibrate(registry["catboost"](iterations=5, thread_count=1), method="sigmoid", cv=StratifiedKFold(3))],
    expected_failed_checks=stratified_expected_failures,
)
def test_calibrate_is_a_scikit_learn_estimator(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def weak():
    return weak_signal(3000, seed=0), weak_signal(2000, seed=1)


@pytest.mark.parametrize("name, method", [("lightgbm", "isotonic"), ("lightgbm", "beta"), ("hist_gb", "sigmoid")])
def test_calibration_lowers_held_out_ece_of_a_balanced_booster(weak, name, method):
    (X, y, _), (X_test, y_test, _) = weak
    params = {"lightgbm": dict(n_estimators=60, learning_rate=0.05), "hist_gb": dict(max_iter=60)}[name]
    model = registry[name](class_weight="balanced", **params)
    calibrated = Calibrate(model, method=method).fit(X, y)
    raw = calibrated.estimators_[0].predict_proba(X_test)
    ece_raw = expected_calibration_error(y_test, raw)
    ece_calibrated = expected_calibration_error(y_test, calibrated.predict_proba(X_test))
    assert ece_raw > 0.1  # class re-weighting inflates P(buy) well above the 30% base rate
    assert ece_calibrated < ece_raw / 2


def test_temporal_split_fits_model_on_first_rows_and_calibrator_on_last(weak):
    (X, y, _), _ = weak
    with capture_logs() as logs:
        calibrated = Calibrate(method="sigmoid", cv=0.25).fit(X, y)
    np.testing.assert_allclose(calibrated.estimators_[0].coef_, LogisticRegression().fit(X[:2250], y[:2250]).coef_)
    (event,) = [e for e in logs if e["event"] == "calibrator_fit"]
    assert event["n_calibration"] == 750 and event["n_folds"] == 1 and event["method"] == "sigmoid"
    assert event["brier_after"] <= event["brier_before"]


def test_splitter_cross_fits_one_pair_per_split_and_averages(weak):
    (X, y, _), (X_test, _, _) = weak
    calibrated = Calibrate(cv=TimeSeriesSplit(n_splits=3)).fit(X, y)
    assert len(calibrated.estimators_) == len(calibrated.calibrators_) == 3
    pairs = [cal.predict(est.predict_proba(X_test)[:, 1]) for est, cal in zip(calibrated.estimators_, calibrated.calibrators_)]
    np.testing.assert_allclose(calibrated.predict_proba(X_test)[:, 1], np.mean(pairs, axis=0))


def test_frozen_estimator_is_calibrated_on_every_row(weak):
    (X, y, _), _ = weak
    model = LogisticRegression().fit(X[:1000], y[:1000])
    calibrated = Calibrate(FrozenEstimator(model), method="temperature").fit(X[1000:], y[1000:])
    assert calibrated.estimators_[0].estimator is model


@pytest.mark.parametrize("method", METHODS)
def test_every_method_is_monotone(weak, method):
    (X, y, _), _ = weak
    calibrated = Calibrate(method=method).fit(X, y)
    grid = np.linspace(0, 1, 201)
    mapped = calibrated.calibrators_[0].predict(grid)
    assert np.all(np.diff(mapped) >= -1e-12) and mapped.min() >= 0 and mapped.max() <= 1


def test_beta_calibration_fits_a_power_map_with_non_negative_slopes():
    rng = np.random.default_rng(0)
    p = rng.random(5000)
    y = (rng.random(5000) < p**3).astype(int)  # the true map is p ** 3: a = 3, b = 0
    beta = fit_calibrator("beta", p, y, None)
    assert (beta.model_.coef_ >= 0).all()
    assert expected_calibration_error(y, beta.predict(p)) < expected_calibration_error(y, p) / 5


class _SigmoidByDefault(LogisticRegression):
    default_calibration = "sigmoid"


class _UnknownDefault(LogisticRegression):
    default_calibration = "platt"


def test_auto_uses_the_model_default_calibration(weak):
    (X, y, _), _ = weak
    assert Calibrate(_SigmoidByDefault(), method="auto").fit(X, y).method_ == "sigmoid"
    assert Calibrate(LogisticRegression(), method="auto").fit(X, y).method_ == "isotonic"
    assert Calibrate(registry["lightgbm"](n_estimators=5), method="auto").fit(X, y).method_ == "isotonic"
    assert Calibrate(registry["logreg"](), method="auto").fit(X, y).method_ == "sigmoid"  # models/logreg.py
    with pytest.raises(ValueError, match="default_calibration is 'platt'"):
        Calibrate(_UnknownDefault(), method="auto").fit(X, y)


def test_single_class_calibration_rows_fail_clearly():
    X = np.arange(40.0).reshape(-1, 1)
    y = np.r_[np.zeros(15), np.ones(5), np.zeros(5), np.ones(15)]
    with pytest.raises(ValueError, match="calibration rows hold a single class"):
        Calibrate(cv=0.2).fit(X, y)


def test_sample_weight_weights_model_and_calibrator(weak):
    (X, y, _), _ = weak
    w = np.linspace(0.5, 2.0, len(y))
    calibrated = Calibrate(method="sigmoid").fit(X, y, sample_weight=w)
    np.testing.assert_allclose(
        calibrated.estimators_[0].coef_, LogisticRegression().fit(X[:2400], y[:2400], sample_weight=w[:2400]).coef_
    )
    unweighted = Calibrate(method="sigmoid").fit(X, y)
    assert calibrated.calibrators_[0].a_ != unweighted.calibrators_[0].a_


def test_pandas_and_string_labels(weak):
    (X, y, _), _ = weak
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    calibrated = Calibrate(registry["lightgbm"](n_estimators=10)).fit(frame, np.where(y == 1, "buy", "flat"))
    assert list(calibrated.classes_) == ["buy", "flat"]
    assert list(calibrated.feature_names_in_) == list(frame.columns)
    # P(classes_[1]) = P("flat"): the calibrated probabilities follow the classes_ order
    assert calibrated.predict_proba(frame)[:, 1].mean() == pytest.approx(1 - y.mean(), abs=0.05)


def test_temperature_scaling_cannot_undo_class_reweighting(weak):
    # documented limit: temperature rescales logits around 0 and cannot move the shifted centre
    (X, y, _), (X_test, y_test, _) = weak
    model = registry["lightgbm"](class_weight="balanced", n_estimators=60, learning_rate=0.05)
    temperature = Calibrate(model, method="temperature").fit(X, y)
    raw = temperature.estimators_[0].predict_proba(X_test)
    assert expected_calibration_error(y_test, temperature.predict_proba(X_test)) > 0.5 * expected_calibration_error(y_test, raw)


def test_isotonic_keeps_the_models_ranking_inside_its_plateaus():
    from sklearn.isotonic import IsotonicRegression

    rng = np.random.default_rng(0)
    raw = rng.random(400)
    y = (rng.random(400) < 0.3).astype(int)  # no signal: isotonic pools into a few wide plateaus
    isotonic = IsotonicRegression(y_min=0, y_max=1, out_of_bounds="clip").fit(raw, y).predict(raw)
    assert np.unique(isotonic).size < 20
    calibrated = fit_calibrator("isotonic", raw, y, None).predict(raw)
    order = np.argsort(raw)
    assert np.all(np.diff(calibrated[order]) > 0)  # the raw ranking survives inside every plateau
    np.testing.assert_allclose(calibrated, isotonic, rtol=0, atol=1e-6)
