import io
import json
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io
from hypothesis import given, settings
from hypothesis import strategies as st
from mlflow.tracking import MlflowClient
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

from cvn_sklearn.contracts import Datasets, TrainedArtifact, meta_features
from cvn_sklearn.harness import train_one
from cvn_sklearn.metrics import evaluate
from cvn_sklearn.persist import (
    MODEL_URI_TAGS,
    SCRUBBED,
    UntrustedModelError,
    load_artifact,
    log_artifact,
    looks_like_secret,
    scrub,
    trusted_types,
)
from cvn_sklearn.registry import registry
from cvn_sklearn.scrubbing import MASK

SMALL = {
    "xgboost": dict(n_estimators=15, n_jobs=1),
    "lightgbm": dict(n_estimators=15, n_jobs=1),
    "catboost": dict(iterations=15, thread_count=1),
}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """One SQLite store for the module; artifacts next to it, nothing in the working directory."""
    folder = tmp_path_factory.mktemp("mlflow")
    return dict(tracking_uri=f"sqlite:///{folder}/mlflow.db", artifact_location=str(folder / "artifacts"))


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(n_samples=240, n_features=5, random_state=0)
    return Datasets.temporal_split(X, y)


def _artifact(estimator, data, hyperparams=None):
    """A TrainedArtifact around an estimator fitted on ``data.train``."""
    estimator.fit(data.train.X, data.train.y)
    metrics = [evaluate(s.y, estimator.predict_proba(s.X), 0.5) for s in (data.val, data.test)]
    return TrainedArtifact(
        model_name=type(estimator).__name__,
        estimator=estimator,
        metrics_val=metrics[0],
        metrics_test=metrics[1],
        threshold=0.5,
        selected_features=tuple(f"x{i}" for i in range(data.train.X.shape[1])),
        hyperparams=estimator.get_params() if hyperparams is None else hyperparams,
        training_time_sec=0.01,
        dataset_shape=data.shape(),
        feature_version=data.feature_version,
    )


def _model_files(store, run_id):
    client = MlflowClient(store["tracking_uri"])
    model_uri = client.get_run(run_id).data.tags[MODEL_URI_TAGS["estimator"]]
    model_id = model_uri.removeprefix("models:/")
    root = Path(store["artifact_location"])
    return [p for p in root.rglob("*") if p.is_file() and model_id in str(p)]


def _ensemble_params():
    bases = [registry["xgboost"](**SMALL["xgboost"]), registry["lightgbm"](**SMALL["lightgbm"])]
    return {"base_models": bases, "cache": False}


@pytest.mark.parametrize(
    "name, params, calibration, objective",
    [
        ("xgboost", SMALL["xgboost"], "isotonic", "f1"),
        ("lightgbm", SMALL["lightgbm"], "sigmoid", "f1"),
        ("catboost", SMALL["catboost"], "beta", "f1"),
        ("logreg", {}, "temperature", "f1"),
        ("blend_avg", _ensemble_params(), "sigmoid", "f1"),
    ],
)
def test_round_trip_gives_identical_probabilities(store, data, name, params, calibration, objective):
    artifact = train_one(name, data, params, calibration=calibration, objective=objective)
    run_id = log_artifact(artifact, experiment="round_trip", datasets=data, **store)
    loaded = load_artifact(run_id, tracking_uri=store["tracking_uri"])
    np.testing.assert_array_equal(loaded.predict_proba(data.test.X), artifact.estimator.predict_proba(data.test.X))
    files = _model_files(store, run_id)
    assert {p.name for p in files} >= {"MLmodel", "model.skops", "requirements.txt"}
    requirements = next(p for p in files if p.name == "requirements.txt").read_text().split()
    libraries = {"xgboost", "lightgbm"} if name == "blend_avg" else {registry[name].library}
    assert {r.split("==")[0] for r in requirements} == {"cvn_sklearn", "mlflow", "scikit-learn", "skops"} | libraries
    assert not [p for p in files if p.suffix in (".pkl", ".pickle", ".cloudpickle")]


@pytest.mark.parametrize("name", ["xgboost", "lightgbm", "catboost"])
def test_booster_model_file_holds_native_bytes_not_pickle(data, name):
    model = registry[name](**SMALL[name]).fit(data.train.X, data.train.y)
    native_bytes = model.__getstate__()["native_"]
    assert isinstance(native_bytes, bytes)
    with zipfile.ZipFile(io.BytesIO(skops.io.dumps(model))) as archive:
        schema = archive.read("schema.json").decode()
        stored = [archive.read(n) for n in archive.namelist() if n != "schema.json"]
    assert type(model.native_).__name__ not in schema  # no booster object, only its bytes
    assert native_bytes in stored and not any(blob.startswith(b"\x80") for blob in stored)  # no pickle stream
    content = skops.io.dumps(model)
    loaded = skops.io.loads(content, trusted=trusted_types(content))
    np.testing.assert_array_equal(loaded.predict_proba(data.test.X), model.predict_proba(data.test.X))


def test_run_records_metrics_threshold_and_feature_version(store, data):
    artifact = _artifact(registry["logreg"](), data)
    run = MlflowClient(store["tracking_uri"]).get_run(log_artifact(artifact, experiment="contents", **store))
    assert run.data.metrics["threshold"] == 0.5
    assert run.data.metrics["val_brier"] == pytest.approx(artifact.metrics_val.brier)
    assert run.data.metrics["test_n_pos_pred"] == artifact.metrics_test.n_pos_pred
    assert run.data.tags["feature_set_hash"] == artifact.feature_version.feature_set_hash
    assert run.data.tags["code_commit"] == artifact.feature_version.code_commit
    assert run.data.params["param_C"] == "1.0"
    assert run.data.params["n_train"] == str(data.shape().n_train)


def test_secrets_never_reach_mlflow(store, data):
    secret = "hunter2-do-not-log"
    model = registry["logreg"](params={"random_state": 0})
    hyperparams = {**model.get_params(), "DB_PASSWORD": secret, "nested": {"hf_token": secret}}
    artifact = _artifact(model, data, hyperparams)
    object.__setattr__(artifact.estimator, "params", {"random_state": 0, "api_key": secret})
    run_id = log_artifact(artifact, experiment="secrets", **store)
    run = MlflowClient(store["tracking_uri"]).get_run(run_id)
    logged = json.dumps([run.data.params, run.data.tags, run.data.metrics])
    assert secret not in logged and run.data.params["param_DB_PASSWORD"] == SCRUBBED
    for path in _model_files(store, run_id):
        assert secret.encode() not in path.read_bytes()
        if path.suffix == ".skops":
            with zipfile.ZipFile(path) as archive:
                assert all(secret.encode() not in archive.read(n) for n in archive.namelist())
    loaded = load_artifact(run_id, tracking_uri=store["tracking_uri"])
    assert loaded.params["api_key"] == SCRUBBED
    assert artifact.estimator.params["api_key"] == secret  # the caller's estimator is untouched


def test_load_refuses_a_run_without_model(store):
    import mlflow

    mlflow.set_tracking_uri(store["tracking_uri"])
    try:
        with mlflow.start_run() as run:
            pass
    finally:
        mlflow.set_tracking_uri(None)
    with pytest.raises(ValueError, match="has no estimator logged by cvn_sklearn.persist.log_artifact"):
        load_artifact(run.info.run_id, tracking_uri=store["tracking_uri"])
    with pytest.raises(ValueError, match=r"part must be one of \['estimator', 'meta_label_model'\]"):
        load_artifact(run.info.run_id, tracking_uri=store["tracking_uri"], part="calibrator")


def test_trusted_types_refuses_foreign_types():
    from sklearn.preprocessing import FunctionTransformer

    content = skops.io.dumps(FunctionTransformer(os.system))
    with pytest.raises(UntrustedModelError, match="types that cvn_sklearn does not trust"):
        trusted_types(content)


def test_trusted_types_lists_registry_models(data):
    model = registry["random_forest"](n_estimators=3).fit(data.train.X, data.train.y)
    assert trusted_types(skops.io.dumps(model)) == [
        "cvn_sklearn.models.random_forest.RandomForest",
        "sklearn.tree._tree.Tree",
    ]


def test_trusted_types_is_empty_for_plain_scikit_learn():
    assert trusted_types(skops.io.dumps(LogisticRegression())) == []


# -- scrubbing ------------------------------------------------------------------------------
_SUFFIXES = ["_KEY", "_TOKEN", "_PASSWORD", "_SECRET", "_api_key", "-token", "password", "secret_value", "credentials"]


def _random_case(text, flips):
    return "".join(c.upper() if f else c.lower() for c, f in zip(text, flips))


@given(
    prefix=st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,12}", fullmatch=True),
    suffix=st.sampled_from(_SUFFIXES),
    flips=st.lists(st.booleans(), min_size=20, max_size=20),
    value=st.one_of(st.text(max_size=20), st.integers(), st.floats(allow_nan=False), st.none()),
)
def test_secret_names_are_scrubbed_in_any_case(prefix, suffix, flips, value):
    name = prefix + _random_case(suffix, flips)
    assert scrub({name: value}) == {name: SCRUBBED}


_CREDENTIALS = st.one_of(
    st.from_regex(r"AKIA[0-9A-Z]{16}", fullmatch=True),
    st.from_regex(r"ghp_[A-Za-z0-9]{36}", fullmatch=True),
    st.from_regex(r"sk-[A-Za-z0-9]{20,40}", fullmatch=True),
    st.from_regex(r"xoxb-[0-9]{10}-[A-Za-z0-9]{12}", fullmatch=True),
    st.from_regex(r"eyJ[A-Za-z0-9_]{8,20}\.[A-Za-z0-9_]{8,20}\.[A-Za-z0-9_]{8,20}", fullmatch=True),
    st.from_regex(
        r"(postgresql|https)://[a-z]{1,8}:[A-Za-z0-9]{1,12}@[a-z]{1,8}(:[0-9]{2,4})?/[a-z]{0,6}", fullmatch=True
    ),
    st.from_regex(r"[a-f]{16}[0-9]{16}[a-f0-9]{0,16}", fullmatch=True),
    st.just("-----BEGIN RSA PRIVATE KEY-----\nMIIE"),
    st.from_regex(r"Bearer [A-Za-z0-9]{12,30}", fullmatch=True),
)


@given(name=st.from_regex(r"[a-z][a-z_]{0,10}[a-z]", fullmatch=True), value=_CREDENTIALS)
def test_credential_values_are_scrubbed_whatever_the_name(name, value):
    cleaned = scrub({name: value})[name]  # the whole value, or its secret part (a URL's userinfo, a header's credential)
    assert cleaned != value and MASK in cleaned and scrub({name: cleaned}) == {name: cleaned}
    assert scrub({"outer": {name: value}}) == {"outer": {name: cleaned}}


@pytest.mark.parametrize(
    "name, value",
    [
        ("learning_rate", 0.05),
        ("tree_method", "hist"),
        ("objective", "binary:logistic"),
        ("boosting_type", "Plain"),
        ("class_weight", {"0": 1.0, "1": 3.0}),
        ("monkey_business", 3),
        ("keyboard", "qwerty"),
        ("feature_set_hash_short", "abc123"),
    ],
)
def test_ordinary_parameters_pass_unchanged(name, value):
    assert scrub({name: value}) == {name: value}
    assert not looks_like_secret(name, value)


_NAMES = st.from_regex(r"[a-z][a-z_]{0,8}[a-z]", fullmatch=True).filter(lambda n: not looks_like_secret(n, None))
_PLAIN = st.one_of(st.integers(), st.floats(allow_nan=False), st.sampled_from(["hist", "gbdt", "binary:logistic"]))


@st.composite
def _nested_with_secret(draw):
    """A parameter tree of dicts, lists and tuples with one secret (by name or by value) somewhere inside."""
    secret = draw(st.from_regex(r"[A-Za-z]{4}[0-9]{4}[A-Za-z0-9]{8,16}", fullmatch=True))
    leaf = draw(st.one_of(
        st.builds(lambda prefix, suffix: {prefix + suffix: secret}, _NAMES, st.sampled_from(_SUFFIXES)),
        st.just(f"postgresql://bob:{secret}@db:5432/ml"),
    ))
    tree = leaf
    for wrap in draw(st.lists(st.sampled_from(["dict", "list", "tuple"]), min_size=1, max_size=4)):
        siblings = draw(st.lists(_PLAIN, max_size=2))
        if wrap == "dict":
            tree = {draw(_NAMES): tree, **{f"p{i}": v for i, v in enumerate(siblings)}}
        else:
            tree = (list if wrap == "list" else tuple)([*siblings, tree])
    return secret, tree


@settings(max_examples=60)
@given(_NAMES, _nested_with_secret())
def test_secrets_are_scrubbed_at_any_depth_of_dicts_lists_and_tuples(name, case):
    secret, tree = case
    cleaned = scrub({name: tree})
    assert secret not in repr(cleaned) and MASK in repr(cleaned)


def test_secrets_inside_an_ensembles_base_models_never_reach_mlflow(store, data):
    secret = "hunter2-do-not-log"
    base = registry["logreg"](params={"random_state": 0})
    ensemble = registry["blend_avg"](base_models=[("lr", base)], cv=3, cache=False)
    artifact = _artifact(ensemble, data)
    object.__setattr__(base, "params", {"random_state": 0, "api_key": secret})  # in hyperparams and the model file
    assert secret in repr(artifact.hyperparams["base_models"])
    run_id = log_artifact(artifact, experiment="nested_secrets", **store)
    run = MlflowClient(store["tracking_uri"]).get_run(run_id)
    assert secret not in json.dumps([run.data.params, run.data.tags]) and SCRUBBED in run.data.params["param_base_models"]
    for path in _model_files(store, run_id):
        if path.suffix == ".skops":
            with zipfile.ZipFile(path) as archive:
                assert all(secret.encode() not in archive.read(n) for n in archive.namelist())
        else:
            assert secret.encode() not in path.read_bytes()
    assert base.params["api_key"] == secret  # the caller's estimator is untouched


def test_scrub_keeps_unchanged_nested_mappings_identical():
    inner = {"max_depth": 3}
    assert scrub({"params": inner})["params"] is inner


def test_run_holds_the_theta_curve_and_reliability_diagram(store, data):
    artifact = train_one("logreg", data, calibration="sigmoid")
    client = MlflowClient(store["tracking_uri"])
    with_data = log_artifact(artifact, experiment="figures", datasets=data, **store)
    without = log_artifact(artifact, experiment="figures", **store)
    assert [f.path for f in client.list_artifacts(with_data, "plots")] == [
        "plots/reliability_val.png",
        "plots/theta_curve.png",
    ]
    # without the data: drawn from the artifact's own reliability bins
    assert [f.path for f in client.list_artifacts(without, "plots")] == [
        "plots/reliability_val.png",
        "plots/theta_curve.png",
    ]
    raw = log_artifact(train_one("logreg", data, calibration=None, objective=None), experiment="figures", **store)
    assert [f.path for f in client.list_artifacts(raw, "plots")] == ["plots/reliability_val.png"]
    bare = log_artifact(_artifact(registry["logreg"](), data), experiment="figures", **store)  # no θ, no bins
    assert client.list_artifacts(bare, "plots") == []


def test_meta_label_model_round_trips(store):
    X, y = make_classification(n_samples=400, n_features=5, flip_y=0.3, random_state=1)
    data = Datasets.temporal_split(X, y)
    artifact = train_one("logreg", data, calibration="sigmoid", meta_label="logreg")
    run_id = log_artifact(artifact, experiment="meta_label", **store)
    meta = load_artifact(run_id, tracking_uri=store["tracking_uri"], part="meta_label_model")
    features = meta_features(data.test.X, artifact.estimator.predict_proba(data.test.X)[:, 1])
    np.testing.assert_array_equal(meta.predict_proba(features), artifact.meta_label_model.predict_proba(features))
    plain = log_artifact(train_one("logreg", data, calibration="sigmoid"), experiment="meta_label", **store)
    with pytest.raises(ValueError, match="has no meta_label_model logged"):
        load_artifact(plain, tracking_uri=store["tracking_uri"], part="meta_label_model")


@pytest.mark.parametrize("name", ["xgboost", "lightgbm", "catboost"])
def test_pickle_round_trip_keeps_early_stopping_and_categories(name):
    rng = np.random.RandomState(0)
    X = pd.DataFrame(rng.normal(size=(300, 3)), columns=["a", "b", "c"])
    X["sector"] = pd.Categorical(rng.choice(["u", "v", "w"], 300))
    y = (X["a"] + (X["sector"] == "u") + rng.normal(size=300) > 0.5).astype(int)
    model = registry[name](**SMALL[name], early_stopping_rounds=3).fit(X, y)
    loaded = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    assert (loaded.best_iteration_, loaded.categorical_features_) == (model.best_iteration_, ["sector"])


@settings(max_examples=5, deadline=None)
@given(
    name=st.from_regex(r"[a-z]{1,8}", fullmatch=True).map(lambda p: p + "_API_KEY"),
    secret=st.from_regex(r"[A-Za-z]{4}[0-9]{4}[A-Za-z0-9]{8,16}", fullmatch=True),
    credential=_CREDENTIALS,
)
def test_generated_secrets_never_reach_the_mlflow_store(store, data, name, secret, credential):
    model = registry["logreg"]()
    hyperparams = {**model.get_params(), name: secret, "endpoint": credential, "params": {name.lower(): secret}}
    run_id = log_artifact(_artifact(model, data, hyperparams), experiment="generated_secrets", **store)
    run = MlflowClient(store["tracking_uri"]).get_run(run_id)
    logged = json.dumps([run.data.params, run.data.tags])
    assert secret not in logged and credential not in logged
    assert run.data.params[f"param_{name}"] == SCRUBBED
    assert run.data.params["param_endpoint"] == scrub({"endpoint": credential})["endpoint"]  # the credential part masked


def test_default_store_is_sqlite_in_the_working_directory(tmp_path, monkeypatch, data):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    artifact = _artifact(registry["logreg"](), data)
    run_id = log_artifact(artifact, experiment="default_store")
    assert (tmp_path / "mlflow.db").is_file() and (tmp_path / "mlruns").is_dir()
    np.testing.assert_array_equal(
        load_artifact(run_id).predict_proba(data.test.X), artifact.estimator.predict_proba(data.test.X)
    )


def test_an_unwritable_artifact_location_is_refused_before_anything_is_logged(tmp_path, data):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    not_a_folder = tmp_path / "a_file"
    not_a_folder.write_text("")
    artifact = _artifact(registry["logreg"](), data)
    for _ in range(2):  # a retry meets the same clear error, and leaves nothing behind either
        with pytest.raises(ValueError, match=r"artifact_location=.* cannot be written.*Pass a folder you can write to"):
            log_artifact(artifact, experiment="bad_location", tracking_uri=uri, artifact_location=str(not_a_folder / "x"))
    client = MlflowClient(uri)
    assert client.get_experiment_by_name("bad_location") is None
    run_id = log_artifact(artifact, experiment="bad_location", tracking_uri=uri, artifact_location=str(tmp_path / "ok"))
    assert client.get_run(run_id).info.status == "FINISHED"
    with pytest.raises(ValueError, match="cannot change.*new experiment name"):
        log_artifact(artifact, experiment="bad_location", tracking_uri=uri, artifact_location=str(tmp_path / "other"))
    runs = client.search_runs([client.get_experiment_by_name("bad_location").experiment_id])
    assert [run.info.status for run in runs] == ["FINISHED"]
