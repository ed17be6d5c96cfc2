import numpy as np
import pandas as pd
import pytest
import sklearn
from _weak_signal import weak_signal
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import fbeta_score, precision_score, recall_score
from sklearn.model_selection import StratifiedKFold, TimeSeriesSplit
from sklearn.utils.estimator_checks import parametrize_with_checks
from test_common import stratified_expected_failures
from structlog.testing import capture_logs

from cvn_sklearn import Calibrate, CalibratedThetaClassifier, ThetaSweep, theta_sweep
from cvn_sklearn.metrics import trading_metrics
from cvn_sklearn.registry import registry
from cvn_sklearn.threshold import ThetaConstraints

# ---------------------------------------------------------------- theta_sweep vs brute force


def _brute_force_score(objective, y, pred, returns, weights, beta):
    """The objective of one prediction vector, computed independently of theta_sweep."""
    if objective in ("f1", "fbeta"):
        return fbeta_score(y, pred, beta=1.0 if objective == "f1" else beta, sample_weight=weights, zero_division=0)
    if objective == "precision_at_recall":
        return precision_score(y, pred, sample_weight=weights, zero_division=0)
    w = np.ones(len(y)) if weights is None else weights
    strategy = np.where(pred, returns, 0.0)
    if objective == "expected_return":
        return np.sum(w * strategy) / w.sum()
    downside = np.sqrt(np.sum(w * np.minimum(strategy, 0) ** 2) / w.sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.float64(np.sum(w * strategy) / w.sum()) / downside


def _brute_force(y, p, objective, constraints, returns, weights, beta, min_recall):
    """Best candidate θ (lowest probability predicted positive) by trying every distinct value."""
    caps = [1.0, constraints.max_positive_rate]
    if constraints.max_positive_rate_ratio is not None:
        caps.append(constraints.max_positive_rate_ratio * y.mean())
    cap = min(c for c in caps if c is not None)
    scored = []
    for v in np.unique(p):
        pred = p >= v
        if pred.sum() < constraints.min_positives or pred.sum() / len(y) > cap:
            continue
        if objective == "precision_at_recall" and recall_score(y, pred, sample_weight=weights) < min_recall:
            continue
        score = _brute_force_score(objective, y, pred, returns, weights, beta)
        if not np.isnan(score):
            scored.append((v, score))
    if not scored:
        return None, None
    best = max(score for _, score in scored)
    return max(v for v, score in scored if np.isclose(score, best, rtol=1e-12, atol=0)), best


@st.composite
def _sweep_problems(draw):
    n = draw(st.integers(2, 40))
    grid = draw(st.sampled_from([None, 4, 10]))  # small grids force ties
    unit = st.floats(0, 1, allow_nan=False)
    p = [draw(st.integers(0, grid)) / grid if grid else draw(unit) for _ in range(n)]
    y = draw(st.lists(st.integers(0, 1), min_size=n, max_size=n).filter(lambda v: 0 < sum(v) < len(v)))
    returns = draw(st.lists(st.floats(-0.05, 0.05, allow_nan=False), min_size=n, max_size=n))
    weights = draw(st.one_of(st.none(), st.lists(st.integers(1, 4), min_size=n, max_size=n)))
    constraints = ThetaConstraints(
        min_positives=draw(st.integers(1, 5)),
        max_positive_rate=draw(st.one_of(st.none(), st.floats(0.05, 1.0))),
        max_positive_rate_ratio=draw(st.one_of(st.none(), st.floats(0.3, 3.0))),
    )
    objective = draw(st.sampled_from(["f1", "fbeta", "precision_at_recall", "expected_return", "sortino"]))
    arrays = np.array(y), np.array(p), np.array(returns), None if weights is None else np.array(weights, float)
    cost = draw(st.sampled_from([0.0, 0.001, 0.01]))
    return (*arrays, objective, constraints, draw(st.floats(0.25, 4.0)), draw(st.floats(0.0, 1.0)), cost)


@settings(max_examples=300, deadline=None)
@given(_sweep_problems())
def test_theta_sweep_matches_brute_force(problem):
    y, p, returns, weights, objective, constraints, beta, min_recall, cost = problem
    # the brute force trades the net returns; θ mechanics only, so the edge test is off (tests/test_edge.py tests it)
    expected_v, expected_score = _brute_force(y, p, objective, constraints, returns - cost, weights, beta, min_recall)
    kwargs = dict(objective=objective, constraints=constraints, returns=returns, sample_weight=weights)
    kwargs |= dict(beta=beta, min_recall=min_recall, cost=cost, edge_test=None)
    if expected_v is None:
        with pytest.raises(ValueError, match="No θ meets the constraints"):
            theta_sweep(y, p, **kwargs)
        return
    result = theta_sweep(y, p, **kwargs)
    chosen = result.thresholds[result.feasible & (result.thresholds == expected_v)]
    assert chosen.size == 1, "the brute-force best candidate must be feasible in the sweep too"
    np.testing.assert_array_equal(p >= result.theta, p >= expected_v)  # θ selects exactly that candidate
    assert result.objective_value == pytest.approx(expected_score, rel=1e-9)
    assert constraints.min_positives <= result.n_positives == np.sum(p >= result.theta)
    assert result.positive_rate <= result.positive_rate_cap


def test_theta_sweep_ties_go_to_the_higher_threshold():
    # θ at 0.9 and at 0.4 both give F1 = 2/3 (one hit in one trade vs two hits in four): the higher one wins.
    y = np.array([0, 0, 1, 0, 1])
    p = np.array([0.1, 0.4, 0.4, 0.4, 0.9])
    result = theta_sweep(y, p, constraints={"max_positive_rate_ratio": None}, edge_test=None)  # 5 rows: no edge test
    f1_at = dict(zip(result.thresholds, result.scores))
    assert f1_at[0.9] == f1_at[0.4] == pytest.approx(2 / 3)
    assert np.array_equal(p >= result.theta, p >= 0.9)


def test_theta_sweep_return_objectives_agree_with_trading_metrics():
    X, y, returns = weak_signal(400, seed=2)
    p = LogisticRegression().fit(X, y).predict_proba(X)[:, 1]
    curve = theta_sweep(y, p, objective="sortino", returns=returns, constraints={"max_positive_rate_ratio": None})
    for v, score in list(zip(curve.thresholds, curve.scores))[::37]:
        assert score == pytest.approx(trading_metrics(p >= v, returns, periods_per_year=1).sortino)
    expected = theta_sweep(y, p, objective="expected_return", returns=returns)
    pred = p >= expected.theta
    assert expected.objective_value == pytest.approx(returns[pred].sum() / len(y))


def test_theta_sweep_default_caps_predicted_positives_at_the_base_rate():
    X, y, _ = weak_signal(3000, seed=1)
    p = LogisticRegression(class_weight="balanced").fit(X, y).predict_proba(X)[:, 1]
    unconstrained = theta_sweep(y, p, constraints={"max_positive_rate_ratio": None})
    default = theta_sweep(y, p)
    assert unconstrained.positive_rate > 0.8  # F1 alone on a weak signal: "trade always"
    assert default.positive_rate <= y.mean()
    assert default.positive_rate_cap == pytest.approx(y.mean())


def test_theta_sweep_curve_covers_every_distinct_probability():
    y, p = np.array([0, 1, 0, 1, 1, 0]), np.array([0.2, 0.2, 0.5, 0.7, 0.9, 0.9])
    result = theta_sweep(y, p)
    np.testing.assert_array_equal(result.thresholds, [0.2, 0.5, 0.7, 0.9])
    np.testing.assert_array_equal(result.positives, [6, 4, 3, 2])
    np.testing.assert_allclose(result.precisions, [0.5, 0.5, 2 / 3, 0.5])
    np.testing.assert_allclose(result.recalls, [1, 2 / 3, 2 / 3, 1 / 3])


@pytest.mark.parametrize(
    "y, p, kwargs, match",
    [
        (None, [0.1, 0.2], {}, "y_val=None"),
        ([0, 1], None, {}, "proba_val=None"),
        ([], [], {}, "empty"),
        ([0, 1, 1], [0.2, np.nan, 0.3], {}, "NaN"),
        ([0, 1], [0.2, 1.5], {}, r"\[0, 1\]"),
        ([1, 1, 1], [0.2, 0.4, 0.6], {}, "single class"),
        ([0, 1, 1], [0.2, 0.4, 0.6], {"sample_weight": [1, 0, 0]}, "single class .*sample_weight"),
        ([0, 1, 2], [0.2, 0.4, 0.6], {}, "binary"),
        ([0, 1], [0.2, 0.4], {"objective": "sortino"}, "needs per-sample forward returns"),
        ([0, 1], [0.2, 0.4], {"objective": "auc"}, "objective must be one of"),
        ([0, 1], [0.2, 0.4], {"constraints": {"max_trades": 3}}, "Unknown constraint"),
        ([0, 1], [0.2, 0.4], {"constraints": {"min_positives": 0}}, "min_positives"),
        # 4 rows never show an edge, and without one an infeasible θ is "no trade" (tests/test_edge.py): off here
        ([0, 0, 1, 1], [0.5, 0.5, 0.5, 0.5], {"edge_test": None}, "No θ meets the constraints.*constant"),
        ([0, 0, 1, 1], [0.2, 0.6, 0.6, 0.6], {"edge_test": None}, "No θ meets the constraints.*selects 3 rows"),
    ],
)
def test_theta_sweep_errors_say_what_is_wrong(y, p, kwargs, match):
    with pytest.raises(ValueError, match=match):
        theta_sweep(y, p, **kwargs)


def test_theta_in_the_gap_is_robust_and_prefers_one_half():
    y = np.array([0, 0, 1, 1])  # 4 rows cannot pass the edge test (asymptotic one-sided p = 0.12 at best): off
    assert theta_sweep(y, [0.1, 0.3, 0.7, 0.9], edge_test=None).theta == 0.5
    assert theta_sweep(y, [0.1, 0.6, 0.7, 0.9], edge_test=None).theta == pytest.approx(0.65)


# ---------------------------------------------------------------- ThetaSweep


# A temporal hold-out cannot pass the checks that train on class-sorted labels ([0]*5 + [1]*5, iris):
# the last rows hold one class and θ cannot be tuned (a clear error, by design). The check instances
# therefore hold out rows with a stratified splitter; everything else is the default.
# A boosted model on the checks' 10-30-row data sets has a few distinct probabilities, its top leaf
# holding more rows than the default cap, hence max_positive_rate_ratio=None for that instance.
@parametrize_with_checks(
    [
        ThetaSweep(cv=StratifiedKFold(3)),
        ThetaSweep(registry["logreg"](), cv=StratifiedKFold(3)),
        ThetaSweep(registry["xgboost"](n_estimators=5, n_jobs=1), max_positive_rate_ratio=None, cv=StratifiedKFold(3)),
    ],
    expected_failed_checks=stratified_expected_failures,
)
def test_theta_sweep_is_a_scikit_learn_estimator(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def weak():
    return weak_signal(1000, seed=0)


def test_fits_on_the_first_rows_and_tunes_theta_on_the_last(weak):
    X, y, _ = weak
    clf = ThetaSweep(cv=0.25).fit(X, y)
    np.testing.assert_allclose(clf.estimator_.coef_, LogisticRegression().fit(X[:750], y[:750]).coef_)
    expected = theta_sweep(y[750:], clf.estimator_.predict_proba(X[750:]))
    assert clf.theta_ == expected.theta and clf.theta_result_.n_val == 250
    proba = clf.predict_proba(X)
    np.testing.assert_array_equal(proba, clf.estimator_.predict_proba(X))
    np.testing.assert_array_equal(clf.predict(X), (proba[:, 1] >= clf.theta_).astype(int))


def test_frozen_estimator_tunes_theta_on_every_row(weak):
    X, y, _ = weak
    model = LogisticRegression().fit(X[:500], y[:500])
    clf = ThetaSweep(FrozenEstimator(model)).fit(X[500:], y[500:])
    assert clf.theta_result_.n_val == 500
    assert clf.theta_ == theta_sweep(y[500:], model.predict_proba(X[500:])).theta


def test_non_partition_splitter_pools_out_of_sample_rows_and_refits(weak):
    X, y, _ = weak
    clf = ThetaSweep(cv=TimeSeriesSplit(n_splits=4)).fit(X, y)
    assert clf.theta_result_.n_val == 4 * (1000 // 5)
    np.testing.assert_allclose(clf.estimator_.coef_, LogisticRegression().fit(X, y).coef_)


def test_returns_and_sample_weight_reach_the_theta_objective(weak):
    X, y, returns = weak
    w = np.linspace(1, 2, len(y))
    clf = ThetaSweep(objective="sortino", min_positives=20).fit(X, y, returns=returns, sample_weight=w)
    held_out = clf.estimator_.predict_proba(X[800:])
    expected = theta_sweep(
        y[800:], held_out, objective="sortino", returns=returns[800:], sample_weight=w[800:], constraints={"min_positives": 20}
    )
    assert clf.theta_ == expected.theta
    np.testing.assert_allclose(clf.estimator_.coef_, LogisticRegression().fit(X[:800], y[:800], sample_weight=w[:800]).coef_)


def test_return_objective_without_returns_fails_clearly(weak):
    X, y, _ = weak
    with pytest.raises(ValueError, match="needs per-sample forward returns"):
        ThetaSweep(objective="expected_return").fit(X, y)


def test_emits_theta_picked(weak):
    X, y, _ = weak
    with capture_logs() as logs:
        clf = ThetaSweep().fit(X, y)
    (event,) = [e for e in logs if e["event"] == "theta_picked"]
    assert event["theta"] == clf.theta_ and event["model_type"] == "LogisticRegression"
    assert event["n_val"] == 200 and event["positive_rate_val"] == clf.theta_result_.positive_rate


def test_string_labels_and_feature_names(weak):
    X, y, _ = weak
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    labels = np.where(y == 1, "buy", "aaa_flat")
    clf = ThetaSweep(pos_label="buy").fit(frame, labels)
    assert list(clf.classes_) == ["aaa_flat", "buy"]
    assert list(clf.feature_names_in_) == list(frame.columns)
    assert set(clf.predict(frame)) <= {"aaa_flat", "buy"}


def test_temporal_holdout_with_one_class_fails_clearly():
    X = np.arange(20.0).reshape(-1, 1)
    y = np.r_[np.zeros(10), np.ones(10)]
    with pytest.raises(ValueError, match="single class"):
        ThetaSweep().fit(X, y)


@pytest.mark.parametrize("theta_weighted", [True, False])
def test_metadata_routing_weights_theta_only_when_requested(weak, theta_weighted):
    X, y, _ = weak
    w = np.linspace(1, 3, len(y))
    with sklearn.config_context(enable_metadata_routing=True):
        model = LogisticRegression().set_fit_request(sample_weight=True)
        clf = ThetaSweep(model).set_fit_request(sample_weight=theta_weighted).fit(X, y, sample_weight=w)
    held_out = clf.estimator_.predict_proba(X[800:])
    expected = theta_sweep(y[800:], held_out, sample_weight=w[800:] if theta_weighted else None)
    assert clf.theta_result_.objective_value == pytest.approx(expected.objective_value)
    np.testing.assert_allclose(clf.estimator_.coef_, LogisticRegression().fit(X[:800], y[:800], sample_weight=w[:800]).coef_)


def test_theta_sweep_defaults_do_not_trade_always_on_a_weak_signal():
    (X, y, _), (X_test, y_test, _) = weak_signal(3000, seed=0), weak_signal(2000, seed=1)
    balanced = LogisticRegression(class_weight="balanced")
    default = ThetaSweep(balanced).fit(X, y)
    unconstrained = ThetaSweep(balanced, max_positive_rate_ratio=None).fit(X, y)
    assert unconstrained.predict(X_test).mean() > 0.8
    assert 0 < default.predict(X_test).mean() <= 1.25 * y_test.mean()


def test_pos_label_tunes_theta_for_the_buy_class_whatever_its_sort_order(weak):
    X, y, _ = weak
    labels = np.where(y == 1, "buy", "hold")  # "hold" sorts last: scikit-learn's default positive class
    with pytest.raises(ValueError, match=r"buy label is not known: pass pos_label="):
        ThetaSweep().fit(X, labels)  # never guessed from the sort order
    hold = ThetaSweep(pos_label="hold").fit(X, labels)
    buy = ThetaSweep(pos_label="buy").fit(X, labels)
    assert hold.theta_result_.base_rate == pytest.approx(np.mean(labels[800:] == "hold"))
    assert buy.theta_result_.base_rate == pytest.approx(np.mean(labels[800:] == "buy"))
    numeric = ThetaSweep().fit(X, y)  # the same problem with buy = 1
    assert buy.theta_ == pytest.approx(numeric.theta_)
    assert buy.theta_result_.n_positives == numeric.theta_result_.n_positives
    np.testing.assert_array_equal(buy.predict(X) == "buy", numeric.predict(X) == 1)
    p_buy = buy.predict_proba(X)[:, list(buy.classes_).index("buy")]
    np.testing.assert_array_equal(buy.predict(X), np.where(p_buy >= buy.theta_, "buy", "hold"))
    with pytest.raises(ValueError, match=r"pos_label='sell' is not one of the labels \['buy', 'hold'\]"):
        ThetaSweep(pos_label="sell").fit(X, labels)


class _NaNProba(ClassifierMixin, BaseEstimator):
    """A broken model: NaN probabilities."""

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X):
        return np.full((len(X), 2), np.nan)


@pytest.mark.parametrize(
    "make, n_rows, match",
    [
        (lambda: ThetaSweep(_NaNProba()), 100, r"proba_val contains 20 NaN value\(s\); θ cannot be tuned.*Check the model"),
        (lambda: Calibrate(_NaNProba()), 100, r"returned 20 NaN probabilities on the 20 calibration rows.*Check the model"),
        (lambda: ThetaSweep(cv=0.99), 10, r"last 0.99 of 10 rows as θ rows leaves 0 row\(s\) before them"),
        (lambda: Calibrate(cv=0.99), 10, r"last 0.99 of 10 rows as calibration rows leaves 0 row\(s\) before them"),
        (lambda: CalibratedThetaClassifier(theta_cv=0.99), 10, r"last 0.99 of 10 rows as θ rows leaves 0 row\(s\)"),
    ],
    ids=["theta_nan", "calibrate_nan", "theta_empty", "calibrate_empty", "composed_empty"],
)
def test_meta_estimators_fail_clearly_on_nan_or_missing_held_out_rows(make, n_rows, match):
    X, y = np.random.default_rng(0).random((n_rows, 2)), np.arange(n_rows) % 2
    with pytest.raises(ValueError, match=match):
        make().fit(X, y)


@pytest.mark.parametrize("objective", ["f1", "fbeta", "precision_at_recall", "expected_return", "sortino"])
def test_objective_at_scores_thresholds_on_other_rows_as_brute_force_does(objective):
    from cvn_sklearn.threshold import objective_at

    rng = np.random.default_rng(3)
    y, p = rng.integers(0, 2, 200), rng.random(200)
    returns = np.where(y == 1, 0.01, -0.01) + rng.normal(0, 0.005, 200)
    # the validation curve's thresholds (from other rows), plus one below and one above every probability
    thresholds = np.r_[0.0, np.sort(rng.random(30)), 1.5]
    scores, rates = objective_at(y, p, thresholds, objective=objective, returns=returns, cost=0.002, beta=0.5)
    for t, score, rate in zip(thresholds, scores, rates):
        pred = p >= t
        expected = _brute_force_score(objective, y, pred, returns - 0.002, None, 0.5)
        assert rate == pred.mean()
        if pred.any():
            np.testing.assert_allclose(score, expected, rtol=1e-9, atol=1e-15)
        else:  # nothing selected: what trading nothing scores (Sortino of all-zero returns: NaN)
            assert score == 0.0 or (objective == "sortino" and np.isnan(score))


def test_objective_at_refuses_an_unknown_objective_and_missing_returns():
    from cvn_sklearn.threshold import objective_at

    with pytest.raises(ValueError, match="objective must be one of"):
        objective_at([0, 1], [0.2, 0.8], [0.5], objective="sortno")
    with pytest.raises(ValueError, match="needs per-sample forward returns"):
        objective_at([0, 1], [0.2, 0.8], [0.5], objective="sortino")
