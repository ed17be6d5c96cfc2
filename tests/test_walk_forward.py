import numpy as np
import pandas as pd
import pytest
import structlog
from hamilton.plugins.h_dask import DaskExecutor
from sklearn.datasets import make_classification
from sklearn.model_selection import TimeSeriesSplit
from structlog.testing import capture_logs

from sklearn.frozen import FrozenEstimator

from cvn_sklearn.contracts import FeatureVersion
from cvn_sklearn.harness import walk_forward
from cvn_sklearn.model_selection import WalkForwardSplit, oos_predict
from cvn_sklearn.pipeline import CalibratedThetaClassifier
from cvn_sklearn.registry import registry

XGB = dict(n_estimators=10, n_jobs=1)


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(n_samples=500, n_features=5, weights=[0.6], random_state=0)
    return pd.DataFrame(X, columns=[f"f{i}" for i in range(5)]), pd.Series(y)


@pytest.mark.parametrize(
    "name, params, calibration, objective",
    [("xgboost", XGB, "sigmoid", "f1"), ("logreg", {}, None, None)],
)
def test_walk_forward_predicts_each_test_block_with_the_row_policy_of_its_fold(data, name, params, calibration, objective):
    X, y = data
    cv = WalkForwardSplit(4, test_size=80, gap=5)
    result = walk_forward(name, X, y, cv=cv, hpo_params=params, calibration=calibration, objective=objective)
    expected = np.full((len(y), 2), np.nan)
    for fold in result.folds:
        model = registry[name](**params).fit(X.iloc[fold.fit], y.iloc[fold.fit])
        if calibration is not None:
            model = CalibratedThetaClassifier(FrozenEstimator(model), calibration=calibration, objective=objective)
            model.fit(X.iloc[fold.val], y.iloc[fold.val])
        expected[fold.test] = model.predict_proba(X.iloc[fold.test])
    np.testing.assert_array_equal(result.covered, ~np.isnan(expected[:, 0]))
    np.testing.assert_allclose(result.predictions, expected)
    # the raw model alone: oos_predict on (fit rows, test block) splits gives the same predictions
    if calibration is None:
        splits = [(fold.fit, fold.test) for fold in result.folds]
        np.testing.assert_allclose(result.predictions, oos_predict(registry[name](**params), X, y, cv=splits).predictions)


def test_walk_forward_keeps_one_artifact_per_fold(data):
    X, y = data
    cv = TimeSeriesSplit(3, test_size=100)
    result = walk_forward("logreg", X, y, cv=cv, calibration="sigmoid")
    splits = list(cv.split(X, y))
    assert len(result.artifacts) == 3 and result.thresholds.shape == (3,)
    for artifact, fold, (train, test) in zip(result.artifacts, result.folds, splits):
        np.testing.assert_array_equal(fold.test, test)
        np.testing.assert_array_equal(np.r_[fold.fit, fold.val], train)  # TimeSeriesSplit: gap 0
        assert artifact.dataset_shape.n_train == len(fold.fit) and artifact.metrics_val.n == len(fold.val)
        assert artifact.metrics_test.n == len(test)
        assert artifact.feature_version == FeatureVersion.of(X)
        assert artifact.selected_features == tuple(X.columns)


def test_walk_forward_binds_the_fold_to_every_event(data):
    X, y = data
    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
        walk_forward("logreg", X, y, cv=TimeSeriesSplit(2, test_size=100), calibration=None)
    complete = [e for e in logs if e["event"] == "training_complete"]
    assert [e["fold"] for e in complete] == [0, 1]
    assert all("fold" in e for e in logs)


def test_walk_forward_passes_returns_to_return_objectives(data):
    X, y = data
    returns = np.where(y == 1, 0.01, -0.01) + np.random.RandomState(0).normal(0, 0.001, len(y))
    result = walk_forward(
        "logreg",
        X,
        y,
        cv=TimeSeriesSplit(2, test_size=100),
        returns=returns,
        calibration="sigmoid",
        objective="expected_return",
    )
    assert all(0.0 < theta < 1.0 for theta in result.thresholds)


def test_walk_forward_rejects_unknown_constraints(data):
    X, y = data
    with pytest.raises(ValueError, match="Unknown θ constraints"):
        walk_forward("logreg", X, y, cv=2, constraints={"n_trades": 1})


def test_walk_forward_on_a_dask_cluster_equals_in_process(data):
    from dask.distributed import Client, LocalCluster

    X, y = data
    cv = WalkForwardSplit(3, test_size=100)
    local = walk_forward("logreg", X, y, cv=cv, calibration="sigmoid")
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        distributed = walk_forward("logreg", X, y, cv=cv, calibration="sigmoid", executor=DaskExecutor(client=client))
    np.testing.assert_allclose(distributed.predictions, local.predictions)
    assert [a.threshold for a in distributed.artifacts] == [a.threshold for a in local.artifacts]


def test_walk_forward_refuses_overlapping_test_sets(data):
    from sklearn.model_selection import ShuffleSplit

    X, y = data
    cv = ShuffleSplit(3, test_size=0.4, random_state=0)
    with pytest.raises(ValueError, match="WalkForwardSplit"):
        walk_forward("logreg", X, y, cv=cv, calibration=None)
    with pytest.raises(ValueError, match="more than one test set"):
        walk_forward("logreg", X, y, cv=cv, calibration=None, allow_future_rows=True)


def test_walk_forward_purges_overlapping_labels_before_the_val_rows_and_the_test_block(data):
    X, y = data
    t1 = np.minimum(np.arange(len(y)) + 30, len(y) - 1)
    result = walk_forward("logreg", X, y, cv=WalkForwardSplit(2, test_size=100), t1=t1, calibration=None, objective=None)
    for fold in result.folds:
        assert t1[fold.fit].max() < fold.val[0] and t1[fold.val].max() < fold.test[0]
    assert [a.dataset_shape.n_train for a in result.artifacts] == [len(fold.fit) for fold in result.folds]
    folds = list(WalkForwardSplit(2, test_size=100).split(X, t1=t1))  # precomputed folds work as well
    precomputed = walk_forward("logreg", X, y, cv=folds, gap=30, calibration=None, objective=None)
    np.testing.assert_array_equal(precomputed.predictions, result.predictions)


def test_walk_forward_reads_an_int_cv_as_walk_forward_folds(data):
    X, y = data
    result = walk_forward("logreg", X, y, cv=4, calibration=None, objective=None)
    expected = walk_forward("logreg", X, y, cv=WalkForwardSplit(4), calibration=None, objective=None)
    assert [len(t) for t in result.test_indices] == [100] * 4 and not result.covered[:100].any()
    np.testing.assert_array_equal(result.predictions, expected.predictions)
