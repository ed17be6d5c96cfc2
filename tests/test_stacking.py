"""StackingClassifier on any splitter, coverage policy, shared OOS cache, meta-learners."""

import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
import sklearn
from fit_counting import FITS, CountingClassifier, reset
from sklearn.base import clone
from sklearn.ensemble import StackingClassifier as SklearnStackingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold, ShuffleSplit, TimeSeriesSplit
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from cvn_sklearn.model_selection import WalkForwardSplit
from cvn_sklearn.blending import BlendClassifier, ShrunkLogitBlend
from cvn_sklearn.oos_store import default_store
from cvn_sklearn.stacking import StackingClassifier


@pytest.fixture(autouse=True)
def fresh_cache():
    default_store().clear()
    reset()
    yield
    default_store().clear()


@pytest.fixture
def data():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(120, 4))
    y = np.where(X[:, 0] - 0.5 * X[:, 1] + rng.normal(size=120) > 0, "buy", "hold")
    return X, y


def _stack(cv, final_estimator=None, **params):
    bases = [("a", CountingClassifier("a")), ("b", CountingClassifier("b", C=0.1))]
    return StackingClassifier(bases, final_estimator, cv=cv, **params)


@parametrize_with_checks([StackingClassifier([LogisticRegression(), GaussianNB()], cv=3)])
def test_stacking_passes_sklearn_checks(estimator, check):
    check(estimator)


def test_stacking_matches_sklearn_on_a_partition_splitter(data):
    X, y = data
    bases = [("lr", LogisticRegression()), ("nb", GaussianNB())]
    ours = StackingClassifier(bases, cv=KFold(5), cache=False).fit(X, y)
    theirs = SklearnStackingClassifier(bases, cv=KFold(5)).fit(X, y)
    assert ours.coverage_.all()
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X))
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))


@pytest.mark.parametrize("cv", [TimeSeriesSplit(4), WalkForwardSplit(4, test_size=20, gap=2)])
def test_stacking_trains_meta_learner_only_on_covered_rows(data, cv):
    X, y = data
    with pytest.raises(ValueError, match="only works for partitions"):
        SklearnStackingClassifier([("lr", LogisticRegression())], cv=cv).fit(X, y)
    stack = _stack(cv, final_estimator=CountingClassifier("meta")).fit(X, y)
    tested = np.concatenate([test for _, test in cv.split(X)])
    np.testing.assert_array_equal(np.flatnonzero(stack.coverage_), tested)
    assert ("meta", len(tested), False) in CountingClassifier.sizes
    assert {("a", 120, False), ("b", 120, False)} <= set(CountingClassifier.sizes)  # refit on all rows
    assert stack.predict_proba(X).shape == (120, 2) and set(stack.predict(X)) <= {"buy", "hold"}


def test_stacking_defaults_to_walk_forward_split(data):
    X, y = data
    stack = StackingClassifier([LogisticRegression()]).fit(X, y)
    np.testing.assert_array_equal(np.flatnonzero(stack.coverage_), np.arange(20, 120))


def test_stacking_accepts_pipelines_and_bare_estimators_and_pandas(data):
    X, y = data
    X = pd.DataFrame(X, columns=["ret_1", "ret_5", "vol", "rsi"])
    stack = StackingClassifier([make_pipeline(StandardScaler(), LogisticRegression()), GaussianNB()]).fit(X, y)
    assert list(stack.named_estimators_) == ["pipeline", "gaussiannb"]
    np.testing.assert_array_equal(stack.feature_names_in_, X.columns)
    assert list(stack.get_feature_names_out()) == ["stackingclassifier_pipeline", "stackingclassifier_gaussiannb"]
    with pytest.warns(UserWarning, match="feature names"):
        stack.predict(X.to_numpy())


def test_stacking_params_reach_base_models_by_name():
    stack = _stack(cv=3)
    assert stack.get_params()["b__C"] == 0.1
    stack.set_params(b__C=5.0, a=GaussianNB())
    assert stack.get_params()["b__C"] == 5.0 and isinstance(stack.named_estimators["a"], GaussianNB)
    assert clone(stack).get_params()["b__C"] == 5.0


def test_stacking_explains_that_registry_names_have_no_params():
    stack = StackingClassifier(["lightgbm", ("lr", LogisticRegression())])
    with pytest.raises(ValueError, match=r"registry name 'lightgbm'.*set_params\(lightgbm=registry\['lightgbm'\]"):
        stack.set_params(lightgbm__n_estimators=10)


@pytest.mark.parametrize(
    ("estimators", "match"),
    [([], "is empty; give at least one base model"), ([42], "is not a registry name, an estimator")],
)
def test_stacking_rejects_bad_base_models(data, estimators, match):
    with pytest.raises(ValueError, match=match):
        StackingClassifier(estimators).fit(*data)


def test_stacking_warns_and_skips_folds_that_train_on_one_class(data):
    X, y = data
    y = np.where(np.arange(120) < 30, "hold", y)
    with pytest.warns(UserWarning, match="1 of 5 folds train on a single class; they are skipped"):
        stack = StackingClassifier([LogisticRegression()], cv=WalkForwardSplit(5, test_size=20)).fit(X, y)
    np.testing.assert_array_equal(np.flatnonzero(stack.coverage_), np.arange(40, 120))


def test_stacking_refuses_single_class_coverage(data):
    X, _ = data
    y = np.r_[np.zeros(60), np.ones(60)]
    with pytest.raises(ValueError, match="rows with out-of-sample predictions hold a single class"):
        StackingClassifier([LogisticRegression()], cv=WalkForwardSplit(2, test_size=20)).fit(X, y)


def test_stacking_refuses_overlapping_test_sets(data):
    with pytest.raises(ValueError, match="more than one test set"):
        StackingClassifier([LogisticRegression()], cv=ShuffleSplit(3, random_state=0)).fit(*data)


def test_stacking_routes_t1_to_the_splitter_and_sample_weight_to_models(data):
    X, y = data
    t1 = np.minimum(np.arange(120) + 5, 119)
    with sklearn.config_context(enable_metadata_routing=True):
        cv = WalkForwardSplit(3, test_size=20).set_split_request(t1=True)
        base = CountingClassifier("a").set_fit_request(sample_weight=True)
        StackingClassifier([base], cv=cv).fit(X, y, t1=t1, sample_weight=np.ones(120))
    fold_sizes = sorted(size for label, size, weighted in CountingClassifier.sizes if label == "a" and weighted)
    assert fold_sizes == [55, 75, 95, 120]  # each fold purged of the 5 rows whose labels reach the test block


def test_stacking_passes_sample_weight_without_routing(data):
    X, y = data
    StackingClassifier([CountingClassifier("a")], CountingClassifier("meta"), cv=3).fit(
        X, y, sample_weight=np.ones(120))
    assert all(weighted for _, _, weighted in CountingClassifier.sizes)


def test_stacking_offers_predict_proba_before_fit_with_the_default_final_estimator():
    assert not hasattr(SklearnStackingClassifier([("lr", LogisticRegression())]), "predict_proba")
    stack = StackingClassifier([LogisticRegression()])
    assert hasattr(stack, "predict_proba") and hasattr(stack, "decision_function")
    from sklearn.svm import LinearSVC

    assert not hasattr(StackingClassifier([LogisticRegression()], LinearSVC()), "predict_proba")


def test_stacking_pickles_and_clones_after_fit(data):
    X, y = data
    stack = _stack(cv=3).fit(X, y)
    np.testing.assert_allclose(pickle.loads(pickle.dumps(stack)).predict_proba(X), stack.predict_proba(X))
    assert "a" in stack._repr_html_()


# --- shared OOS cache ---------------------------------------------------------


def test_stackers_share_base_fits_in_process(data):
    X, y = data
    cv = WalkForwardSplit(4, test_size=20)
    for final in [None, BlendClassifier(), BlendClassifier("auc"), ShrunkLogitBlend()]:
        _stack(cv, final_estimator=final, stack_method="predict_proba").fit(X, y)
    assert FITS == {"a": 4 + 1, "b": 4 + 1}


def test_stacking_cache_false_refits_every_time(data):
    X, y = data
    for _ in range(2):
        _stack(cv=3, cache=False).fit(X, y)
    assert FITS == {"a": 2 * (3 + 1), "b": 2 * (3 + 1)}


def test_stacking_cache_keys_on_params_data_and_splitter(data):
    X, y = data
    _stack(cv=3).fit(X, y)
    _stack(cv=3).set_params(b__C=0.2).fit(X, y)  # b changed: b refit, a reused
    assert FITS == {"a": 4, "b": 8}
    _stack(cv=KFold(4)).fit(X, y)  # new folds: OOS recomputed, full refits reused
    assert FITS == {"a": 8, "b": 12}
    _stack(cv=3).fit(X[::-1], y[::-1])  # new data: everything recomputed
    assert FITS == {"a": 12, "b": 16}


def test_stacking_cache_returns_independent_copies(data):
    X, y = data
    first, second = _stack(cv=3).fit(X, y), _stack(cv=3).fit(X, y)
    assert first.estimators_[0] is not second.estimators_[0]
    np.testing.assert_allclose(first.predict_proba(X), second.predict_proba(X))


def test_stacking_disk_cache_is_reused_by_another_process(data, tmp_path):
    X, y = data
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    script = textwrap.dedent(f"""
        import sys
        sys.path[:0] = [{str(tmp_path)!r}, {str(__file__.rsplit('/', 1)[0])!r}]
        import numpy as np
        from fit_counting import FITS, CountingClassifier
        from cvn_sklearn.stacking import StackingClassifier
        X, y = np.load({str(tmp_path / 'X.npy')!r}), np.load({str(tmp_path / 'y.npy')!r})
        StackingClassifier([CountingClassifier("a")], cv=3, cache={str(tmp_path / 'cache')!r}).fit(X, y)
        print(FITS["a"])
    """)
    runs = [subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True) for _ in range(2)]
    assert [run.stdout.strip() for run in runs] == ["4", "0"]


# --- meta-learners --------------------------------------------------------------


@pytest.fixture
def probabilities():
    rng = np.random.RandomState(1)
    y = rng.randint(0, 2, 300)
    good = np.clip(0.5 + 0.35 * (y - 0.5) + 0.1 * rng.normal(size=300), 0.01, 0.99)
    noise = rng.uniform(size=300)
    return np.column_stack([good, noise, 1 - good]), y


def test_blend_auc_weights_are_proportional_to_auc(probabilities):
    P, y = probabilities
    from sklearn.metrics import roc_auc_score

    aucs = np.array([roc_auc_score(y, column) for column in P.T])
    np.testing.assert_allclose(BlendClassifier("auc").fit(P, y).weights_, aucs / aucs.sum())


def test_blend_nnls_keeps_only_helpful_members(probabilities):
    P, y = probabilities
    blend = BlendClassifier("nnls").fit(P, y)
    assert blend.weights_[0] > 0.5 and blend.weights_[2] == 0.0
    residual = y - blend.intercept_ - P @ blend.weights_
    np.testing.assert_allclose(residual.mean(), 0.0, atol=1e-12)  # the intercept is fitted


def test_blend_rejects_inputs_that_are_not_probabilities():
    with pytest.raises(ValueError, match=r"outside \[0, 1\].*stack_method='predict_proba'"):
        BlendClassifier().fit([[2.0], [-1.0]], [0, 1])


def test_blend_rejects_multiclass():
    with pytest.raises(ValueError, match="Only binary classification is supported; got 3"):
        ShrunkLogitBlend().fit([[0.1], [0.5], [0.9]], [0, 1, 2])


def test_shrunk_logit_blend_moves_from_free_to_equal_weights(probabilities):
    P, y = probabilities
    free = ShrunkLogitBlend(shrinkage=0.0).fit(P[:, :2], y).coef_
    shrunk = ShrunkLogitBlend(shrinkage=1e4).fit(P[:, :2], y).coef_
    assert abs(free[0] - free[1]) > 1.0
    assert abs(shrunk[0] - shrunk[1]) < 0.01 * abs(free[0] - free[1])
    assert shrunk.mean() > 0.1  # shrunk toward a common weight, not toward zero
