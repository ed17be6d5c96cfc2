import dataclasses
import pickle
import shutil

import numpy as np
import pytest
from sklearn.datasets import make_classification
from structlog.testing import capture_logs
from test_events import SMALL, STRUCTLOG_KEYS, assert_matches_schema

from cvn_sklearn import dags, harness
from cvn_sklearn.calibration import Calibrate
from cvn_sklearn.contracts import Datasets, TrainedArtifact, meta_features
from cvn_sklearn.events import EVENTS
from cvn_sklearn.metrics import evaluate
from cvn_sklearn.pipeline import CalibratedThetaClassifier
from cvn_sklearn.registry import registry
from cvn_sklearn.threshold import ThetaSweep


def small_params(name):
    """Fast constructor parameters for any registry entry (ensembles get two quick base models)."""
    if name in registry.ensembles:
        return {"base_models": ["logreg", "extra_trees"]}
    return SMALL.get(name, {})


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(n_samples=400, n_features=6, weights=[0.65], random_state=0)
    return Datasets.temporal_split(X, y)


@pytest.mark.parametrize(
    "calibration, objective, wrapper",
    [
        ("isotonic", "f1", CalibratedThetaClassifier),
        ("sigmoid", None, Calibrate),
        (None, "f1", ThetaSweep),
        (None, None, registry["xgboost"]),
    ],
)
def test_train_one_composes_calibration_and_theta(data, calibration, objective, wrapper):
    artifact = harness.train_one("xgboost", data, SMALL["xgboost"], calibration=calibration, objective=objective)
    assert isinstance(artifact, TrainedArtifact) and type(artifact.estimator) is wrapper
    if objective is None:
        assert artifact.threshold == 0.5
    else:
        assert artifact.threshold == artifact.estimator.theta_


def test_train_one_scores_val_and_test_with_the_one_metrics_function(data):
    artifact = harness.train_one("logreg", data, {"C": 0.3})
    for split, metrics in ((data.val, artifact.metrics_val), (data.test, artifact.metrics_test)):
        assert metrics == evaluate(split.y, artifact.estimator.predict_proba(split.X), artifact.threshold)
        signal = artifact.estimator.predict(split.X) == 1
        assert metrics == evaluate(split.y, artifact.estimator.predict_proba(split.X), predicted=signal)
    assert artifact.hyperparams["C"] == 0.3
    shape = artifact.dataset_shape
    assert dataclasses.replace(shape, rows_fit=None, rows_early_stopping=None, rows_calibration=None,
                               rows_theta=None, rows_test=None) == data.shape()
    assert artifact.feature_version == data.feature_version
    assert artifact.selected_features == tuple(f"x{i}" for i in range(6))


def test_train_one_fits_a_clone_on_the_training_rows_only(data):
    artifact = harness.train_one("logreg", data, calibration=None, objective=None)
    model = registry["logreg"]().fit(data.train.X, data.train.y)
    np.testing.assert_allclose(artifact.estimator.predict_proba(data.test.X), model.predict_proba(data.test.X))


def test_train_one_passes_constraints_to_the_theta_search(data):
    artifact = harness.train_one(
        "logreg", data, calibration="sigmoid", constraints={"max_positive_rate": 0.1, "max_positive_rate_ratio": None}
    )
    assert artifact.estimator.max_positive_rate == 0.1
    assert artifact.estimator.theta_result_.positive_rate <= 0.1


def test_train_one_reuses_one_driver_per_config(data):
    harness.train_one("logreg", data, calibration=None, objective=None)
    before = dags.cached_driver.cache_info()
    harness.train_one("logreg", data, {"C": 2.0}, calibration=None, objective=None)
    after = dags.cached_driver.cache_info()
    assert (after.hits, after.misses) == (before.hits + 1, before.misses)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(constraints={"max_trades": 3}), ValueError, r"Unknown θ constraints \['max_trades'\]"),
        (dict(objective=None, constraints={"min_positives": 3}), ValueError, "constraints apply to the θ search"),
    ],
)
def test_train_one_rejects_bad_arguments(data, kwargs, error, match):
    with pytest.raises(error, match=match):
        harness.train_one("logreg", data, **kwargs)


def test_train_one_needs_datasets():
    with pytest.raises(TypeError, match="datasets must be a cvn_sklearn.contracts.Datasets, got tuple"):
        harness.train_one("logreg", (np.zeros((3, 2)), np.zeros(3)))


# -- the event schema, through train_one, for every registry entry -------------------------
@pytest.fixture(scope="module")
def events_by_entry(data):
    captured = {}
    for name in sorted(registry):
        with capture_logs() as logs:
            artifact = harness.train_one(name, data, small_params(name), calibration="sigmoid")
        captured[name] = (artifact, logs)
    return captured


def _last(logs, event):
    return [e for e in logs if e["event"] == event][-1]


def test_every_entry_emits_the_same_events_with_the_same_fields_and_types(events_by_entry):
    own_events = {}
    for name, (_, logs) in events_by_entry.items():
        for event in logs:
            assert_matches_schema(event["event"], event)  # field names and exact value types
        # an ensemble's base fits may come from the shared cache; its own events never do
        own_events[name] = frozenset(e["event"] for e in logs if e.get("model_type") == name)
    assert set(own_events.values()) == {
        frozenset({"training_started", "model_fit", "calibrator_fit", "theta_picked", "training_complete"})
    }, own_events
    shapes = {
        name: {e["event"]: {k: type(v) for k, v in e.items()} for e in logs if e.get("model_type") == name}
        for name, (_, logs) in events_by_entry.items()
    }
    for event in ("training_started", "model_fit", "calibrator_fit", "theta_picked", "training_complete"):
        fields = {name: frozenset(shape[event]) for name, shape in shapes.items()}
        assert len(set(fields.values())) == 1, (event, fields)
        assert set(next(iter(fields.values()))) - STRUCTLOG_KEYS == set(EVENTS[event].__annotations__)
        for field in EVENTS[event].__annotations__:
            seen = {shape[event][field] for shape in shapes.values()} - {type(None)}
            assert len(seen) <= 1, (event, field, seen)  # one type, None aside


def test_ensembles_emit_their_own_fit_events(events_by_entry):
    for name in registry.ensembles:
        artifact, logs = events_by_entry[name]
        fit = _last([e for e in logs if e.get("model_type") == name], "model_fit")
        stack = artifact.estimator.estimators_[0]
        assert fit["n_estimators_final"] == len(stack.estimators_) and fit["best_iteration"] is None
        assert fit["dataset_n_features"] == stack.n_features_in_


def test_every_model_emits_the_adapter_events_too(events_by_entry):
    for name in registry.models:
        events = {e["event"] for e in events_by_entry[name][1]}
        assert {"training_started", "model_fit", "training_complete"} <= events, name


def test_training_complete_is_emitted_once_and_matches_the_artifact(events_by_entry):
    artifact, logs = events_by_entry["xgboost"]
    assert [e["event"] for e in logs].count("training_complete") == 1
    complete = _last(logs, "training_complete")
    assert complete["model_type"] == "xgboost"
    assert complete["theta_picked"] == artifact.threshold
    assert complete["auc_val"] == artifact.metrics_val.auc and complete["ece_val"] == artifact.metrics_val.ece
    assert complete["dataset_n_train"] == artifact.dataset_shape.n_train
    model = artifact.estimator.estimators_[0]
    assert (complete["n_estimators_final"], complete["best_iteration"]) == (
        model.n_estimators_final_,
        model.best_iteration_,
    )
    assert complete["theta_picked"] == _last(logs, "theta_picked")["theta"]


# -- meta-labeling ------------------------------------------------------------------------
def test_meta_label_model_learns_which_primary_buys_were_right(data):
    artifact = harness.train_one(
        "logreg", data, calibration="sigmoid", meta_label="extra_trees", meta_label_params={"n_estimators": 20}
    )
    meta = artifact.meta_label_model
    assert meta.n_features_in_ == data.val.X.shape[1] + 1
    primary = artifact.estimator.predict_proba(data.test.X)[:, 1] >= artifact.threshold
    signal = artifact.predict(data.test.X)
    assert set(np.unique(signal)) <= {0, 1} and np.all(signal <= primary)
    confirmed = meta.predict(
        meta_features(data.test.X[primary], artifact.estimator.predict_proba(data.test.X)[primary, 1])
    )
    np.testing.assert_array_equal(signal[primary], confirmed)
    assert artifact.to_dict()["meta_label"] is True


def test_predict_without_meta_label_is_the_primary_signal(data):
    artifact = harness.train_one("logreg", data, calibration="sigmoid")
    expected = (artifact.estimator.predict_proba(data.test.X)[:, 1] >= artifact.threshold).astype(int)
    np.testing.assert_array_equal(artifact.predict(data.test.X), expected)
    assert artifact.meta_label_model is None


def test_meta_label_needs_right_and_wrong_buys(data):
    # every val row the primary model calls a buy is a buy: nothing for the meta-label model to learn
    primary = harness.train_one("logreg", data, calibration="sigmoid")
    y_val = np.where(primary.estimator.predict(data.val.X) == 1, 1, data.val.y)
    easy = Datasets(train=data.train, val=(data.val.X, y_val), test=data.test)
    with pytest.raises(ValueError, match="Meta-labeling needs primary buy signals that were both right and wrong"):
        harness.train_one("logreg", easy, calibration="sigmoid", meta_label="logreg")


# -- visualize -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "dag, node", [("fixed_params", "metrics_test"), ("walk_forward", "fold_result"), ("hpo", "study")]
)
def test_visualize_writes_the_dot_source_of_each_dag(tmp_path, dag, node):
    source = harness.visualize(tmp_path / f"{dag}.dot", dag=dag).read_text()
    assert "digraph {" in source and node in source


def test_visualize_follows_the_config(tmp_path):
    raw = harness.visualize(tmp_path / "raw.dot", calibration=None, objective=None).read_text()
    meta = harness.visualize(tmp_path / "meta.dot", meta_label="logreg").read_text()
    # raw: no calibrator and no θ (the constraints still carry the cost per trade the trading figures pay)
    assert "objective" not in raw and "calibration" not in raw and "meta_label_model" in meta


def test_visualize_rejects_unknown_dags(tmp_path):
    with pytest.raises(ValueError, match=r"dag must be one of \['fixed_params', 'hpo', 'walk_forward'\]"):
        harness.visualize(tmp_path / "x.dot", dag="screen")


def test_visualize_explains_a_missing_graphviz(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RuntimeError, match="needs Graphviz's 'dot' program, which is not installed"):
        harness.visualize(tmp_path / "train_one.png")


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_visualize_renders_png(tmp_path):
    path = harness.visualize(tmp_path / "train_one.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train_one.png"]


@pytest.mark.parametrize("name", ["xgboost", "stack_logreg"])
def test_the_artifact_holds_no_training_rows(data, name):
    artifact = harness.train_one(name, data, small_params(name), meta_label="logreg")
    content = pickle.dumps(artifact)
    for split in data.splits():
        rows = np.ascontiguousarray(split.X[:3]).tobytes()
        assert rows not in content
