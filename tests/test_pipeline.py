import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sklearn
from _weak_signal import weak_signal
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold, TimeSeriesSplit, TunedThresholdClassifierCV
from sklearn.model_selection import cross_val_predict
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks
from test_common import stratified_expected_failures
from structlog.testing import capture_logs

from cvn_sklearn import Calibrate, CalibratedThetaClassifier, ThetaSweep, make_pipeline
from cvn_sklearn.registry import registry

# Stratified hold-outs for the checks (see the note in test_threshold.py), and sigmoid or temperature
# calibration: on the checks' 20-row data sets isotonic plateaus can exceed the positive-rate cap.
SPLITS = dict(calibration_cv=StratifiedKFold(2), theta_cv=StratifiedKFold(3))


@parametrize_with_checks(
    [
        CalibratedThetaClassifier(calibration="sigmoid", **SPLITS),
        CalibratedThetaClassifier(registry["logreg"](), calibration="temperature", **SPLITS),
        # boosted on 10-30 rows: few distinct probabilities, see the note in test_threshold.py
        CalibratedThetaClassifier(
            registry["catboost"](iterations=5, thread_count=1), calibration="sigmoid", max_positive_rate_ratio=None, **SPLITS
        ),
    ],
    expected_failed_checks=stratified_expected_failures,
)
def test_calibrated_theta_classifier_is_a_scikit_learn_estimator(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def weak():
    return weak_signal(2000, seed=0)


# ---------------------------------------------------------------- the held-out design


def test_model_calibrator_and_theta_use_successive_disjoint_rows(weak):
    X, y, _ = weak
    clf = CalibratedThetaClassifier(calibration="sigmoid").fit(X, y)
    # 2000 rows: θ on the last 400, calibration on the 320 before, the model on the first 1280
    np.testing.assert_allclose(clf.estimators_[0].coef_, LogisticRegression().fit(X[:1280], y[:1280]).coef_)
    raw = clf.estimators_[0].predict_proba(X)[:, 1]
    reference = Calibrate(method="sigmoid").fit(X[:1600], y[:1600]).calibrators_[0]
    assert clf.calibrators_[0].a_ == pytest.approx(reference.a_)
    assert clf.theta_result_.n_val == 400
    np.testing.assert_allclose(clf.predict_proba(X)[:, 1], reference.predict(raw))


def test_equals_theta_sweep_around_calibrate(weak):
    X, y, _ = weak
    composed = CalibratedThetaClassifier(calibration="beta", calibration_cv=0.3, theta_cv=0.25).fit(X, y)
    nested = ThetaSweep(Calibrate(method="beta", cv=0.3), cv=0.25).fit(X, y)
    assert composed.theta_ == nested.theta_
    np.testing.assert_allclose(composed.predict_proba(X), nested.predict_proba(X))
    np.testing.assert_array_equal(composed.predict(X), nested.predict(X))


def test_early_stopping_rows_come_from_the_model_rows_only(weak):
    X, y, _ = weak
    model = registry["lightgbm"](n_estimators=200, early_stopping_rounds=5, validation_fraction=0.25)
    clf = CalibratedThetaClassifier(model).fit(X, y)
    alone = clone(model).fit(X[:1280], y[:1280])  # the model's own 25% are rows 960..1279
    assert clf.estimators_[0].best_iteration_ == alone.best_iteration_
    np.testing.assert_allclose(clf.estimators_[0].predict_proba(X), alone.predict_proba(X))


def test_refit_keeps_calibrator_and_theta_and_refits_on_every_row(weak):
    X, y, _ = weak
    held_out = CalibratedThetaClassifier(calibration="sigmoid").fit(X, y)
    refitted = CalibratedThetaClassifier(calibration="sigmoid", refit=True).fit(X, y)
    assert refitted.theta_ == held_out.theta_
    assert refitted.calibrators_[0].a_ == held_out.calibrators_[0].a_
    np.testing.assert_allclose(refitted.estimators_[0].coef_, LogisticRegression().fit(X, y).coef_)


# ---------------------------------------------------------------- the over-trading regression

BOOSTERS = {
    "xgboost": dict(n_estimators=60, learning_rate=0.1, max_depth=3),
    "lightgbm": dict(n_estimators=60, learning_rate=0.1, num_leaves=15),
    "catboost": dict(iterations=60, learning_rate=0.1, depth=4),
}
TOLERANCE = 1.25  # test rows may trade up to 25% above the cap set on the θ rows


@pytest.fixture(scope="module")
def over_trading_data():
    return weak_signal(3000, seed=0), weak_signal(2000, seed=1)


def test_scikit_learn_threshold_tuning_trades_always_on_this_data(over_trading_data):
    (X, y, _), (X_test, y_test, _) = over_trading_data
    model = LogisticRegression(class_weight="balanced")
    naive = TunedThresholdClassifierCV(CalibratedClassifierCV(model, cv=3), scoring="f1", cv=3).fit(X, y)
    assert naive.predict(X_test).mean() > 0.8 > 2 * y_test.mean()


@pytest.mark.parametrize("cap", [{}, {"max_positive_rate": 0.1}], ids=["default_base_rate_cap", "max_rate_0.1"])
@pytest.mark.parametrize("name", sorted(BOOSTERS))
def test_tuned_theta_does_not_over_trade_under_class_reweighting(over_trading_data, name, cap):
    (X, y, _), (X_test, y_test, _) = over_trading_data
    model = registry[name](class_weight="balanced", **BOOSTERS[name])
    clf = make_pipeline(Calibrate(), ThetaSweep(**cap), model).fit(X, y)
    result = clf[-1].theta_result_
    assert result.positive_rate_cap == pytest.approx(cap.get("max_positive_rate", result.base_rate))
    assert result.positive_rate <= result.positive_rate_cap
    assert 0 < clf.predict(X_test).mean() <= TOLERANCE * result.positive_rate_cap


# ---------------------------------------------------------------- make_pipeline


def test_make_pipeline_composes_wrappers_in_a_fixed_order():
    model = LogisticRegression(C=0.5)
    for steps in [(Calibrate(method="beta"), ThetaSweep(objective="fbeta", beta=0.5)),
                  (ThetaSweep(objective="fbeta", beta=0.5), Calibrate(method="beta"))]:
        pipe = make_pipeline(StandardScaler(), *steps, model)
        assert isinstance(pipe, Pipeline) and [n for n, _ in pipe.steps] == ["standardscaler", "calibratedthetaclassifier"]
        final = pipe[-1]
        assert (final.calibration, final.objective, final.beta, final.estimator) == ("beta", "fbeta", 0.5, model)


def test_make_pipeline_with_one_wrapper_or_none():
    model = LogisticRegression()
    calibrated = make_pipeline(Calibrate(cv=0.3), model).set_params(calibrate__method="beta", calibrate__estimator__C=2.0)
    assert (calibrated[-1].method, calibrated[-1].cv, calibrated[-1].estimator.C) == ("beta", 0.3, 2.0)
    assert make_pipeline(ThetaSweep(), model)[-1].estimator is model
    assert make_pipeline(StandardScaler(), model)[-1] is model


@pytest.mark.parametrize(
    "steps, match",
    [
        ((Calibrate(), ThetaSweep()), "classifier as its last step"),
        ((Calibrate(LogisticRegression()), LogisticRegression()), "without an estimator"),
        ((Calibrate(), StandardScaler(), LogisticRegression()), "put transformers first"),
        ((Calibrate(), Calibrate(), LogisticRegression()), "may appear once"),
        ((), "classifier as its last step"),
    ],
)
def test_make_pipeline_errors(steps, match):
    with pytest.raises(ValueError, match=match):
        make_pipeline(*steps)


@pytest.fixture(scope="module")
def frame_data(weak):
    X, y, returns = weak
    frame = pd.DataFrame(X, columns=[f"feature_{i}" for i in range(X.shape[1])])
    return frame, np.where(y == 1, "buy", "hold"), returns


def _pipe(**params):
    params = {"pos_label": "buy", **params}
    return make_pipeline(StandardScaler(), Calibrate(method="sigmoid"), ThetaSweep(**params), LogisticRegression())


def test_pipeline_clone_pickle_pandas_and_string_labels(frame_data):
    frame, labels, _ = frame_data
    pipe = clone(_pipe()).fit(frame, labels)
    assert list(pipe.classes_) == ["buy", "hold"]
    assert list(pipe.feature_names_in_) == list(frame.columns)
    bare = make_pipeline(Calibrate(), ThetaSweep(pos_label="buy"), LogisticRegression()).fit(frame, labels)
    assert list(bare[-1].feature_names_in_) == list(frame.columns)
    assert "CalibratedThetaClassifier" in pipe._repr_html_() and "LogisticRegression" in pipe._repr_html_()
    restored = pickle.loads(pickle.dumps(pipe))
    np.testing.assert_array_equal(restored.predict(frame), pipe.predict(frame))
    np.testing.assert_allclose(restored.predict_proba(frame), pipe.predict_proba(frame))


def test_pipeline_cross_val_predict_and_grid_search(frame_data):
    frame, labels, _ = frame_data
    # cross_val_predict(method="predict_proba") label-encodes y before fitting: 0/1 labels there
    oos = cross_val_predict(_pipe(pos_label=1), frame, (labels == "buy").astype(int), cv=5, method="predict_proba")
    assert oos.shape == (len(labels), 2) and np.allclose(oos.sum(axis=1), 1)
    grid = {"calibratedthetaclassifier__estimator__C": [0.1, 1.0], "calibratedthetaclassifier__calibration": ["sigmoid", "beta"]}
    search = GridSearchCV(_pipe(), grid, cv=StratifiedKFold(2), scoring="f1_macro").fit(frame, labels)
    assert set(search.best_params_) == set(grid)
    assert search.best_estimator_[-1].estimator.C in (0.1, 1.0)


def test_grid_search_over_a_registry_models_native_parameter(weak):
    X, y, _ = weak
    pipe = make_pipeline(Calibrate(method="sigmoid"), ThetaSweep(), registry["lightgbm"](n_estimators=20, n_jobs=1))
    grid = {"calibratedthetaclassifier__estimator__learning_rate": [0.05, 0.1]}
    search = GridSearchCV(pipe, grid, cv=StratifiedKFold(2), scoring="neg_log_loss").fit(X, y)
    best = search.best_params_["calibratedthetaclassifier__estimator__learning_rate"]
    assert search.best_estimator_[-1].estimators_[0].native_.get_params()["learning_rate"] == best
    scores = search.cv_results_["mean_test_score"]
    assert scores[0] != scores[1]  # the parameter reached the booster and changed its fit


def test_grid_search_over_the_calibration_method_of_a_single_wrapper(weak):
    X, y, _ = weak
    grid = {"calibrate__method": ["sigmoid", "beta"]}
    search = GridSearchCV(make_pipeline(Calibrate(), LogisticRegression()), grid, cv=StratifiedKFold(2)).fit(X, y)
    assert [p["calibrate__method"] for p in search.cv_results_["params"]] == ["sigmoid", "beta"]
    assert search.best_estimator_[-1].method_ == search.best_params_["calibrate__method"]


def test_returns_reach_theta_through_the_pipeline(frame_data):
    frame, labels, returns = frame_data
    pipe = _pipe(objective="expected_return", min_positives=10)
    pipe.fit(frame, labels, calibratedthetaclassifier__returns=returns)
    result = pipe[-1].theta_result_
    calibrated = pipe[-1].predict_proba(pipe[:-1].transform(frame.iloc[1600:]))[:, 0]  # P("buy"), classes_[0]
    expected = returns[1600:][calibrated >= result.theta].sum() / 400
    assert result.objective_value == pytest.approx(expected)


def test_metadata_routing_sends_weights_and_returns_where_requested(weak):
    X, y, returns = weak
    w = np.linspace(0.5, 2.0, len(y))
    with sklearn.config_context(enable_metadata_routing=True):
        model = LogisticRegression().set_fit_request(sample_weight=True)
        clf = CalibratedThetaClassifier(model, calibration="sigmoid", objective="sortino", min_positives=10)
        clf.set_fit_request(sample_weight=True, returns=True)
        scaler = StandardScaler().set_fit_request(sample_weight=False)
        pipe = Pipeline([("scale", scaler), ("clf", clf)]).fit(X, y, sample_weight=w, returns=returns)
        with pytest.raises(ValueError, match="returns"):
            Pipeline([("clf", CalibratedThetaClassifier(objective="sortino"))]).fit(X, y, returns=returns)
    scaled = StandardScaler().fit_transform(X)
    expected = LogisticRegression().fit(scaled[:1280], y[:1280], sample_weight=w[:1280])
    np.testing.assert_allclose(pipe[-1].estimators_[0].coef_, expected.coef_)
    assert pipe[-1].theta_result_.objective == "sortino"


def test_non_partition_splitters_for_both_hold_outs(weak):
    X, y, _ = weak
    clf = CalibratedThetaClassifier(calibration_cv=TimeSeriesSplit(3), theta_cv=TimeSeriesSplit(3)).fit(X, y)
    assert len(clf.calibrators_) == 3
    assert clf.theta_result_.n_val == 3 * (2000 // 4)


def test_events_name_the_model_inside_the_wrappers(weak):
    X, y, _ = weak
    with capture_logs() as logs:
        CalibratedThetaClassifier(registry["lightgbm"](n_estimators=10), calibration="sigmoid").fit(X, y)
    mine = {e["event"]: e for e in logs if e["event"] in ("calibrator_fit", "theta_picked")}
    assert mine["calibrator_fit"]["model_type"] == mine["theta_picked"]["model_type"] == "lightgbm"
    assert mine["calibrator_fit"]["n_calibration"] == 320 and mine["theta_picked"]["n_val"] == 400


def test_pos_label_reaches_theta_through_make_pipeline(frame_data):
    frame, labels, _ = frame_data  # "buy" / "hold": "hold" sorts last
    # The weak signal's 400 θ rows show AUC 0.55 (one-sided p = 0.064): the default edge test says "no trade".
    # This test is about the buy label reaching θ, so the edge test is off (and that parameter must reach θ too).
    sweep = ThetaSweep(pos_label="buy", edge_test=None)
    pipe = make_pipeline(StandardScaler(), Calibrate(method="sigmoid"), sweep, LogisticRegression())
    pipe.fit(frame, labels)
    assert pipe.get_params()["calibratedthetaclassifier__pos_label"] == "buy"
    assert pipe.get_params()["calibratedthetaclassifier__edge_test"] is None
    result = pipe[-1].theta_result_
    assert result.base_rate == pytest.approx(np.mean(labels[1600:] == "buy"))
    p_buy = pipe.predict_proba(frame)[:, list(pipe.classes_).index("buy")]
    np.testing.assert_array_equal(pipe.predict(frame), np.where(p_buy >= result.theta, "buy", "hold"))
    assert 0 < np.mean(pipe.predict(frame) == "buy") <= 1.25 * np.mean(labels == "buy")


def test_metadata_routing_enabled_without_any_metadata_fits():
    # process_routing returns an object whose __getitem__ never raises when no metadata is passed, so
    # a membership test on it looped forever: Calibrate().fit(X, y) hung under enable_metadata_routing.
    # A subprocess, so that a regression fails on its timeout instead of hanging the suite.
    code = textwrap.dedent("""\
        import numpy as np, sklearn
        from sklearn.datasets import make_classification
        from cvn_sklearn import Calibrate, CalibratedThetaClassifier, ThetaSweep, make_pipeline
        X, y = make_classification(n_samples=300, random_state=0)
        with sklearn.config_context(enable_metadata_routing=True):
            for est in (Calibrate(), ThetaSweep(), CalibratedThetaClassifier(),
                        make_pipeline(Calibrate(method="sigmoid"), ThetaSweep(), sklearn.linear_model.LogisticRegression())):
                est.fit(X, y)
        print("fitted")
    """)
    repo = Path(__file__).resolve().parents[1]
    result = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PYTHONPATH": str(repo)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "fitted"
