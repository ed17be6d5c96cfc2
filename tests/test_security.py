"""Model files run no code, secrets never reach the store or any byte a sweep writes, the store survives concurrent first use.

Real libraries throughout: real boosters, real skops files, a real MLflow SQLite store.
"""

import json
import re
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest
import skops.io
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from mlflow.tracking import MlflowClient
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import make_classification
from test_persist import _artifact

from cvn_sklearn.contracts import Datasets
from cvn_sklearn.harness import train_one
from cvn_sklearn.persist import (
    UntrustedModelError,
    load_artifact,
    log_artifact,
    trusted_types,
)
from cvn_sklearn.registry import registry
from cvn_sklearn.scrubbing import (
    MASK,
    SCRUBBED,
    SECRET_NAMES,
    scrub_structure,
    scrub_text,
    secret_name,
    secret_strings,
)
from cvn_sklearn.sweep import SymbolData, screen

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
    from cvn_sklearn.scrubbing import reachable_estimators

    store = OOSStore(tmp_path / "oos")
    artifact = train_one("blend_avg", data, {"base_models": ["logreg"], "cv": 3, "cache": store}, calibration="sigmoid")
    def caches(model):
        return [est.cache for est in reachable_estimators(model) if hasattr(est, "cache")]

    run_id = log_artifact(artifact, experiment="stores", **_store(tmp_path))
    assert caches(artifact.estimator) and all(cache is store for cache in caches(artifact.estimator))  # not mutated
    shutil.rmtree(tmp_path / "oos")
    model = load_artifact(run_id, tracking_uri=_store(tmp_path)["tracking_uri"])
    np.testing.assert_array_equal(model.predict_proba(data.test.X), artifact.estimator.predict_proba(data.test.X))
    assert not (tmp_path / "oos").exists()  # loading wrote nothing
    assert set(caches(model)) == {str(tmp_path / "oos")}


# -- (7) one scrub, on structures, everywhere: the rule ---------------------------------------------

# one or more names per row of scrubbing.SECRET_NAMES, as users write them
_TABLE_NAMES = [
    "password", "db_password", "dbPassword", "passwd", "passphrase", "DB_PASS", "pass", "dbpass", "pw", "db_pw",
    "pwd", "MYSQL_PWD", "secret", "client_secret", "token", "hf_token", "accesstoken", "credentials",
    "apikey", "AccessKey", "private_key", "auth", "authorization", "Authorization", "http_auth", "bearer",
    "cookie", "Cookie", "session", "sessionid", "api_key", "AWS_KEY", "x-api-key",
]
_NOT_SECRET = [
    "n_estimators", "max_depth", "passthrough", "subsample", "colsample_bytree", "keyboard", "monkey_business",
    "tokenizer", "learning_rate", "min_child_weight", "max_bin", "random_state", "n_jobs", "thread_count",
    "class_weight", "base_models", "cache", "cv", "stack_method", "conn_str", "tracking_uri", "bootstrap_type",
]


def test_every_row_of_the_names_table_is_tested():
    rows = {row for row, _ in SECRET_NAMES}
    hit = {row for row, pattern in SECRET_NAMES for name in _TABLE_NAMES
           if any(re.fullmatch(pattern, p.lower()) for p in re.split(r"[^A-Za-z0-9]+", name))}
    assert hit | {"api/access/private key"} == rows  # AccessKey / api_key are caught by the last part "key"


@pytest.mark.parametrize("name", _TABLE_NAMES)
def test_secret_names_of_the_table_are_masked_at_any_depth(name):
    assert secret_name(name)
    cleaned = scrub_structure({"params": {"params": {name: "hunter2-x"}}, "base": [("m", {name: ["hunter2-x"]})]})
    assert "hunter2" not in repr(cleaned) and cleaned["params"]["params"][name] == SCRUBBED


@pytest.mark.parametrize("name", _NOT_SECRET)
def test_ordinary_names_are_not_secret(name):
    assert not secret_name(name)
    assert scrub_structure({name: 5}) == {name: 5}


def test_no_parameter_of_any_registry_model_or_ensemble_is_secret_looking():
    names = {p for entry in registry for p in registry[entry]().get_params(deep=False)}
    names |= {p for entry in registry for p in getattr(registry[entry], "hyperparameters", {})}
    assert not sorted(n for n in names if secret_name(n))


@pytest.mark.parametrize("text, expected", [
    ("postgresql://user:pw@host/db", "postgresql://***@host/db"),
    ("https://tok3n@github.com/x.git", "https://***@github.com/x.git"),
    ("Server=x;Password=y", "Server=x;Password=***"),
    ("Driver={ODBC};Server=x;Uid=bob;Pwd={p;w};", "Driver={ODBC};Server=x;Uid=bob;Pwd=***;"),
    ("Server=x;pwd=y;Database=z", "Server=x;pwd=***;Database=z"),
    ("https://api.example.com/v1?access_token=abc123&page=2", "https://api.example.com/v1?access_token=***&page=2"),
    ("Authorization: Bearer xyz", "Authorization: ***"),
    ("Bearer xyz", "Bearer ***"),
    ("Token xyz", "Token ***"),
    ("Basic dXNlcjpwdw==", "Basic ***"),
    ("hist", "hist"),
    ("binary:logistic", "binary:logistic"),
    ("sqlite:////tmp/mlflow.db", "sqlite:////tmp/mlflow.db"),
])
def test_secret_values_are_masked_in_any_string(text, expected):
    assert scrub_structure(text) == expected
    assert scrub_structure({"anything": [text]}) == {"anything": [expected]}


def test_scrub_text_masks_name_value_pairs_and_the_values_it_is_given():
    message = "Got {'db_password': 'hunter2', 'depth': 3} and token: abc; \"pw\": \"s3\" from postgresql://u:p@h/db"
    assert scrub_text(message) == "Got {'db_password': '***', 'depth': 3} and token: ***; \"pw\": \"***\" from postgresql://***@h/db"
    assert scrub_text("could not convert 'hunter2' to float", values={"hunter2"}) == "could not convert '***' to float"
    assert scrub_text("max_depth=3, n_estimators: 5") == "max_depth=3, n_estimators: 5"


def test_estimators_are_walked_through_their_parameters():
    base = registry["xgboost"](n_estimators=5, params={"db_password": "hunter2"})
    stack = registry["blend_avg"](base_models=[("x", base)], cache=False)
    cleaned = scrub_structure({"base_models": [("x", base)], "model": stack})
    assert "hunter2" not in json.dumps(cleaned)
    assert cleaned["base_models"] == [["x", {"estimator": "XGBoost", "params": {
        "n_estimators": 5, "params": {"db_password": SCRUBBED}}}]]
    assert secret_strings({"base_models": [("x", base)]}) == {"hunter2"}
    assert base.params == {"db_password": "hunter2"}  # nothing modified in place


# -- (8) the sweep writes no secret anywhere -----------------------------------------------------------

def _sweep_symbol(seed, n=160):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, 3))
    y = (X[:, 0] + rng.normal(size=n) > 0.5).astype(int)
    return SymbolData(X, y, np.where(y == 1, 0.01, -0.01) + rng.normal(0, 0.005, n))


def _nest(name, value, path):
    """``{name: value}`` wrapped in the dicts (``d``) and lists (``l``) of ``path``, innermost last."""
    tree = {name: value}
    for step in reversed(path):
        tree = {"inner": tree} if step == "d" else [tree]
    return tree


def _secret_sweep(folder: Path, names, values, path):
    """A real sweep (MLflow SQLite store, report) with a secret planted in every place a config can hold one."""
    xgb_name, base_name, error_name, bare_name, uri_name = names
    xgb_value, base_value, error_value, bare_value, uri_value = values
    variants = [
        # a booster's native params (unused: XGBoost warns), the secret at a random depth of dicts and lists
        {"name": "xgb", "model": "xgboost", "params": {"n_estimators": 3, "n_jobs": 1,
                                                      "params": {"inner": _nest(xgb_name, xgb_value, path)}}},
        # a stacker's base model given as an estimator with a secret native param
        {"name": "stack", "model": "blend_avg", "params": {"base_models": [
            ("x", registry["xgboost"](n_estimators=3, n_jobs=1, params={base_name: base_value}))]}},
        # fails: scikit-learn's validation error quotes the value, a structure holding the secret at depth
        {"name": "bad", "model": "logreg",
         "params": {"params": {"intercept_scaling": _nest(error_name, error_value, path)}}},
        # fails: XGBoost's error quotes the secret value bare (no name beside it)
        {"name": "bad_bare", "model": "xgboost",
         "params": {"n_estimators": 3, "n_jobs": 1, "params": {"objective": bare_value, bare_name: bare_value}}},
    ]
    config = {"variants": variants, "symbols": ["a"], "folds": {"n_splits": 2}, "calibration": "sigmoid",
              "folder": str(folder / "sweep"), "mlflow": True, "cost": 0.0005, "experiment": "secrets",
              # SQLite takes no userinfo: the URI's secret is a query parameter (userinfo: see the report test)
              "tracking_uri": f"sqlite:///{folder}/mlflow.db?{uri_name}={uri_value}"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return screen(config, data={"a": _sweep_symbol(1)}, report=folder / "report.html")


def _contents(path: Path) -> list[bytes]:
    """A file's bytes, and what they hold once decoded: zip members (skops files), Parquet tables as text."""
    import zipfile

    import pandas as pd

    content = path.read_bytes()
    found = [content]
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            found += [archive.read(name) for name in archive.namelist()]
    if path.suffix == ".parquet":
        found.append(pd.read_parquet(path).to_csv().encode())
    return found


_SECRET_VALUE = st.from_regex(r"[A-Za-z]{4}[0-9]{3}[A-Za-z0-9]{6,10}", fullmatch=True)


@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture],
          phases=[Phase.explicit, Phase.reuse, Phase.generate])  # a sweep per example: no shrinking
@given(
    names=st.lists(st.sampled_from(_TABLE_NAMES), min_size=5, max_size=5),
    values=st.lists(_SECRET_VALUE, min_size=5, max_size=5, unique=True),
    path=st.lists(st.sampled_from("dl"), max_size=3),
)
def test_secrets_planted_anywhere_in_a_sweep_appear_in_no_byte_it_writes(tmp_path_factory, monkeypatch, names,
                                                                        values, path):
    folder = tmp_path_factory.mktemp("sweep")
    monkeypatch.chdir(folder)  # MLflow's default artifact root (./mlruns) lands in the folder searched
    result = _secret_sweep(folder, names, values, path)
    assert set(result.cells["status"]) == {"ok", "failed"}
    failed = result.cells[result.cells["status"] != "ok"]
    assert set(failed["variant"]) == {"bad", "bad_bare"} and failed["error"].str.contains(MASK, regex=False).all()
    files = _files_under(folder)
    kinds = {p.suffix for p in files}
    assert {".db", ".html", ".csv", ".parquet", ".cells", ".npz", ".skops"} <= kinds, kinds
    assert any("mlruns" in p.parts for p in files)
    for file in files:
        leaked = [v for v in values for content in _contents(file) if v.encode() in content]
        assert not leaked, f"{file} holds {leaked}"


def test_the_named_leaks_are_closed_parent_run_report_cells_and_error_tag(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    base = registry["xgboost"](n_estimators=3, n_jobs=1, params={"dbpass": "Base0Secret9x"})
    config = {"variants": [
        {"name": "xgb", "model": "xgboost", "params": {"n_estimators": 3, "n_jobs": 1,
                                                      "params": {"db_password": "Nested0Secret9x"}}},
        {"name": "stack", "model": "blend_avg", "params": {"base_models": [("x", base)]}},
        {"name": "bad", "model": "logreg", "params": {"params": {"intercept_scaling": {"pw": "Quoted0Secret9x"}}}},
    ], "symbols": ["a"], "folds": {"n_splits": 2}, "calibration": "sigmoid", "folder": str(tmp_path / "sweep"),
        "mlflow": True, "tracking_uri": uri, "cost": 0.0005, "experiment": "leaks"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = screen(config, data={"a": _sweep_symbol(2)}, report=tmp_path / "report.html")
    secrets = ["Base0Secret9x", "Nested0Secret9x", "Quoted0Secret9x"]
    client = MlflowClient(uri)
    parent = client.get_run(result.parent_run_id)
    variants = json.loads(parent.data.params["variants"])
    assert variants[0]["params"]["params"] == {"db_password": SCRUBBED}
    assert variants[1]["params"]["base_models"] == [["x", {"estimator": "XGBoost", "params": {
        "n_estimators": 3, "n_jobs": 1, "params": {"dbpass": SCRUBBED}}}]]
    children = client.search_runs([parent.info.experiment_id], f"tags.mlflow.parentRunId = '{result.parent_run_id}'")
    errors = {run.data.tags["error"] for run in children if "error" in run.data.tags}
    assert errors == {("InvalidParameterError: The 'intercept_scaling' parameter of LogisticRegression must be a "
                       "float in the range (0.0, inf). Got {'pw': '***'} instead.")}
    cells = (tmp_path / "sweep" / "cells.csv").read_text()
    assert "Got {'pw': '***'} instead." in cells
    report = (tmp_path / "report.html").read_text()
    assert "dbpass: &#x27;***scrubbed***&#x27;" in report  # the config as YAML, escaped once
    for file in _files_under(tmp_path):
        assert not [s for s in secrets for content in _contents(file) if s.encode() in content], file
    assert base.params == {"dbpass": "Base0Secret9x"}  # the caller's estimator is untouched


def test_the_reports_config_shows_the_tracking_uri_without_its_password(tmp_path):
    config = {"variants": [{"name": "logreg", "model": "logreg"}], "symbols": ["a"], "folds": {"n_splits": 2},
              "calibration": "sigmoid", "folder": str(tmp_path / "sweep"), "mlflow": False, "cost": 0.0005,
              "tracking_uri": "postgresql://bob:Hunter2pw@db.internal:5432/mlflow",
              "constraints": {"min_positives": 1}}
    screen(config, data={"a": _sweep_symbol(3)}, report=tmp_path / "report.html")
    report = (tmp_path / "report.html").read_text()
    assert "postgresql://***@db.internal:5432/mlflow" in report and "Hunter2pw" not in report


def test_an_oos_refit_file_holds_no_secret_and_reads_back_with_the_callers_parameters(tmp_path):
    from sklearn.base import clone

    from cvn_sklearn.oos_store import OOSStore

    X, y = make_classification(n_samples=120, n_features=4, random_state=0)
    model = registry["xgboost"](n_estimators=3, n_jobs=1, params={"api_key": "Refit0Secret9x"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # XGBoost: api_key is not used
        fitted = OOSStore(tmp_path).refit(model, "data", lambda: clone(model).fit(X, y))
    (file,) = tmp_path.glob("*.skops")
    assert not [c for c in _contents(file) if b"Refit0Secret9x" in c]
    read = OOSStore(tmp_path).refit(model, "data", lambda: pytest.fail("read from the file, not fitted again"))
    assert read.params == {"api_key": "Refit0Secret9x"}  # set back from the caller's estimator
    np.testing.assert_array_equal(read.predict_proba(X), fitted.predict_proba(X))


def test_an_oos_refit_that_keeps_a_secret_stays_in_memory(tmp_path):
    from cvn_sklearn.oos_store import OOSStore

    X, y = make_classification(n_samples=60, n_features=3, n_informative=2, n_redundant=0, random_state=0)
    model = _KeepsToken(session_token="Kept0Secret9x")
    with pytest.warns(UserWarning, match=r"keeps the value of its secret-looking parameters \['session_token'\]"):
        refit = OOSStore(tmp_path).refit(model, "data", lambda: _KeepsToken(session_token="Kept0Secret9x").fit(X, y))
    assert refit.token_ == "Kept0Secret9x" and not list(tmp_path.glob("*.skops"))
