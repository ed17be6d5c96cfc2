"""The OOS store: sharing across stackers, threads, processes and Dask workers; precomputed OOS; persistence.

Base-model fits are counted from the ``training_started`` events of the real
registry models (``capture_logs``), in this process, in subprocesses and in
Dask workers, which report their own counts back.
"""

import copy
import pickle
import subprocess
import sys
import textwrap
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from structlog.testing import capture_logs

from cvn_sklearn.contracts import Datasets
from cvn_sklearn.harness import train_one
from cvn_sklearn.model_selection import WalkForwardSplit, oos_predict
from cvn_sklearn.oos_store import OOSStore, default_store
from cvn_sklearn.persist import load_artifact, log_artifact
from cvn_sklearn.registry import registry
from cvn_sklearn.stacking import StackingClassifier

SIX = ["blend_avg", "blend_weighted", "stack_logreg", "stack_logreg_shrink", "stack_nonneg", "stack_xgb_meta"]
N, FOLDS = 240, 3
CV = WalkForwardSplit(FOLDS, test_size=40)
REPO = Path(__file__).resolve().parents[1]


def _bases():
    return [("logreg", registry["logreg"]()), ("hist_gb", registry["hist_gb"](max_iter=10)),
            ("lightgbm", registry["lightgbm"](n_estimators=10, n_jobs=1))]


def _data(n=N, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, 4))
    return X, (X[:, 0] - X[:, 1] + rng.normal(size=n) > 0).astype(int)


def _fit_and_count(names, cache, X, y):
    """Fit the named ensembles; (base fits per model type, fold fits per model type), from the events."""
    with capture_logs() as events:
        for name in names:
            registry[name](base_models=_bases(), cv=CV, cache=cache).fit(X, y)
    bases = {name for name, _ in _bases()}  # not the ensembles' own events, nor stack_xgb_meta's meta-learner
    started = [e for e in events if e["event"] == "training_started" and e["model_type"] in bases]
    return Counter(e["model_type"] for e in started), Counter(e["model_type"] for e in started
                                                             if e["dataset_n_train"] < len(X))


@pytest.fixture(autouse=True)
def fresh_default_store():
    default_store().clear()
    yield
    default_store().clear()


# -- sharing and counting -------------------------------------------------------------------------


def test_six_ensembles_fit_twelve_base_models_in_one_process():
    fits, _ = _fit_and_count(SIX, True, *_data())
    assert fits == {"logreg": FOLDS + 1, "hist_gb": FOLDS + 1, "lightgbm": FOLDS + 1}  # 12 in all


def test_six_ensembles_split_over_two_processes_sharing_a_directory_fit_twelve(tmp_path):
    X, y = _data()
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    script = textwrap.dedent(f"""
        import json, sys
        sys.path.insert(0, {str(REPO / 'tests')!r})
        import numpy as np
        from test_oos_store import _fit_and_count
        X, y = np.load({str(tmp_path / 'X.npy')!r}), np.load({str(tmp_path / 'y.npy')!r})
        print(json.dumps(_fit_and_count(sys.argv[1].split(","), {str(tmp_path / 'store')!r}, X, y)[0]))
    """)
    halves = [",".join(SIX[:3]), ",".join(SIX[3:])]
    runs = [subprocess.Popen([sys.executable, "-c", script, half], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, cwd=tmp_path) for half in halves]  # both at once: the file locks decide
    outputs = [run.communicate(timeout=300) for run in runs]
    assert all(run.returncode == 0 for run in runs), [err for _, err in outputs]
    total = sum((Counter(__import__("json").loads(out.strip().splitlines()[-1])) for out, _ in outputs), Counter())
    assert total == {"logreg": FOLDS + 1, "hist_gb": FOLDS + 1, "lightgbm": FOLDS + 1}


def _count_in_worker(name, path, X, y):
    return _fit_and_count([name], OOSStore(path), X, y)[0]


def test_six_ensembles_on_a_dask_cluster_of_two_workers_sharing_a_directory_fit_twelve(tmp_path):
    distributed = pytest.importorskip("distributed")
    X, y = _data()
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  local_directory=str(tmp_path / "dask")) as cluster, distributed.Client(cluster) as client:
        client.run(sys.path.insert, 0, str(REPO / "tests"))
        futures = [client.submit(_count_in_worker, name, str(tmp_path / "store"), X, y, pure=False) for name in SIX]
        counts = client.gather(futures)
        workers = {who for f in futures for who in client.who_has([f])[f.key]}
    assert sum(map(Counter, counts), Counter()) == {"logreg": FOLDS + 1, "hist_gb": FOLDS + 1, "lightgbm": FOLDS + 1}
    assert len(workers) == 2


def test_memory_store_under_sixteen_threads_fits_each_base_once(tmp_path):
    X, y = _data(120)
    store, cv = OOSStore(), WalkForwardSplit(2, test_size=30)
    bases = [("logreg", registry["logreg"]()), ("tree", registry["hist_gb"](max_iter=3, max_depth=2))]

    def fit(_):
        stack = StackingClassifier(bases, cv=cv, cache=store).fit(X, y)
        return stack.predict_proba(X[:3])

    with capture_logs() as events, ThreadPoolExecutor(16) as pool:
        probas = list(pool.map(fit, range(800)))
    fits = Counter(e["model_type"] for e in events if e["event"] == "training_started")
    assert fits == {"logreg": 2 + 1, "hist_gb": 2 + 1}
    assert len(probas) == 800 and all(np.array_equal(p, probas[0]) for p in probas)


def test_precomputed_oos_predictions_spare_every_base_fold_fit():
    X, y = _data()
    store = OOSStore()
    for _, base in _bases():
        store.put_oos(base, X, y, cv=CV, predictions=oos_predict(base, X, y, cv=CV).predictions)
    fits, fold_fits = _fit_and_count(["stack_logreg"], store, X, y)
    assert fold_fits == {} and fits == {"logreg": 1, "hist_gb": 1, "lightgbm": 1}  # only the refits on all rows
    computed = registry["stack_logreg"](base_models=_bases(), cv=CV, cache=False).fit(X, y)
    from_store = registry["stack_logreg"](base_models=_bases(), cv=CV, cache=store).fit(X, y)
    np.testing.assert_allclose(from_store.predict_proba(X), computed.predict_proba(X), rtol=0, atol=1e-12)


def test_put_oos_checks_the_predictions():
    X, y = _data()
    with pytest.raises(ValueError, match="predictions has 10 rows but X has 240"):
        OOSStore().put_oos(LogisticRegression(), X, y, cv=CV, predictions=np.zeros((10, 2)))
    with pytest.raises(ValueError, match="finite on every test row"):
        OOSStore().put_oos(LogisticRegression(), X, y, cv=CV, predictions=np.full((N, 2), np.nan))


# -- what a hit returns, fingerprints ----------------------------------------------------------------


def test_hits_share_read_only_arrays_and_copy_refits():
    X, y = _data()
    store = OOSStore()
    model, splits = LogisticRegression(), list(CV.split(X))
    key = store.data_key(X, y, {})
    first = store.oos(model, key, splits, "predict_proba", lambda: oos_predict(model, X, y, cv=CV))
    again = store.oos(model, key, splits, "predict_proba", lambda: pytest.fail("recomputed"))
    assert again.predictions is first.predictions and not again.predictions.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        again.predictions[0, 0] = 1.0
    refits = [store.refit(model, key, lambda: clone(model).fit(X, y)) for _ in range(2)]
    assert refits[0] is not refits[1] and np.array_equal(refits[0].coef_, refits[1].coef_)


def test_fingerprint_of_a_dataset_is_computed_once_and_sees_in_place_edits(monkeypatch):
    import cvn_sklearn.oos_store as module

    X, y = _data()
    hashed = []
    real_hash = module._hash
    monkeypatch.setattr(module, "_hash", lambda obj: (hashed.append(obj is X), real_hash(obj))[1])
    store = OOSStore()
    for name in SIX:
        registry[name](base_models=["logreg"], cv=CV, cache=store).fit(X, y)
    assert sum(hashed) == 1
    X[0, 0] += 1.0  # row 0 is probed
    registry["stack_logreg"](base_models=["logreg"], cv=CV, cache=store).fit(X, y)
    assert sum(hashed) == 2


# -- a handle, never part of the model ------------------------------------------------------------------


def test_store_is_a_handle_clone_and_copies_share_it_pickles_keep_only_the_path(tmp_path):
    X, y = _data()
    store = OOSStore(tmp_path / "store")
    stack = registry["blend_avg"](base_models=["logreg"], cv=CV, cache=store)
    assert clone(stack).cache is store and copy.deepcopy(store) is store
    stack.fit(X, y)
    assert len(store) == 2
    restored = pickle.loads(pickle.dumps(stack))
    assert repr(restored.cache) == repr(store) and len(restored.cache) == 0
    assert len(pickle.dumps(OOSStore(tmp_path / "store"))) == len(pickle.dumps(store))


def test_ensembles_fitted_with_each_kind_of_cache_round_trip_through_mlflow(tmp_path):
    X, y = _data(300)
    datasets = Datasets.temporal_split(X, y)
    uri = f"sqlite:///{tmp_path}/mlflow.db"  # one database for the runs: MLflow sets one up once
    for cache in [True, str(tmp_path / "oos"), OOSStore(tmp_path / "oos"), OOSStore()]:  # False: test_persist
        params = {"base_models": ["logreg", "extra_trees"], "cv": 3, "cache": cache}
        artifact = train_one("blend_avg", datasets, params, calibration=None)
        run_id = log_artifact(artifact, experiment="oos_store", tracking_uri=uri, artifact_location=str(tmp_path / "a"))
        model = load_artifact(run_id, tracking_uri=uri)
        np.testing.assert_array_equal(model.predict_proba(X), artifact.estimator.predict_proba(X))


def test_directory_store_never_loads_a_refit_file_with_foreign_types_and_recomputes_it(tmp_path):
    import skops.io

    X, y = _data()
    first = StackingClassifier([("lr", LogisticRegression())], cv=CV, cache=str(tmp_path / "s")).fit(X, y)
    [refit_file] = (tmp_path / "s").glob("*.skops")
    skops.io.dump({"model": Counter(a=1)}, refit_file)  # a type no estimator of this stack is made of
    with capture_logs() as logs:
        again = StackingClassifier([("lr", LogisticRegression())], cv=CV, cache=OOSStore(tmp_path / "s")).fit(X, y)
    [rejected] = [e for e in logs if e["event"] == "store_file_rejected"]
    assert rejected["path"] == str(refit_file) and "collections.Counter" in rejected["reason"]
    assert rejected["reason"].startswith("untrusted content, not loaded")
    np.testing.assert_array_equal(again.predict_proba(X), first.predict_proba(X))
    assert "collections.Counter" not in skops.io.get_untrusted_types(file=refit_file)  # replaced by the refit
