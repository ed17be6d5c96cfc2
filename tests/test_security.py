"""Model files run no code, secrets never reach the store, the store survives concurrent first use.

Real libraries throughout: real boosters, real skops files, a real MLflow SQLite store.
"""

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import skops.io
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mlflow.tracking import MlflowClient
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import make_classification
from test_persist import _artifact

from cvn_sklearn.contracts import Datasets
from cvn_sklearn.harness import train_one
from cvn_sklearn.persist import UntrustedModelError, load_artifact, log_artifact, trusted_types
from cvn_sklearn.registry import registry

SMALL = {
    "xgboost": dict(n_estimators=5, n_jobs=1),
    "lightgbm": dict(n_estimators=5, n_jobs=1),
    "catboost": dict(iterations=5, thread_count=1),
}


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(n_samples=240, n_features=5, random_state=0)
    return Datasets.temporal_split(X, y)


def _store(folder: Path) -> dict:
    return dict(tracking_uri=f"sqlite:///{folder}/mlflow.db", artifact_location=str(folder / "artifacts"))


def _exploit(name, data, marker: Path):
    """A fitted model whose *instance* state says: import subprocess.run and call it with these arguments."""
    model = registry[name](**SMALL[name]).fit(data.train.X, data.train.y)
    model.native = "subprocess:run"
    model.hyperparameters = {}
    model.params = {"args": ["touch", str(marker)]}
    return model


# -- (1) loading runs no code from the file -------------------------------------------------------
@pytest.mark.parametrize("name", ["xgboost", "lightgbm", "catboost"])
def test_instance_state_naming_a_class_to_import_is_refused_with_no_side_effect(tmp_path, data, name):
    marker = tmp_path / "pwned"
    content = skops.io.dumps(_exploit(name, data, marker))
    types = trusted_types(content)  # only cvn_sklearn types: skops' type check alone lets it through
    assert all(t.startswith("cvn_sklearn.") for t in types)
    with pytest.raises(UntrustedModelError, match=r"sets \['hyperparameters', 'native'\], which the class declares"):
        skops.io.loads(content, trusted=types)
    assert not marker.exists()


def test_a_tampered_model_file_in_the_store_is_refused_by_load_artifact(tmp_path, data):
    marker = tmp_path / "pwned"
    store = _store(tmp_path)
    run_id = log_artifact(train_one("lightgbm", data, SMALL["lightgbm"]), experiment="tampered", **store)
    (path,) = Path(store["artifact_location"]).rglob("model.skops")
    path.write_bytes(skops.io.dumps(_exploit("lightgbm", data, marker)))
    with pytest.raises(UntrustedModelError, match=rf"Run {run_id}, models:/.*/model.skops: The saved state of LightGBM"):
        load_artifact(run_id, tracking_uri=store["tracking_uri"])
    assert not marker.exists()


@pytest.mark.parametrize("damage", ["truncate", "text", "delete"])
def test_a_corrupt_model_file_gives_untrusted_model_error_naming_run_and_file(tmp_path, data, damage):
    store = _store(tmp_path)
    run_id = log_artifact(train_one("logreg", data), experiment="corrupt", **store)
    (path,) = Path(store["artifact_location"]).rglob("model.skops")
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[:200])
    elif damage == "text":
        path.write_text("not a model")
    else:
        path.unlink()
    with pytest.raises(UntrustedModelError, match=rf"Run {run_id}: the model file models:/\S+/model.skops cannot be read"):
        load_artifact(run_id, tracking_uri=store["tracking_uri"])


def test_invalid_parameters_in_a_model_file_are_refused(data):
    model = registry["logreg"]().fit(data.train.X, data.train.y)
    model.C = "not a number"
    with pytest.raises(UntrustedModelError, match="holds invalid parameters"):
        skops.io.loads(skops.io.dumps(model), trusted=trusted_types(skops.io.dumps(model)))


# -- (2) secrets never leave the process ----------------------------------------------------------
_SECRET_NAMES = [
    "DB_PASS", "pwd", "passphrase", "accesstoken", "mytoken", "sessionid",
    "API_KEY", "db_password", "aws_secret_access_key", "hf_token", "credentials", "Cookie",
]
_VALUES = st.from_regex(r"[A-Za-z]{4}[0-9]{4}[A-Za-z0-9]{8,12}", fullmatch=True)


def _files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(_VALUES, min_size=len(_SECRET_NAMES), max_size=len(_SECRET_NAMES), unique=True))
def test_a_dozen_secrets_in_hpo_params_appear_nowhere_in_the_store(tmp_path_factory, data, values):
    folder = tmp_path_factory.mktemp("store")
    secrets = dict(zip(_SECRET_NAMES, values))
    secrets["endpoint"] = f"postgresql://bob:{values[0]}x@db:5432/ml"
    with pytest.warns(UserWarning, match="are not used"):  # XGBoost's own warning names the unknown params
        artifact = train_one("xgboost", data, {**SMALL["xgboost"], "params": secrets})
    run_id = log_artifact(artifact, experiment="secrets", **_store(folder))
    files = _files_under(folder)
    assert any(p.name == "mlflow.db" for p in files) and any(p.name == "model.skops" for p in files)
    for path in files:
        content = path.read_bytes()
        leaked = [v for v in secrets.values() if v.encode() in content]
        assert not leaked, f"{path} holds {leaked}"
    loaded = load_artifact(run_id, tracking_uri=_store(folder)["tracking_uri"])
    np.testing.assert_array_equal(loaded.predict_proba(data.test.X), artifact.estimator.predict_proba(data.test.X))


class _KeepsToken(ClassifierMixin, BaseEstimator):
    """Copies a secret parameter into its fitted state, so scrubbing the parameter is not enough."""

    def __init__(self, session_token=None):
        self.session_token = session_token

    def fit(self, X, y):
        self.classes_, self.token_ = np.unique(y), self.session_token
        return self

    def predict_proba(self, X):
        return np.full((len(X), 2), 0.5)


def test_a_secret_the_fitted_model_keeps_is_an_error_before_any_run(tmp_path, data):
    model = _KeepsToken(session_token="hunter2-Zq81xk0")
    store = _store(tmp_path)
    with pytest.raises(ValueError, match=r"still holds the value of the secret-looking parameters \['session_token'\]"):
        log_artifact(_artifact(model, data), experiment="kept", **store)
    assert MlflowClient(store["tracking_uri"]).search_runs(experiment_ids=["0"]) == []
    assert not list(Path(store["artifact_location"]).rglob("*"))


# -- (6) the default store under concurrency ------------------------------------------------------
_LOGGER = textwrap.dedent("""
    import sys
    from sklearn.datasets import make_classification
    from cvn_sklearn.contracts import Datasets
    from cvn_sklearn.harness import train_one
    from cvn_sklearn.persist import log_artifact

    X, y = make_classification(n_samples=200, n_features=4, random_state=0)
    artifact = train_one("logreg", Datasets.temporal_split(X, y), calibration=None, objective=None)
    sys.stdin.readline()  # both processes start logging at the same moment
    for _ in range(10):
        log_artifact(artifact, experiment="concurrent", tracking_uri=sys.argv[1], artifact_location=sys.argv[2])
""")


def test_two_processes_logging_on_a_fresh_store_keep_every_run(tmp_path):
    store = _store(tmp_path)
    procs = [
        subprocess.Popen([sys.executable, "-c", _LOGGER, store["tracking_uri"], store["artifact_location"]],
                         stdin=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    for proc in procs:
        proc.stdin.write("go\n")
        proc.stdin.flush()
    errors = [proc.communicate(timeout=600)[1] for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], errors
    client = MlflowClient(store["tracking_uri"])
    (experiment,) = [e for e in client.search_experiments() if e.name == "concurrent"]
    runs = client.search_runs([experiment.experiment_id], max_results=100)
    assert len(runs) == 20 and {r.info.status for r in runs} == {"FINISHED"}


# -- loading trusts estimators only ---------------------------------------------------------------


def _refused_objects(tmp_path, data):
    from cvn_sklearn.contracts import DatasetShape
    from cvn_sklearn.model_selection import Fold
    from cvn_sklearn.oos_store import OOSStore
    from cvn_sklearn.sweep.store import CellStore

    artifact = train_one("logreg", data)
    return {
        "an OOS store": OOSStore(tmp_path / "oos"),
        "a stacker holding an OOS store": registry["blend_avg"](base_models=["logreg"], cv=3,
                                                                cache=OOSStore(tmp_path / "oos")),
        "a TrainedArtifact": artifact,
        "an artifact's dataset shape": artifact.dataset_shape,
        "a dataset shape in a dict": {"model": artifact.estimator, "shape": DatasetShape(**artifact.dataset_shape.__dict__)},
        "the cell store": CellStore(tmp_path / "sweep"),
        "a fold": Fold(0, np.arange(3), np.arange(3, 4), np.arange(4, 5)),
    }


@pytest.mark.parametrize("what", ["an OOS store", "a stacker holding an OOS store", "a TrainedArtifact",
                                  "an artifact's dataset shape", "a dataset shape in a dict", "the cell store",
                                  "a fold"])
def test_a_model_file_holding_anything_but_estimators_and_data_is_refused_naming_the_file_and_type(tmp_path, data,
                                                                                                 what):
    obj = _refused_objects(tmp_path, data)[what]
    path = tmp_path / "model.skops"
    skops.io.dump(obj, path)
    with pytest.raises(UntrustedModelError, match=rf"The model file {path} holds types .*cvn_sklearn\.\w+\.\w+"):
        trusted_types(path)
    assert not (tmp_path / "oos").exists()  # nothing was constructed, nothing written


def test_loading_trusts_the_registry_scikit_learn_and_the_meta_estimators(tmp_path, data):
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.frozen import FrozenEstimator
    from sklearn.model_selection import TimeSeriesSplit
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from cvn_sklearn import CalibratedThetaClassifier
    from cvn_sklearn.model_selection import WalkForwardSplit

    X, y = data.train.X, data.train.y
    models = [
        train_one("stack_logreg_shrink", data, {"base_models": ["logreg", "random_forest"], "cv": WalkForwardSplit(3)},
                  calibration="beta", objective="f1").estimator,
        train_one("blend_weighted", data, {"base_models": ["hist_gb"], "cv": TimeSeriesSplit(3)},
                  calibration="isotonic", objective="f1").estimator,
        train_one("lightgbm", data, {"n_estimators": 5}, calibration="temperature", objective="f1").estimator,
        CalibratedThetaClassifier(FrozenEstimator(make_pipeline(StandardScaler(), GradientBoostingClassifier(
            n_estimators=5)).fit(X, y)), calibration="sigmoid").fit(data.val.X, data.val.y),
    ]
    for model in models:
        content = skops.io.dumps(model)
        loaded = skops.io.loads(content, trusted=trusted_types(content))
        np.testing.assert_array_equal(loaded.predict_proba(data.test.X), model.predict_proba(data.test.X))


def test_log_artifact_writes_a_stackers_store_as_its_path_and_loading_writes_nothing(tmp_path, data):
    import shutil

    from cvn_sklearn.oos_store import OOSStore
    from cvn_sklearn.persist import _reachable_estimators

    store = OOSStore(tmp_path / "oos")
    artifact = train_one("blend_avg", data, {"base_models": ["logreg"], "cv": 3, "cache": store}, calibration="sigmoid")
    def caches(model):
        return [est.cache for est in _reachable_estimators(model) if hasattr(est, "cache")]

    run_id = log_artifact(artifact, experiment="stores", **_store(tmp_path))
    assert caches(artifact.estimator) and all(cache is store for cache in caches(artifact.estimator))  # not mutated
    shutil.rmtree(tmp_path / "oos")
    model = load_artifact(run_id, tracking_uri=_store(tmp_path)["tracking_uri"])
    np.testing.assert_array_equal(model.predict_proba(data.test.X), artifact.estimator.predict_proba(data.test.X))
    assert not (tmp_path / "oos").exists()  # loading wrote nothing
    assert set(caches(model)) == {str(tmp_path / "oos")}
