"""WalkForwardSplit invariants (hypothesis) and oos_predict against cross_val_predict."""

import numpy as np
import pandas as pd
import pytest
import sklearn
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold, ShuffleSplit, StratifiedKFold, TimeSeriesSplit, cross_val_predict

from cvn_sklearn.model_selection import WalkForwardSplit, oos_predict


@st.composite
def walk_forward_cases(draw):
    n_splits = draw(st.integers(1, 5))
    test_size = draw(st.integers(1, 6))
    gap = draw(st.integers(0, 4))
    n_samples = n_splits * test_size + gap + draw(st.integers(1, 30))
    max_train_size = draw(st.none() | st.integers(1, n_samples))
    embargo = draw(st.integers(0, 4))
    cv = WalkForwardSplit(n_splits, test_size=test_size, max_train_size=max_train_size, gap=gap, embargo=embargo)
    return cv, n_samples


def _folds(cv, n_samples, **split_params):
    try:
        return list(cv.split(np.zeros((n_samples, 1)), **split_params))
    except ValueError as exc:
        assert "no training rows" in str(exc)
        return None


@settings(max_examples=150, deadline=None)
@given(walk_forward_cases())
def test_walk_forward_trains_only_on_earlier_rows_with_gap(case):
    cv, n_samples = case
    for train, test in _folds(cv, n_samples) or []:
        assert train.max() < test.min() - cv.gap
        if cv.max_train_size is not None:
            assert train.size <= cv.max_train_size


@settings(max_examples=150, deadline=None)
@given(walk_forward_cases())
def test_walk_forward_respects_embargo_after_every_earlier_test_block(case):
    cv, n_samples = case
    folds = _folds(cv, n_samples) or []
    for k, (train, _) in enumerate(folds):
        for _, earlier_test in folds[:k]:
            embargoed = np.arange(earlier_test.max() + 1, earlier_test.max() + 1 + cv.embargo)
            assert not np.isin(train, embargoed).any()


@settings(max_examples=150, deadline=None)
@given(walk_forward_cases())
def test_walk_forward_test_blocks_tile_the_tail_in_order(case):
    cv, n_samples = case
    folds = _folds(cv, n_samples)
    if folds is None:
        return
    tests = np.concatenate([test for _, test in folds])
    assert len(folds) == cv.get_n_splits() == cv.n_splits
    np.testing.assert_array_equal(tests, np.arange(n_samples - cv.n_splits * cv.test_size, n_samples))
    assert all(len(test) == cv.test_size for _, test in folds)


@settings(max_examples=150, deadline=None)
@given(walk_forward_cases(), st.data())
def test_walk_forward_purging_removes_exactly_the_overlapping_rows(case, data):
    cv, n_samples = case
    horizons = data.draw(st.lists(st.integers(0, 8), min_size=n_samples, max_size=n_samples))
    t1 = np.arange(n_samples) + np.array(horizons)
    plain, purged = _folds(cv, n_samples), _folds(cv, n_samples, t1=t1)
    if plain is None or purged is None:
        return
    for (train, test), (purged_train, purged_test) in zip(plain, purged):
        np.testing.assert_array_equal(test, purged_test)
        np.testing.assert_array_equal(purged_train, train[t1[train] < test.min()])


def test_walk_forward_on_time_indexed_pandas_purges_by_timestamp():
    index = pd.date_range("2024-01-01", periods=12, freq="D")
    X = pd.DataFrame({"f": np.arange(12.0)}, index=index)
    t1 = pd.Series(index + pd.Timedelta(days=2), index=index)
    train, test = next(WalkForwardSplit(2, test_size=3).split(X, t1=t1))
    np.testing.assert_array_equal(test, [6, 7, 8])
    np.testing.assert_array_equal(train, [0, 1, 2, 3])


@pytest.mark.parametrize(
    ("make_X", "t1", "match"),
    [
        (lambda: pd.DataFrame({"f": range(6)}, index=[3, 2, 1, 4, 5, 6]), None, "not sorted"),
        (lambda: np.zeros((6, 1)), np.arange(5), "t1 has 5 values but X has 6 rows"),
        (lambda: np.zeros((6, 1)), np.arange(6) - 1, "t1 must be at or after"),
        (lambda: np.zeros((6, 1)), pd.date_range("2024", periods=6), "cannot be compared"),
    ],
)
def test_walk_forward_rejects_bad_time_data_with_a_fix(make_X, t1, match):
    with pytest.raises(ValueError, match=match):
        next(WalkForwardSplit(2, test_size=1).split(make_X(), t1=t1))


def test_walk_forward_rejects_misaligned_t1_series():
    X = pd.DataFrame({"f": range(6)}, index=pd.date_range("2024", periods=6))
    t1 = pd.Series(X.index, index=X.index[::-1])
    with pytest.raises(ValueError, match="same index as X"):
        next(WalkForwardSplit(2, test_size=1).split(X, t1=t1))


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"n_splits": 0}, "'n_splits' parameter of WalkForwardSplit must be an int in the range"),
        ({"gap": -1}, "'gap' parameter"),
        ({"n_splits": 4, "test_size": 3}, "Cannot make 4 walk-forward test blocks of 3 rows"),
        ({"n_splits": 3, "test_size": 2, "embargo": 2, "max_train_size": 2}, "no training rows before"),
    ],
)
def test_walk_forward_rejects_impossible_settings(params, match):
    with pytest.raises(ValueError, match=match):
        list(WalkForwardSplit(**params).split(np.zeros((12, 1))))


def test_walk_forward_routes_t1_through_set_split_request():
    X, y = np.random.RandomState(0).normal(size=(30, 2)), np.tile([0, 1], 15)
    t1 = np.minimum(np.arange(30) + 4, 29)
    with sklearn.config_context(enable_metadata_routing=True):
        cv = WalkForwardSplit(2, test_size=5).set_split_request(t1=True)
        routed = oos_predict(LogisticRegression(), X, y, cv=cv, params={"t1": t1})
    direct = oos_predict(LogisticRegression(), X, y, cv=list(WalkForwardSplit(2, test_size=5).split(X, t1=t1)))
    np.testing.assert_allclose(routed.predictions, direct.predictions)
    no_purge = oos_predict(LogisticRegression(), X, y, cv=WalkForwardSplit(2, test_size=5))
    assert not np.allclose(routed.predictions[-10:], no_purge.predictions[-10:])


@pytest.fixture
def data():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 3))
    y = np.where(X[:, 0] + rng.normal(size=60) > 0, "buy", "hold")
    return X, y


@pytest.mark.parametrize("method", ["predict_proba", "decision_function", "predict"])
@pytest.mark.parametrize("cv", [KFold(5), StratifiedKFold(4, shuffle=True, random_state=0)])
def test_oos_predict_equals_cross_val_predict_on_partitions(data, method, cv):
    X, y = data
    predictions, covered = oos_predict(LogisticRegression(), X, y, cv=cv, method=method)
    expected = cross_val_predict(LogisticRegression(), X, y, cv=cv, method=method)
    assert covered.all()
    np.testing.assert_array_equal(predictions, expected)


@pytest.mark.parametrize("cv", [TimeSeriesSplit(3), WalkForwardSplit(3, test_size=10, gap=2)])
def test_oos_predict_works_where_cross_val_predict_raises(data, cv):
    X, y = data
    with pytest.raises(ValueError, match="only works for partitions"):
        cross_val_predict(LogisticRegression(), X, y, cv=cv, method="predict_proba")
    predictions, covered = oos_predict(LogisticRegression(), X, y, cv=cv)
    tested = np.concatenate([test for _, test in cv.split(X)])
    np.testing.assert_array_equal(np.flatnonzero(covered), np.sort(tested))
    assert np.isnan(predictions[~covered]).all() and not np.isnan(predictions[covered]).any()
    np.testing.assert_allclose(predictions[covered].sum(axis=1), 1.0)


def test_oos_predict_predict_method_keeps_labels_and_marks_gaps(data):
    X, y = data
    predictions, covered = oos_predict(LogisticRegression(), X, y, cv=TimeSeriesSplit(3), method="predict")
    assert set(predictions[covered]) <= {"buy", "hold"}
    assert all(value != value for value in predictions[~covered])  # NaN


def test_oos_predict_rejects_overlapping_test_sets(data):
    X, y = data
    with pytest.raises(ValueError, match="more than one test set.*disjoint"):
        oos_predict(LogisticRegression(), X, y, cv=ShuffleSplit(5, test_size=0.5, random_state=0))


def test_oos_predict_matches_across_n_jobs(data):
    X, y = data
    one = oos_predict(LogisticRegression(), X, y, cv=WalkForwardSplit(3, test_size=10))
    two = oos_predict(LogisticRegression(), X, y, cv=WalkForwardSplit(3, test_size=10), n_jobs=2)
    np.testing.assert_allclose(one.predictions, two.predictions)


class _RecordsFitMetadata(ClassifierMixin, BaseEstimator):
    """A real classifier that records the metadata each fit received."""

    seen = []

    def fit(self, X, y, sample_weight=None, returns=None):
        type(self).seen.append((len(X), None if sample_weight is None else len(sample_weight), returns.sum()))
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X):
        return np.full((len(X), len(self.classes_)), 1 / len(self.classes_))


def test_oos_predict_routes_metadata_subset_to_each_fold(data):
    X, y = data
    returns = np.arange(60.0)
    _RecordsFitMetadata.seen = []
    with sklearn.config_context(enable_metadata_routing=True):
        estimator = _RecordsFitMetadata().set_fit_request(sample_weight=True, returns=True)
        oos_predict(estimator, X, y, cv=WalkForwardSplit(2, test_size=20), params={
            "sample_weight": np.ones(60), "returns": returns})
    assert _RecordsFitMetadata.seen == [(20, 20, returns[:20].sum()), (40, 40, returns[:40].sum())]


def test_oos_predict_without_routing_passes_params_to_fit(data):
    X, y = data
    _RecordsFitMetadata.seen = []
    oos_predict(_RecordsFitMetadata(), X, y, cv=KFold(2), params={"returns": np.ones(60)})
    assert _RecordsFitMetadata.seen == [(30, None, 30.0), (30, None, 30.0)]
