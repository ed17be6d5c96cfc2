"""Behaviour of the one adapter, the same for every registered model.

Real fits on small data (no mocks of the libraries): labels of any dtype,
multiclass, pandas input, time-ordered early stopping, the one class-balancing
implementation, metadata routing of ``sample_weight``, pandas ``category``
columns, native hyperparameters, and input errors with their messages.
"""

import importlib

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import sklearn
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, KFold, cross_validate
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.class_weight import compute_sample_weight
from structlog.testing import capture_logs

from cvn_sklearn.registry import registry

MODELS = sorted(registry.models)
# Small models, one thread each (CatBoost's pool ignores OMP_NUM_THREADS): the suite runs
# with ``-n 2`` on shared cores.
SMALL = {
    "xgboost": dict(n_estimators=20, n_jobs=1),
    "lightgbm": dict(n_estimators=20, n_jobs=1),
    "catboost": dict(iterations=20, thread_count=1),
    "random_forest": dict(n_estimators=20),
    "extra_trees": dict(n_estimators=20),
    "hist_gb": dict(max_iter=20),
}
# Iterative models with a fast learning rate: a clear signal is learnt in 30 rounds.
FAST = {
    "xgboost": dict(n_estimators=30, learning_rate=0.3, n_jobs=1),
    "lightgbm": dict(n_estimators=30, learning_rate=0.3, n_jobs=1),
    "catboost": dict(iterations=30, learning_rate=0.3, thread_count=1),
    "hist_gb": dict(max_iter=30, learning_rate=0.3),
}
# Early stopping: a slower learning rate, so ordinary validation rows keep improving for most rounds.
EARLY = {
    "xgboost": dict(n_estimators=40, learning_rate=0.1, n_jobs=1),
    "lightgbm": dict(n_estimators=40, learning_rate=0.1, n_jobs=1),
    "catboost": dict(iterations=40, learning_rate=0.1, thread_count=1),
    "hist_gb": dict(max_iter=40, learning_rate=0.1),
}
ITERATIVE = ["catboost", "hist_gb", "lightgbm", "xgboost"]
NON_ITERATIVE = ["extra_trees", "logreg", "random_forest"]
CATEGORICAL = ITERATIVE
NATIVE = {
    "xgboost": ("xgboost", "XGBClassifier"),
    "lightgbm": ("lightgbm", "LGBMClassifier"),
    "catboost": ("catboost", "CatBoostClassifier"),
    "logreg": ("sklearn.linear_model", "LogisticRegression"),
    "random_forest": ("sklearn.ensemble", "RandomForestClassifier"),
    "extra_trees": ("sklearn.ensemble", "ExtraTreesClassifier"),
    "hist_gb": ("sklearn.ensemble", "HistGradientBoostingClassifier"),
}
# One native hyperparameter per model, by its native name, with two non-default values.
NATIVE_PARAM = {
    "xgboost": ("max_depth", 2, 4),
    "lightgbm": ("num_leaves", 4, 8),
    "catboost": ("depth", 2, 4),
    "logreg": ("C", 0.01, 10.0),
    "random_forest": ("min_samples_leaf", 5, 20),
    "extra_trees": ("min_samples_leaf", 5, 20),
    "hist_gb": ("max_leaf_nodes", 4, 8),
}
# A native parameter that is not a constructor parameter, passed through ``params``.
EXTRA_NATIVE = {
    "xgboost": ("max_delta_step", 1.0),
    "lightgbm": ("min_split_gain", 0.1),
    "catboost": ("leaf_estimation_iterations", 3),
    "logreg": ("intercept_scaling", 2.0),
    "random_forest": ("criterion", "entropy"),
    "extra_trees": ("criterion", "entropy"),
    "hist_gb": ("tol", 1e-5),
}



def make(name, **params):
    return registry[name](**{**SMALL.get(name, {}), **params})


def binary_data(n=300, n_features=4, seed=0, buy_share=None):
    """A learnable binary problem: the label follows feature 0 plus noise."""
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, n_features))
    score = X[:, 0] + 0.3 * rng.normal(size=n)
    threshold = 0.0 if buy_share is None else np.quantile(score, 1 - buy_share)
    return X, (score > threshold).astype(int)


def test_tables_cover_every_model():
    assert set(NATIVE) == set(MODELS) == set(NATIVE_PARAM) == set(EXTRA_NATIVE)
    assert sorted(ITERATIVE + NON_ITERATIVE) == MODELS


# -- labels ------------------------------------------------------------------------------
@pytest.mark.parametrize("labels", [("hold", "buy"), (-1, 1), (False, True)], ids=["str", "minus_one_one", "bool"])
@pytest.mark.parametrize("name", MODELS)
def test_classes_keep_user_labels_of_any_dtype(name, labels):
    X, y01 = binary_data()
    y = np.array(labels, dtype=object if isinstance(labels[0], str) else None)[y01]
    clf = make(name).fit(X, y)
    np.testing.assert_array_equal(clf.classes_, np.unique(y))
    assert clf.classes_.dtype.kind == y.dtype.kind
    pred = clf.predict(X)
    assert set(pred) <= set(labels)
    assert pred.dtype.kind == y.dtype.kind
    assert np.mean(pred == y) > 0.8  # labels are mapped back the right way round
    proba = clf.predict_proba(X)
    # column j is P(classes_[j]): the most probable column is the predicted label
    np.testing.assert_array_equal(clf.classes_[proba.argmax(axis=1)], pred)


@pytest.mark.parametrize("name", MODELS)
def test_multiclass_three_classes_proba_rows_sum_to_one(name):
    rng = np.random.RandomState(1)
    X = rng.normal(size=(300, 3))
    y = np.array(["down", "flat", "up"], dtype=object)[np.digitize(X[:, 0] + 0.2 * rng.normal(size=300), [-0.5, 0.5])]
    clf = make(name).fit(X, y)
    np.testing.assert_array_equal(clf.classes_, ["down", "flat", "up"])
    proba = clf.predict_proba(X)
    assert proba.shape == (300, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert np.all(proba >= 0)
    pred = clf.predict(X)
    assert set(pred) <= {"down", "flat", "up"}
    assert np.mean(pred == y) > 0.6  # chance is about 1/3


# -- pandas input and fitted attributes ---------------------------------------------------
@pytest.mark.parametrize("name", MODELS)
def test_pandas_input_sets_fitted_attributes(name):
    X, y = binary_data()
    columns = ["ret_1", "vol_20", "rsi_14", "spread"]
    frame = pd.DataFrame(X, columns=columns)
    clf = make(name).fit(frame, pd.Series(y, name="label"))
    np.testing.assert_array_equal(clf.feature_names_in_, columns)
    assert clf.n_features_in_ == 4
    module, cls_name = NATIVE[name]
    assert type(clf.native_) is getattr(importlib.import_module(module), cls_name)
    if name in NON_ITERATIVE:
        assert clf.best_iteration_ is None
        assert not type(clf).iterative
    else:
        assert type(clf.best_iteration_) is int
        assert 0 <= clf.best_iteration_ < clf.n_estimators_final_
        assert type(clf).iterative
    assert clf.training_time_sec_ > 0
    assert clf.predict(frame).shape == (300,)
    with pytest.raises(ValueError, match="feature names"):
        clf.predict(frame[columns[::-1]])


# -- early stopping ------------------------------------------------------------------------
def tail_inverted_data(n=400, tail=0.2, seed=0):
    """The label follows feature 0, except in the last ``tail`` rows, where it is inverted.

    Early stopping on the last rows sees a validation loss that only gets worse.
    """
    X, y = binary_data(n=n, n_features=3, seed=seed)
    cut = int(n * (1 - tail))
    y = y.copy()
    y[cut:] = 1 - y[cut:]
    tail_first = np.r_[cut:n, 0:cut]
    return X, y, tail_first


@pytest.mark.parametrize("name", ITERATIVE)
def test_early_stopping_validates_on_the_last_rows_in_order(name):
    X, y, tail_first = tail_inverted_data()
    params = dict(EARLY[name], early_stopping_rounds=5, validation_fraction=0.2)
    inverted_tail_last = registry[name](**params).fit(X, y)
    inverted_tail_first = registry[name](**params).fit(X[tail_first], y[tail_first])
    # validating on the inverted rows: the first round is already the best one
    # (a shuffled validation split mixes ordinary rows in and stops at round 4-9 here)
    assert inverted_tail_last.best_iteration_ <= 1
    # same rows, inverted ones moved to the front: the last 20% are ordinary rows again
    # (validating on the first rows instead would stop at round 0)
    assert inverted_tail_first.best_iteration_ >= 20
    for clf in (inverted_tail_last, inverted_tail_first):
        assert clf.n_estimators_final_ == clf.best_iteration_ + 1


@pytest.mark.parametrize("name", ITERATIVE)
def test_early_stopping_validation_rows_are_left_out_of_the_fit(name):
    X, y, _ = tail_inverted_data()
    params = dict(EARLY[name], early_stopping_rounds=5, validation_fraction=0.2)
    with capture_logs() as logs:
        clf = registry[name](**params).fit(X, y)
    started = next(e for e in logs if e["event"] == "training_started")
    complete = next(e for e in logs if e["event"] == "model_fit")
    assert started["n_val_early_stopping"] == 80
    assert started["dataset_n_train"] == complete["dataset_n_train"] == 320
    assert started["early_stopping_rounds"] == 5
    # trained on the first 320 rows only, it still predicts the ordinary relation everywhere
    assert np.mean(clf.predict(X[:320]) == y[:320]) > 0.8


@pytest.mark.parametrize("name", ITERATIVE)
def test_early_stopping_best_iteration_is_used_by_predict(name):
    X, y, _ = tail_inverted_data()
    clf = registry[name](**EARLY[name], early_stopping_rounds=5, validation_fraction=0.2).fit(X, y)
    best = clf.best_iteration_
    assert clf.n_estimators_final_ == best + 1
    native = clf.native_
    proba = clf.predict_proba(X)
    if name == "xgboost":
        trained = native.get_booster().num_boosted_rounds()
        assert trained > best + 1  # it went on for early_stopping_rounds more rounds
        np.testing.assert_allclose(proba, native.predict_proba(X, iteration_range=(0, best + 1)))
        assert not np.allclose(proba, native.predict_proba(X, iteration_range=(0, trained)))
    elif name == "lightgbm":
        assert native.best_iteration_ == best + 1  # LightGBM counts rounds from 1
        assert len(native.evals_result_["valid_0"]["binary_logloss"]) > best + 1  # it went on past the best
        assert native.booster_.current_iteration() == best + 1  # the kept booster stops at the best round
        np.testing.assert_allclose(proba, native.predict_proba(X, num_iteration=best + 1))
    elif name == "catboost":
        assert native.tree_count_ == best + 1  # use_best_model shrinks the model
        assert len(native.evals_result_["validation"]["Logloss"]) > best + 1
    elif name == "hist_gb":
        assert native.n_iter_ == best + 1  # refitted with exactly the best number of rounds
        assert native.get_params()["max_iter"] == best + 1
        assert not native.get_params()["early_stopping"]  # never sklearn's own shuffled split
    else:  # pragma: no cover - a new iterative model must be added above
        pytest.fail(f"no native check for {name}")


@pytest.mark.parametrize("name", ITERATIVE)
def test_early_stopping_off_by_default_uses_every_round(name):
    X, y, _ = tail_inverted_data()
    clf = registry[name](**FAST[name]).fit(X, y)
    assert clf.n_estimators_final_ == 30
    assert clf.best_iteration_ == 29


@pytest.mark.parametrize("name", ITERATIVE)
def test_early_stopping_too_few_rows_raises(name):
    X, y = binary_data(n=10)
    clf = registry[name](**SMALL[name], early_stopping_rounds=3, validation_fraction=0.9)
    with pytest.raises(ValueError, match=r"early stopping needs both fit and validation rows: 10 rows .* leaves 1 to fit"):
        clf.fit(X, y)


@pytest.mark.parametrize("name", NON_ITERATIVE)
def test_early_stopping_not_a_parameter_of_non_iterative_models(name):
    assert "early_stopping_rounds" not in registry[name]().get_params()
    with pytest.raises(TypeError, match="early_stopping_rounds"):
        registry[name](early_stopping_rounds=5)


# -- class balancing -----------------------------------------------------------------------
@pytest.mark.parametrize("name", MODELS)
def test_class_weight_balanced_equals_sklearn_sample_weight(name):
    X, y = binary_data(buy_share=0.2)
    X_test, _ = binary_data(seed=1)
    balanced = make(name, class_weight="balanced").fit(X, y)
    weighted = make(name).fit(X, y, sample_weight=compute_sample_weight("balanced", y))
    unweighted = make(name).fit(X, y)
    np.testing.assert_allclose(balanced.predict_proba(X_test), weighted.predict_proba(X_test))
    assert not np.allclose(balanced.predict_proba(X_test), unweighted.predict_proba(X_test))


@pytest.mark.parametrize("name", MODELS)
def test_class_weight_dict_keyed_by_user_labels(name):
    X, y01 = binary_data(buy_share=0.3)
    X_test, _ = binary_data(seed=1)
    y = np.array(["hold", "buy"], dtype=object)[y01]
    with capture_logs() as logs:
        by_dict = make(name, class_weight={"buy": 3.0, "hold": 1.0}).fit(X, y)
    manual = make(name).fit(X, y, sample_weight=np.where(y == "buy", 3.0, 1.0))
    np.testing.assert_allclose(by_dict.predict_proba(X_test), manual.predict_proba(X_test))
    [event] = [e for e in logs if e["event"] == "class_balance_applied"]
    assert event["weight_per_class"] == {"buy": 3.0, "hold": 1.0}
    assert event["class_counts"] == {"buy": int((y == "buy").sum()), "hold": int((y == "hold").sum())}
    assert event["class_weight"] == "dict"
    assert event["model_type"] == name
    assert event["user_sample_weight"] is False


@pytest.mark.parametrize("name", MODELS)
def test_class_weight_combined_with_sample_weight_is_the_product(name):
    X, y = binary_data(buy_share=0.25)
    X_test, _ = binary_data(seed=1)
    w = np.random.RandomState(3).uniform(0.2, 3.0, size=len(y))
    with capture_logs() as logs:
        combined = make(name, class_weight="balanced").fit(X, y, sample_weight=w)
    product = make(name).fit(X, y, sample_weight=w * compute_sample_weight("balanced", y))
    user_only = make(name).fit(X, y, sample_weight=w)
    np.testing.assert_allclose(combined.predict_proba(X_test), product.predict_proba(X_test))
    assert not np.allclose(combined.predict_proba(X_test), user_only.predict_proba(X_test))
    [event] = [e for e in logs if e["event"] == "class_balance_applied"]
    expected = compute_sample_weight("balanced", y)
    assert event["weight_per_class"] == pytest.approx({0: expected[y == 0][0], 1: expected[y == 1][0]})
    assert event["weight_per_class"][1] == pytest.approx(len(y) / (2 * (y == 1).sum()))
    assert event["class_weight"] == "balanced"
    assert event["user_sample_weight"] is True


def test_no_class_balance_event_without_class_weight():
    X, y = binary_data()
    with capture_logs() as logs:
        make("logreg").fit(X, y, sample_weight=np.full(len(y), 2.0))
    assert "class_balance_applied" not in [e["event"] for e in logs]


def test_class_weight_rejects_unknown_string():
    X, y = binary_data()
    with pytest.raises(InvalidParameterError, match="'class_weight' parameter"):
        make("logreg", class_weight="balance").fit(X, y)


# -- metadata routing ----------------------------------------------------------------------
@pytest.mark.parametrize("name", MODELS)
def test_sample_weight_routed_through_cross_validate(name):
    X, y = binary_data(n=240)
    w = np.random.RandomState(7).choice([0.1, 1.0, 10.0], size=len(y))
    cv = KFold(n_splits=3)
    with sklearn.config_context(enable_metadata_routing=True):
        clf = make(name).set_fit_request(sample_weight=True).set_score_request(sample_weight=False)
        routed = cross_validate(clf, X, y, cv=cv, params={"sample_weight": w}, return_estimator=True)
        plain = cross_validate(clf, X, y, cv=cv, return_estimator=True)
    train, _ = next(cv.split(X, y))
    manual = make(name).fit(X[train], y[train], sample_weight=w[train])
    np.testing.assert_allclose(routed["estimator"][0].predict_proba(X), manual.predict_proba(X))
    assert not np.allclose(routed["estimator"][0].predict_proba(X), plain["estimator"][0].predict_proba(X))
    assert not sklearn.get_config()["enable_metadata_routing"]


# -- pandas category columns ---------------------------------------------------------------
def sector_frame(n=400, seed=0):
    """The label depends on the category column only; the numeric column is noise."""
    rng = np.random.RandomState(seed)
    sector = rng.choice(list("abcdef"), size=n)
    y = np.isin(sector, ["a", "c", "e"]).astype(int)
    flip = rng.rand(n) < 0.1
    y[flip] = 1 - y[flip]
    X = pd.DataFrame({"noise": rng.normal(size=n), "sector": pd.Categorical(sector, categories=list("abcdef"))})
    return X, y


@pytest.mark.parametrize("name", CATEGORICAL)
def test_category_columns_native_support(name):
    X, y = sector_frame()
    X_test, y_test = sector_frame(seed=1)
    clf = registry[name](**FAST[name]).fit(X, y)
    assert clf.categorical_features_ == ["sector"]
    assert clf.n_features_in_ == 2
    np.testing.assert_array_equal(clf.feature_names_in_, ["noise", "sector"])
    assert np.mean(clf.predict(X_test) == y_test) > 0.8  # chance is 0.5; noise column carries nothing
    again = clone(clf)
    assert not hasattr(again, "native_")
    assert again.get_params() == clf.get_params()
    again.fit(X, y)
    assert again.categorical_features_ == ["sector"]
    np.testing.assert_allclose(again.predict_proba(X_test), clf.predict_proba(X_test))


def test_catboost_raw_clone_breaks_with_cat_features_ours_does_not():
    catboost = pytest.importorskip("catboost")
    X, y = sector_frame()
    raw = catboost.CatBoostClassifier(iterations=10, verbose=False, allow_writing_files=False, cat_features=["sector"])
    with pytest.raises(RuntimeError, match="cat_features"):  # catboost issue #3078, catboost 1.2.10
        clone(raw)
    ours = registry["catboost"](iterations=10).fit(X, y)
    assert ours.native_.get_cat_feature_indices() == [1]
    clone(ours).fit(X, y)
    clone(clone(ours)).fit(X, y)


@pytest.mark.parametrize("name", NON_ITERATIVE)
def test_category_columns_rejected_where_not_native(name):
    X, y = sector_frame()
    X["region"] = pd.Categorical(np.where(y == 1, "eu", "us"))
    with pytest.raises(ValueError, match=r"does not support pandas 'category' columns natively; got \['sector', 'region'\]"):
        make(name).fit(X, y)


@pytest.mark.parametrize("name", CATEGORICAL)
def test_category_columns_must_match_at_predict(name):
    X, y = sector_frame()
    clf = registry[name](**SMALL[name]).fit(X, y)
    as_strings = X.assign(sector=X["sector"].astype(str))
    with pytest.raises(ValueError, match=r"same pandas 'category' columns as at fit time: expected \['sector'\], got \[\]"):
        clf.predict(as_strings)
    with pytest.raises(ValueError, match="feature names"):
        clf.predict(X.rename(columns={"sector": "industry"}))


@pytest.mark.parametrize("name", CATEGORICAL)
def test_category_frame_rejects_infinity_at_fit_and_predict(name):
    X, y = sector_frame()
    clf = registry[name](**SMALL[name]).fit(X, y)
    bad = X.copy()
    bad.loc[3, "noise"] = np.inf
    with pytest.raises(ValueError, match="Input X contains infinity"):
        clf.predict(bad)
    with pytest.raises(ValueError, match="Input X contains infinity"):
        registry[name](**SMALL[name]).fit(bad, y)


@pytest.mark.parametrize("name", CATEGORICAL)
def test_category_values_not_codes_decide_predictions(name):
    X, y = sector_frame()
    X_test, _ = sector_frame(seed=1)
    clf = registry[name](**FAST[name]).fit(X, y)
    expected = clf.predict_proba(X_test)
    reordered = X_test.assign(sector=X_test["sector"].cat.reorder_categories(list("fedcba")))
    np.testing.assert_allclose(clf.predict_proba(reordered), expected)
    rows = X_test["sector"].isin(["a", "b"]).to_numpy()
    subset = X_test[rows].assign(sector=lambda f: f["sector"].cat.remove_unused_categories())
    np.testing.assert_allclose(clf.predict_proba(subset), expected[rows])


@pytest.mark.parametrize("name", CATEGORICAL)
def test_category_missing_values_accepted_at_fit_and_predict(name):
    # raw CatBoost rejects NaN in cat_features; the adapter gives it a category of its own
    X, y = sector_frame()
    X.loc[::10, "sector"] = np.nan
    clf = registry[name](**FAST[name]).fit(X, y)
    proba = clf.predict_proba(X)
    assert np.isfinite(proba).all()
    known = X["sector"].notna().to_numpy()
    assert np.mean(clf.predict(X)[known] == y[known]) > 0.8


@pytest.mark.parametrize("name", CATEGORICAL)
def test_category_unseen_at_fit_is_predicted_as_missing(name):
    # raw XGBoost raises on a category it did not see in training; the others predict
    X, y = sector_frame()
    clf = registry[name](**SMALL[name]).fit(X, y)
    unseen = X.assign(sector=pd.Categorical(["z"] * len(X)))
    missing = X.assign(sector=pd.Categorical([np.nan] * len(X), categories=list("abcdef")))
    np.testing.assert_allclose(clf.predict_proba(unseen), clf.predict_proba(missing))
    assert np.isfinite(clf.predict_proba(unseen)).all()


# -- native hyperparameters ----------------------------------------------------------------
@pytest.mark.parametrize("name", MODELS)
def test_get_params_shows_native_names_and_reaches_native(name):
    param, value, other = NATIVE_PARAM[name]
    clf = make(name, **{param: value})
    params = clf.get_params()
    assert params[param] == value
    assert {"class_weight", "params"} <= set(params)
    assert ({"early_stopping_rounds", "validation_fraction"} <= set(params)) == (name in ITERATIVE)
    X, y = binary_data()
    clf.fit(X, y)
    assert clf.native_.get_params()[param] == value
    clf.set_params(**{param: other})
    assert clf.get_params()[param] == other
    copy = clone(clf)
    assert copy.get_params() == clf.get_params()
    assert copy.fit(X, y).native_.get_params()[param] == other


@pytest.mark.parametrize("name", MODELS)
def test_grid_search_over_native_param(name):
    param, value, other = NATIVE_PARAM[name]
    X, y = binary_data(n=200)
    search = GridSearchCV(make(name), {param: [value, other]}, cv=2).fit(X, y)
    assert search.best_params_[param] in (value, other)
    assert search.best_estimator_.native_.get_params()[param] == search.best_params_[param]
    assert len(search.cv_results_["params"]) == 2


@pytest.mark.parametrize("name", MODELS)
def test_params_passes_extra_native_parameter(name):
    param, value = EXTRA_NATIVE[name]
    assert param not in registry[name]().get_params()
    X, y = binary_data()
    clf = make(name, params={param: value}).fit(X, y)
    assert clf.native_.get_params()[param] == value
    assert clone(clf).get_params()["params"] == {param: value}


@pytest.mark.parametrize("name", MODELS)
def test_params_repeating_constructor_parameter_raises(name):
    param, value, _ = NATIVE_PARAM[name]
    X, y = binary_data(n=50)
    with pytest.raises(ValueError, match=rf"params repeats the constructor parameters \['{param}'\]"):
        make(name, params={param: value}).fit(X, y)
    with pytest.raises(ValueError, match=r"params repeats the constructor parameters \['class_weight'\]"):
        make(name, params={"class_weight": "balanced"}).fit(X, y)


# -- input errors --------------------------------------------------------------------------
@pytest.mark.parametrize("name", MODELS)
def test_rejects_1d_X(name):
    X, y = binary_data(n=50)
    with pytest.raises(ValueError, match="Expected 2D array, got 1D array instead"):
        make(name).fit(X[:, 0], y)


@pytest.mark.parametrize("name", MODELS)
def test_rejects_wrong_n_features_at_predict(name):
    X, y = binary_data(n=80)
    clf = make(name).fit(X, y)
    with pytest.raises(ValueError, match=r"X has 3 features, but \w+ is expecting 4 features as input"):
        clf.predict(X[:, :3])
    with pytest.raises(ValueError, match=r"X has 3 features, but \w+ is expecting 4 features as input"):
        clf.predict_proba(X[:, :3])


@pytest.mark.parametrize("name", MODELS)
def test_nan_rejected_or_accepted_as_the_native_model_does(name):
    X, y = binary_data(n=120)
    X[::7, 1] = np.nan
    clf = make(name)
    if name == "logreg":
        assert not type(clf).allow_nan
        with pytest.raises(ValueError, match="Input X contains NaN"):
            clf.fit(X, y)
    else:
        assert type(clf).allow_nan
        proba = clf.fit(X, y).predict_proba(X)
        assert np.isfinite(proba).all()
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)


@pytest.mark.parametrize("name", MODELS)
def test_rejects_infinity(name):
    X, y = binary_data(n=50)
    X[3, 0] = np.inf
    with pytest.raises(ValueError, match="Input X contains infinity"):
        make(name).fit(X, y)


@pytest.mark.parametrize("name", MODELS)
def test_rejects_a_single_class(name):
    X, _ = binary_data(n=50)
    with pytest.raises(ValueError, match=r"y contains only one class \('buy'\)"):
        make(name).fit(X, np.full(50, "buy", dtype=object))


@pytest.mark.parametrize("name", MODELS)
def test_rejects_only_one_class_with_nonzero_weight(name):
    X, y = binary_data(n=60)
    w = (y == 1).astype(float)
    with pytest.raises(ValueError, match="Only one class has non-zero sample weight"):
        make(name).fit(X, y, sample_weight=w)


@pytest.mark.parametrize("name", MODELS)
def test_rejects_negative_sample_weight(name):
    X, y = binary_data(n=60)
    w = np.ones(60)
    w[5] = -1.0
    with pytest.raises(ValueError, match="sample_weight holds negative values"):
        make(name).fit(X, y, sample_weight=w)


@pytest.mark.parametrize("name", MODELS)
def test_rejects_sparse_input(name):
    X, y = binary_data(n=60)
    with pytest.raises(TypeError, match="Sparse data was passed"):
        make(name).fit(sp.csr_matrix(X), y)


@pytest.mark.parametrize("name", MODELS)
def test_predict_before_fit_raises_not_fitted(name):
    X, _ = binary_data(n=10)
    with pytest.raises(NotFittedError, match="is not fitted yet"):
        make(name).predict(X)


def test_regression_target_rejected():
    X, _ = binary_data(n=50)
    with pytest.raises(ValueError, match="Unknown label type"):
        make("logreg").fit(X, np.linspace(0, 1, 50))
