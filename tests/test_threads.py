"""Every training path pins its fits' threads: train_one, walk_forward, tune, the sweep, and a model under a parallel caller."""

import numpy as np
import pytest
from joblib import Parallel, delayed
from threadpoolctl import threadpool_info, threadpool_limits

from cvn_sklearn import registry
from cvn_sklearn._sklearn_compat import _openmp_effective_n_threads
from cvn_sklearn.contracts import Datasets
from cvn_sklearn.harness import train_one, tune, walk_forward
from cvn_sklearn.model_selection import WalkForwardSplit
from cvn_sklearn.threads import limited_threads, pinned_params


def _data(n=300, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, 3))
    return X, (X[:, 0] + rng.normal(size=n) > 0.5).astype(int)


def _native_threads(artifact):
    fitted = artifact.estimator
    while not hasattr(fitted, "native_"):
        fitted = getattr(fitted, "estimator_", None) or fitted.estimator
    return fitted.native_.get_params()["n_jobs"]


def _openmp_threads():
    return {info["num_threads"] for info in threadpool_info() if info["user_api"] == "openmp"}


def test_pinned_params_set_each_models_thread_parameter_unless_given():
    assert pinned_params("xgboost", {}, 1) == {"n_jobs": 1}
    assert pinned_params("catboost", {"iterations": 5}, 2) == {"iterations": 5, "thread_count": 2}
    assert pinned_params("xgboost", {"n_jobs": 3}, 1) == {"n_jobs": 3}
    assert pinned_params("logreg", {"C": 1.0}, 1) == {"C": 1.0}  # no thread parameter
    assert pinned_params("xgboost", {}, None) == {}


def test_pinned_params_pin_a_stackers_base_models_named_or_given():
    given = registry["lightgbm"](n_estimators=5)
    params = pinned_params("blend_avg", {"base_models": ["xgboost", ("lgbm", given)]}, 1)
    (name_a, xgb), (name_b, lgbm) = params["base_models"]
    assert (name_a, xgb.get_params()["n_jobs"]) == ("xgboost", 1)
    assert (name_b, lgbm.get_params()["n_jobs"], lgbm.get_params()["n_estimators"]) == ("lgbm", 1, 5)
    assert given.get_params()["n_jobs"] is None  # the caller's estimator is cloned, never changed
    own = registry["lightgbm"](n_jobs=2)
    assert pinned_params("blend_avg", {"base_models": [("lgbm", own)]}, 1)["base_models"][0][1] is own


def test_limited_threads_caps_openmp_for_the_block_only():
    before = _openmp_threads()
    with limited_threads(1):
        assert _openmp_threads() == {1}
    assert _openmp_threads() == before
    with limited_threads(None):
        assert _openmp_threads() == before


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True])
def test_n_jobs_must_be_a_positive_integer_or_none(bad):
    X, y = _data()
    with pytest.raises(ValueError, match="n_jobs must be a positive integer"):
        train_one("logreg", Datasets.temporal_split(X, y), n_jobs=bad)


def test_train_one_pins_each_fit_to_one_thread_by_default_and_n_jobs_none_opts_out():
    X, y = _data()
    data = Datasets.temporal_split(X, y)
    assert _native_threads(train_one("xgboost", data, {"n_estimators": 3}, calibration="sigmoid")) == 1
    assert _native_threads(train_one("xgboost", data, {"n_estimators": 3}, calibration="sigmoid", n_jobs=2)) == 2
    unpinned = train_one("xgboost", data, {"n_estimators": 3}, calibration="sigmoid", n_jobs=None)
    assert _native_threads(unpinned) == _openmp_effective_n_threads()  # the library's default: every core
    assert unpinned.hyperparams["n_jobs"] is None


def test_walk_forward_and_tune_pin_their_fits_and_give_the_same_predictions():
    X, y = _data(400)
    cv = WalkForwardSplit(2, test_size=80)
    pinned = walk_forward("lightgbm", X, y, cv=cv, hpo_params={"n_estimators": 5}, calibration="sigmoid")
    free = walk_forward("lightgbm", X, y, cv=cv, hpo_params={"n_estimators": 5}, calibration="sigmoid", n_jobs=None)
    assert {_native_threads(a) for a in pinned.artifacts} == {1}
    np.testing.assert_array_equal(pinned.predictions, free.predictions)


def test_tune_pins_its_trials_but_keeps_the_pin_out_of_best_params(tmp_path):
    X, y = _data()
    best, study = tune("lightgbm", Datasets.temporal_split(X, y), n_trials=1, storage=f"sqlite:///{tmp_path}/o.db",
                       calibration="sigmoid", hpo_params={"n_estimators": 5})
    assert "n_jobs" not in best and best["n_estimators"] == 5


@pytest.mark.parametrize("model", ["xgboost", "lightgbm"])
def test_a_models_own_fit_takes_the_threads_its_caller_allows(model):
    X, y = _data()
    estimator = registry[model](n_estimators=3)
    with threadpool_limits(limits=1):
        assert estimator.fit(X, y).native_.get_params()["n_jobs"] == 1
    assert estimator.fit(X, y).native_.get_params()["n_jobs"] == _openmp_effective_n_threads()
    assert estimator.get_params()["n_jobs"] is None  # the constructor parameter is never changed


def _threads_of_a_fit(X, y, seed):
    from cvn_sklearn import registry

    return registry["xgboost"](n_estimators=3, random_state=seed).fit(X, y).native_.get_params()["n_jobs"]


def test_a_models_fit_in_joblib_workers_takes_its_share_of_the_cores():
    X, y = _data()
    threads = Parallel(n_jobs=2, backend="loky")(delayed(_threads_of_a_fit)(X, y, seed) for seed in range(2))
    assert threads == [max(1, _openmp_effective_n_threads() // 2)] * 2
