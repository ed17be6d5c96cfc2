"""No trade without an edge (issue 18): the cost per trade in θ, and the edge test that can make θ "no trade"."""

import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import mannwhitneyu
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from structlog.testing import capture_logs

from cvn_sklearn import CalibratedThetaClassifier, ThetaSweep, theta_sweep
from cvn_sklearn.contracts import Datasets
from cvn_sklearn.datasets import labelled_dataset
from cvn_sklearn.events import EVENTS
from cvn_sklearn.harness import train_one
from cvn_sklearn.threshold import NO_TRADE_THETA

NO_CAP = {"max_positive_rate_ratio": None}

# ---------------------------------------------------------------- cost per trade


def test_cost_is_paid_per_trade_hand_computed():
    # 4 rows, one of them a big winner: gross, every trade adds return; net of 0.002, only the winner pays.
    y, p = [0, 0, 1, 1], [0.2, 0.4, 0.6, 0.8]
    r = np.array([0.001, 0.001, 0.001, 0.010])
    gross = theta_sweep(y, p, objective="expected_return", returns=r, constraints=NO_CAP, edge_test=None)
    net = theta_sweep(y, p, objective="expected_return", returns=r, constraints=NO_CAP, edge_test=None, cost=0.002)
    # gross: all 4 rows, (0.001 * 3 + 0.010) / 4; θ in the gap (0, 0.2] without 0.5: its middle
    assert gross.n_positives == 4 and gross.theta == 0.1
    assert gross.objective_value == pytest.approx(0.013 / 4, rel=1e-12)
    # net: the curve (ascending θ) is (0.013 - 4c, 0.012 - 3c, 0.011 - 2c, 0.010 - c) / 4
    assert net.scores == pytest.approx(np.array([0.005, 0.006, 0.007, 0.008]) / 4, rel=1e-12)
    assert net.n_positives == 1 and net.theta == pytest.approx(0.7)
    assert net.objective_value == pytest.approx(0.002, rel=1e-12)


@pytest.mark.parametrize("objective", ["expected_return", "sortino"])
def test_cost_matches_the_net_strategy_computed_by_hand(objective):
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 60)
    p = rng.random(60)
    r = rng.normal(0.001, 0.01, 60)
    cost = 0.003
    result = theta_sweep(y, p, objective=objective, returns=r, cost=cost, constraints=NO_CAP, edge_test=None)
    for v, score in zip(result.thresholds, result.scores):
        strategy = np.where(p >= v, r - cost, 0.0)
        if objective == "expected_return":
            expected = strategy.mean()
        else:
            with np.errstate(divide="ignore"):
                expected = strategy.mean() / np.sqrt(np.mean(np.minimum(strategy, 0.0) ** 2))
        assert score == pytest.approx(expected, rel=1e-9)


def test_cost_must_be_non_negative():
    with pytest.raises(ValueError, match="cost"):
        theta_sweep([0, 1], [0.2, 0.8], cost=-0.001)
    with pytest.raises(ValueError, match="cost"):
        ThetaSweep(cost=-1.0).fit(np.zeros((50, 1)), np.arange(50) % 2)


# ---------------------------------------------------------------- the edge test


def test_perfectly_separated_rows_trade():
    y = np.repeat([0, 1], 20)
    p = np.r_[np.linspace(0.05, 0.4, 20), np.linspace(0.6, 0.95, 20)]
    result = theta_sweep(y, p)
    assert not result.no_edge and result.n_positives == 20 and result.theta == 0.5
    assert result.edge["auc"] == 1.0 and result.edge["p_value"] < 1e-6 and result.edge["reason"] == ""


def test_shuffled_labels_do_not_trade():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 3000)
    p = rng.random(3000)
    result = theta_sweep(y, p)
    assert result.no_edge and result.theta == NO_TRADE_THETA == np.nextafter(1.0, 2.0) and result.theta > p.max()
    assert result.n_positives == 0 and result.positive_rate == 0.0 and result.objective_value == 0.0
    assert result.edge["reason"] == "ranking" and result.edge["p_value"] >= 0.05
    assert result.edge["auc"] == pytest.approx(roc_auc_score(y, p), rel=1e-12)
    assert result.edge["p_value"] == pytest.approx(
        mannwhitneyu(p[y == 1], p[y == 0], alternative="greater", method="asymptotic").pvalue
    )
    # the curve is kept as swept, so the θ curve can still be drawn
    assert len(result.thresholds) == 3000 and result.feasible.any()
    # edge_test=None restores the θ of the sweep, which the evidence names
    old = theta_sweep(y, p, edge_test=None)
    assert not old.no_edge and old.theta == result.edge["theta_tested"] < 1.0
    assert old.n_positives == result.edge["n_positives_tested"] > 0


def test_no_trade_estimator_predicts_no_buy():
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(3000, 4)), rng.integers(0, 2, 3000)
    clf = ThetaSweep().fit(X, y)
    assert clf.theta_result_.no_edge and clf.theta_ == NO_TRADE_THETA
    assert (clf.predict(X) == 0).all()
    clf_old = ThetaSweep(edge_test=None).fit(X, y)
    assert clf_old.theta_ < 1.0 and (clf_old.predict(X) == 1).any()
    json.dumps({"theta": clf.theta_, **clf.theta_result_.edge}, allow_nan=False)  # finite θ: valid JSON


def test_a_good_ranking_losing_money_after_costs_does_not_trade():
    y = np.repeat([0, 1], 50)
    p = np.r_[np.linspace(0.05, 0.4, 50), np.linspace(0.6, 0.95, 50)]
    r = np.where(y == 1, 0.001, -0.002)  # the buys earn 10 bps gross
    assert not theta_sweep(y, p, returns=r).no_edge
    result = theta_sweep(y, p, returns=r, cost=0.0015)  # ... and lose 5 bps net of costs
    assert result.no_edge and result.edge["reason"] == "after_costs" and result.edge["auc"] == 1.0
    assert result.edge["mean_net_return"] == pytest.approx(-0.0005) and result.theta == NO_TRADE_THETA
    losing = theta_sweep(y, p, returns=-np.abs(r))  # any objective: f1 here
    assert losing.no_edge and losing.edge["reason"] == "after_costs"
    assert not theta_sweep(y, p, returns=-np.abs(r), edge_test=None).no_edge


def test_edge_alpha_is_the_level_of_the_test():
    y = np.array([0, 0, 1, 0, 1, 1, 0, 1])
    p = [0.1, 0.2, 0.3, 0.35, 0.6, 0.7, 0.8, 0.9]
    assert theta_sweep(y, p).no_edge  # AUC 0.75 on 8 rows: p = 0.156
    assert not theta_sweep(y, p, edge_alpha=0.2).no_edge


def test_errors_are_unchanged_by_the_edge_test():
    with pytest.raises(ValueError, match="single class"):
        theta_sweep([1, 1, 1], [0.2, 0.5, 0.9])
    with pytest.raises(ValueError, match="No θ meets the constraints"):  # constant probabilities: see below
        theta_sweep([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5], edge_test=None)
    with pytest.raises(ValueError, match="edge_test"):
        theta_sweep([0, 1], [0.2, 0.8], edge_test="t")
    with pytest.raises(ValueError, match="edge_scores has 1 rows"):
        theta_sweep([0, 1], [0.2, 0.8], edge_scores=[0.1])


def test_calibrator_fitted_on_the_theta_rows_is_not_evidence_of_an_edge():
    # The frozen model ranks the validation rows backwards. A Platt calibrator fitted on those same
    # rows flips the ranking (negative slope), so the calibrated P(buy) looks like a perfect signal;
    # the edge test reads the raw scores and finds none.
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 1))
    model = LogisticRegression().fit(x, (x[:, 0] > 0).astype(int))
    x_val = rng.normal(size=(400, 1))
    y_val = (x_val[:, 0] < 0).astype(int)
    clf = CalibratedThetaClassifier(FrozenEstimator(model), calibration="sigmoid").fit(x_val, y_val)
    calibrated = clf.predict_proba(x_val)[:, 1]
    assert roc_auc_score(y_val, calibrated) > 0.99  # the calibrator's flip...
    assert not theta_sweep(y_val, calibrated).no_edge  # ... which a test on calibrated scores would take
    assert clf.theta_result_.no_edge and clf.theta_result_.edge["auc"] < 0.01
    assert (clf.predict(x_val) == 0).all()
    assert not hasattr(clf.estimator_.estimator_, "_held_out_raw")  # the raw scores are not kept in the model


def test_no_edge_event_carries_the_evidence():
    rng = np.random.default_rng(2)
    X, y = rng.normal(size=(2000, 3)), rng.integers(0, 2, 2000)
    with capture_logs() as logs:
        clf = ThetaSweep(cost=0.001).fit(X, y, returns=rng.normal(0, 0.01, 2000))
    names = [e["event"] for e in logs]
    assert names.index("no_edge") == names.index("theta_picked") - 1
    (event,) = [e for e in logs if e["event"] == "no_edge"]
    assert set(event) - {"event", "log_level"} == set(EVENTS["no_edge"].__annotations__)
    assert event["model_type"] == "LogisticRegression" and event["objective"] == "f1"
    for key, value in clf.theta_result_.edge.items():
        assert event[key] == value
    assert event["test"] == "auc" and event["alpha"] == 0.05 and event["cost"] == 0.001 and event["n_val"] == 400
    (picked,) = [e for e in logs if e["event"] == "theta_picked"]
    assert picked["theta"] == NO_TRADE_THETA and picked["n_positives_val"] == 0


def test_a_positive_edge_emits_no_no_edge_event():
    y = np.arange(200) % 2
    X = (y + np.random.default_rng(0).normal(0, 0.3, 200))[:, None]
    with capture_logs() as logs:
        ThetaSweep(cv=0.5).fit(X, y)
    assert "no_edge" not in [e["event"] for e in logs]


# ---------------------------------------------------------------- the measured goal, on real prices

SYMBOLS = ("goog", "sp500", "aapl", "msft", "eurusd")
MODELS = {"lightgbm": {"n_estimators": 30}, "xgboost": {"n_estimators": 30}, "logreg": {}}


@pytest.fixture(scope="module")
def real_rows():
    return {symbol: labelled_dataset(symbol) for symbol in SYMBOLS}


def _fit(model, data, X):
    with capture_logs():
        return train_one(model, Datasets.temporal_split(X, data.y, returns=data.returns), MODELS[model], n_jobs=1)


def test_uninformative_features_on_real_prices_do_not_trade(real_rows):
    """Issue 18's goal: >= 90% of default fits on features carrying no information trade <= 2% of test rows.

    5 symbols x 2 seeds x 3 models = 30 default fits (isotonic calibration, F1, val returns given). With
    edge_test=None each of them trades 12-36% of the test rows.
    """
    rates = []
    for symbol, data in real_rows.items():
        for seed in range(2):
            X = pd.DataFrame(np.random.default_rng(seed).normal(size=data.X.shape), index=data.X.index)
            for model in MODELS:
                rates.append(_fit(model, data, X).metrics_test.positive_rate)
    rates = np.array(rates)
    assert len(rates) == 30
    assert np.mean(rates <= 0.02) >= 0.9, rates


def test_a_planted_signal_on_real_prices_still_trades(real_rows):
    data = real_rows["goog"]
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=data.X.shape), index=data.X.index)
    X[0] = data.y.to_numpy() + rng.normal(size=len(X))  # the label plus noise: AUC ~0.76
    for model in MODELS:
        artifact = _fit(model, data, X)
        result = artifact.estimator.theta_result_
        assert not result.no_edge and result.edge["p_value"] < 1e-6 and result.edge["mean_net_return"] > 0
        assert artifact.threshold < 1.0 and artifact.metrics_test.positive_rate > 0.1


def test_constant_probabilities_without_an_edge_are_no_trade_not_an_error():
    # a blend that predicts the base rate (stack_nonneg with every weight 0): no θ meets the cap, and no ranking
    y = np.array([0, 1] * 50)
    result = theta_sweep(y, np.full(100, 0.5))
    assert result.no_edge and result.theta > 1 and result.n_positives == 0
    assert result.edge["reason"] == "ranking (and no θ meets the constraints)" and np.isnan(result.edge["theta_tested"])
    with pytest.raises(ValueError, match="No θ meets the constraints"):  # without the edge test: the error, as before
        theta_sweep(y, np.full(100, 0.5), edge_test=None)
    # a real ranking whose θ cannot meet the constraints stays an error (loosen them): not silently "no trade"
    with pytest.raises(ValueError, match="No θ meets the constraints"):
        theta_sweep(y, np.where(y == 1, 0.9, 0.1), constraints={"min_positives": 60})
