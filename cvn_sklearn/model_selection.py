"""Walk-forward splits and out-of-sample predictions for time-ordered data.

:class:`WalkForwardSplit` is a scikit-learn cross-validation splitter whose test
blocks tile the end of the data in time order, each trained only on rows that
come before it (expanding or rolling window, purge gap, embargo, label-overlap
purging). :func:`oos_predict` is :func:`~sklearn.model_selection.cross_val_predict`
for any splitter: rows no fold predicted are ``NaN`` and reported in a coverage
mask, instead of the ``"cross_val_predict only works for partitions"`` error.
"""

import warnings
from numbers import Integral, Real
from typing import NamedTuple

import numpy as np
import pandas as pd
from sklearn.base import clone, is_classifier
from sklearn.model_selection import BaseCrossValidator, check_cv
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import Bunch, indexable, metadata_routing
from sklearn.utils.metadata_routing import MetadataRouter, MethodMapping, process_routing
from sklearn.utils.parallel import Parallel, delayed

from cvn_sklearn._rows import last_rows
from cvn_sklearn._sklearn_compat import (
    Interval,
    _fit_and_predict,
    _num_samples,
    _routing_enabled,
    validate_parameter_constraints,
)

__all__ = [
    "Fold",
    "OOSPredictions",
    "WalkForwardSplit",
    "check_no_future_rows",
    "oos_predict",
    "realised_folds",
    "walk_forward_folds",
]

_ENCODED_METHODS = ("predict_proba", "predict_log_proba", "decision_function")


class WalkForwardSplit(BaseCrossValidator):
    """Walk-forward cross-validator for time-ordered rows.

    The last ``n_splits * test_size`` rows are cut into ``n_splits`` consecutive
    test blocks, in time order. Each block is predicted by a model trained only
    on rows that come before it:

    - an **expanding** window (all earlier rows) by default, or a **rolling**
      window of at most ``max_train_size`` rows;
    - the ``gap`` rows just before the test block are purged from training;
    - the ``embargo`` rows just after every earlier test block are dropped from
      training, so serially correlated rows that follow an evaluated block do
      not feed the next models;
    - with label end times ``t1`` (a row's label is known only at ``t1``),
      every training row whose label window ``[time, t1]`` reaches into the test
      block is purged (López de Prado's purging).

    Row times are the index of a pandas ``X`` (for example a ``DatetimeIndex``,
    which must be sorted), or row positions for arrays. ``test_size``,
    ``max_train_size``, ``gap`` and ``embargo`` count rows.

    Parameters
    ----------
    n_splits : int, default=5
        Number of test blocks (folds).
    test_size : int, default=None
        Rows per test block. ``None`` uses ``n_samples // (n_splits + 1)``, as
        :class:`~sklearn.model_selection.TimeSeriesSplit` does.
    max_train_size : int, default=None
        ``None`` for an expanding window; an int for a rolling window holding at
        most this many rows (before embargo and purging remove rows).
    gap : int, default=0
        Rows purged between the end of training and the start of each test block.
    embargo : int, default=0
        Rows dropped from training after the end of every earlier test block.

    See Also
    --------
    sklearn.model_selection.TimeSeriesSplit : The same tail-tiling without
        embargo or label-overlap purging.
    oos_predict : Out-of-sample predictions on any splitter.

    Notes
    -----
    Pass ``t1`` to :meth:`split` directly, or route it with metadata routing::

        sklearn.set_config(enable_metadata_routing=True)
        cv = WalkForwardSplit(4).set_split_request(t1=True)
        oos_predict(model, X, y, cv=cv, params={"t1": t1})

    Examples
    --------
    >>> import numpy as np
    >>> from cvn_sklearn.model_selection import WalkForwardSplit
    >>> X = np.zeros((10, 1))
    >>> for train, test in WalkForwardSplit(n_splits=3, test_size=2, gap=1).split(X):
    ...     print(train, test)
    [0 1 2] [4 5]
    [0 1 2 3 4] [6 7]
    [0 1 2 3 4 5 6] [8 9]

    A rolling window with an embargo after each test block:

    >>> cv = WalkForwardSplit(n_splits=3, test_size=2, max_train_size=4, embargo=1)
    >>> for train, test in cv.split(X):
    ...     print(train, test)
    [0 1 2 3] [4 5]
    [2 3 4 5] [6 7]
    [4 5 7] [8 9]

    Purging rows whose label window reaches the test block (row 3's label ends
    at row 5):

    >>> t1 = np.array([1, 2, 3, 5, 5, 6, 7, 8, 9, 9])
    >>> next(WalkForwardSplit(n_splits=3, test_size=2).split(X, t1=t1))
    (array([0, 1, 2]), array([4, 5]))
    """

    __metadata_request__split = {"groups": metadata_routing.UNUSED}

    _parameter_constraints: dict = {
        "n_splits": [Interval(Integral, 1, None, closed="left")],
        "test_size": [Interval(Integral, 1, None, closed="left"), None],
        "max_train_size": [Interval(Integral, 1, None, closed="left"), None],
        "gap": [Interval(Integral, 0, None, closed="left")],
        "embargo": [Interval(Integral, 0, None, closed="left")],
    }

    def __init__(self, n_splits=5, *, test_size=None, max_train_size=None, gap=0, embargo=0):
        self.n_splits = n_splits
        self.test_size = test_size
        self.max_train_size = max_train_size
        self.gap = gap
        self.embargo = embargo

    def get_n_splits(self, X=None, y=None, groups=None):
        """Return the number of splitting iterations, ``n_splits``.

        Parameters
        ----------
        X, y, groups : object
            Always ignored, exist for API compatibility.

        Returns
        -------
        n_splits : int
            The number of test blocks.
        """
        return self.n_splits

    def split(self, X, y=None, groups=None, t1=None):
        """Generate train and test indices, one pair per test block, in time order.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The rows, in time order. A pandas index gives the row times.
        y : array-like of shape (n_samples,), default=None
            Always ignored, exists for API compatibility.
        groups : object
            Always ignored, exists for API compatibility.
        t1 : array-like of shape (n_samples,), default=None
            End time of each row's label, comparable with the row times (index
            values for pandas ``X``, positions for arrays). Training rows whose
            ``t1`` is at or after the first time of the test block are purged.

        Yields
        ------
        train : ndarray
            Training indices of the fold, sorted.
        test : ndarray
            Test indices of the fold, one contiguous block.
        """
        self._validate_params()
        times = _row_times(X)
        label_end = None if t1 is None else _check_t1(t1, X, times)
        test_size = self._check_sizes(len(times))
        first_test = len(times) - self.n_splits * test_size
        for start in range(first_test, len(times), test_size):
            train = self._train_indices(start, first_test, test_size, times, label_end)
            if train.size == 0:
                raise ValueError(
                    f"WalkForwardSplit left no training rows before the test block starting at row {start} "
                    f"(gap={self.gap}, embargo={self.embargo}, max_train_size={self.max_train_size}, "
                    "label-overlap purging). Use fewer or smaller test blocks, or a smaller gap or embargo."
                )
            yield train, np.arange(start, start + test_size)

    def _validate_params(self):
        validate_parameter_constraints(
            self._parameter_constraints,
            {name: getattr(self, name) for name in self._parameter_constraints},
            caller_name=type(self).__name__,
        )

    def _check_sizes(self, n_samples):
        test_size = self.test_size or n_samples // (self.n_splits + 1)
        if test_size == 0 or n_samples - self.n_splits * test_size - self.gap < 1:
            raise ValueError(
                f"Cannot make {self.n_splits} walk-forward test blocks of {test_size or 'n_samples // (n_splits + 1)'} "
                f"rows with gap={self.gap} out of {n_samples} samples: at least one training row must precede "
                "the first test block. Use fewer splits, a smaller test_size or gap, or more rows."
            )
        return test_size

    def _train_indices(self, start, first_test, test_size, times, label_end):
        end = start - self.gap
        keep = np.zeros(len(times), dtype=bool)
        keep[0 if self.max_train_size is None else max(0, end - self.max_train_size) : end] = True
        for block_end in range(first_test + test_size, start, test_size):
            keep[block_end : block_end + self.embargo] = False
        if label_end is not None:
            keep &= ~np.asarray(label_end >= times[start])
        return np.flatnonzero(keep)


def _row_times(X):
    """The time of each row: the pandas index, or positions for arrays."""
    (X,) = indexable(X)
    times = X.index if isinstance(X, (pd.DataFrame, pd.Series)) else pd.RangeIndex(_num_samples(X))
    if not times.is_monotonic_increasing:
        raise ValueError(
            "WalkForwardSplit needs rows in time order, but the index of X is not sorted. "
            "Sort X (and y) by time first, e.g. X.sort_index()."
        )
    return times


def _check_t1(t1, X, times):
    """Label end times as a pandas Index aligned with the rows, checked."""
    if isinstance(t1, pd.Series) and isinstance(X, (pd.DataFrame, pd.Series)) and not t1.index.equals(X.index):
        raise ValueError("t1 must have the same index as X; align it first, e.g. t1.reindex(X.index).")
    label_end = pd.Index(np.asarray(t1))
    if len(label_end) != len(times):
        raise ValueError(f"t1 has {len(label_end)} values but X has {len(times)} rows; give one label end per row.")
    try:
        before_start = label_end < times
    except TypeError as exc:
        raise ValueError(
            f"t1 values ({label_end.dtype}) cannot be compared with the row times ({times.dtype}): use "
            "timestamps for a time-indexed X, row positions for arrays."
        ) from exc
    if np.any(before_start):
        raise ValueError(
            "t1 must be at or after each row's own time (a label ends after its features are known); "
            f"rows {np.flatnonzero(before_start)[:5].tolist()} end earlier."
        )
    return label_end


class OOSPredictions(NamedTuple):
    """Out-of-sample predictions and which rows have one.

    Attributes
    ----------
    predictions : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        The fold model's output for each test row; ``NaN`` where no fold
        predicted the row.
    covered : ndarray of bool of shape (n_samples,)
        ``True`` for rows that have an out-of-sample prediction.
    """

    predictions: np.ndarray
    covered: np.ndarray


def oos_predict(estimator, X, y, *, cv, method="predict_proba", n_jobs=None, params=None):
    """Out-of-sample predictions for any splitter, with a coverage mask.

    Like :func:`~sklearn.model_selection.cross_val_predict`, each fold's
    estimator (a clone) is fitted on the fold's training rows and predicts its
    test rows; unlike it, the test sets need not cover every row, so
    :class:`~sklearn.model_selection.TimeSeriesSplit` and
    :class:`WalkForwardSplit` work. Each row may be in at most one test set.

    Parameters
    ----------
    estimator : estimator
        Implements ``fit`` and ``method``.
    X : array-like of shape (n_samples, n_features)
        Input rows.
    y : array-like of shape (n_samples,)
        Targets.
    cv : int, cross-validation generator or iterable of (train, test)
        Splitting strategy, as accepted by :func:`~sklearn.model_selection.check_cv`.
    method : {"predict_proba", "predict_log_proba", "decision_function", "predict"}, \
            default="predict_proba"
        Method of the fitted fold estimators to call on the test rows. For the
        first three, columns follow the sorted classes of the full ``y``.
    n_jobs : int, default=None
        Folds fitted in parallel through joblib; ``None`` means 1.
    params : dict, default=None
        Metadata. With metadata routing enabled, routed to the estimator's
        ``fit`` (``sample_weight``, returns, ...) and the splitter's ``split``
        (``groups``, ``t1``) as they request them; without it, all passed to the
        estimator's ``fit``. Array-likes of length ``n_samples`` are subset to
        each fold's training rows.

    Returns
    -------
    OOSPredictions
        ``(predictions, covered)``: predictions with ``NaN`` where no fold
        predicted (float for numeric outputs, object otherwise), and the boolean
        mask of predicted rows.

    Raises
    ------
    ValueError
        If a row is in more than one test set.

    See Also
    --------
    sklearn.model_selection.cross_val_predict : The partition-only original.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from cvn_sklearn.model_selection import WalkForwardSplit, oos_predict
    >>> rng = np.random.RandomState(0)
    >>> X, y = rng.normal(size=(40, 3)), np.tile([0, 1], 20)
    >>> proba, covered = oos_predict(LogisticRegression(), X, y, cv=WalkForwardSplit(3, test_size=8))
    >>> proba.shape, int(covered.sum()), bool(np.isnan(proba[:16]).all())
    ((40, 2), 24, True)
    """
    X, y = indexable(X, y)
    cv = check_cv(cv, y, classifier=is_classifier(estimator))
    routed = _route_oos_params(estimator, cv, {} if params is None else params)
    splits = list(cv.split(X, y, **routed.splitter.split))
    return oos_from_splits(estimator, X, y, splits, method=method, n_jobs=n_jobs, fit_params=routed.estimator.fit)


def _route_oos_params(estimator, cv, params):
    if not _routing_enabled():
        return Bunch(splitter=Bunch(split={}), estimator=Bunch(fit=params))
    router = (
        MetadataRouter(owner="oos_predict")
        .add(splitter=cv, method_mapping=MethodMapping().add(caller="fit", callee="split"))
        .add(estimator=estimator, method_mapping=MethodMapping().add(caller="fit", callee="fit"))
    )
    return process_routing(router, "fit", **params)


def oos_from_splits(estimator, X, y, splits, *, method, n_jobs=None, fit_params=None, verbose=0):
    """Out-of-sample predictions for precomputed ``(train, test)`` index pairs.

    The engine of :func:`oos_predict`, for callers (such as the stacking cache)
    that already split the data and routed the metadata.

    Parameters
    ----------
    estimator : estimator
        Cloned for every fold.
    X, y : indexable
        Input rows and targets.
    splits : list of (ndarray, ndarray)
        Train and test indices per fold.
    method : str
        Method of the fitted fold estimators to call on the test rows.
    n_jobs : int, default=None
        Folds fitted in parallel through joblib.
    fit_params : dict, default=None
        Parameters of the estimator's ``fit``; array-likes are subset per fold.
    verbose : int, default=0
        joblib verbosity.

    Returns
    -------
    OOSPredictions
        As :func:`oos_predict`.
    """
    tests = [test for _, test in splits]
    check_disjoint(tests, _num_samples(X))
    if method in _ENCODED_METHODS:
        y = LabelEncoder().fit_transform(y)
    folds = Parallel(n_jobs=n_jobs, verbose=verbose)(
        delayed(_fit_and_predict)(clone(estimator), X, y, train, test, fit_params, method) for train, test in splits
    )
    return _assemble(folds, tests, _num_samples(X))


def realised_folds(cv, X, y, split_params):
    """The ``(train, test)`` folds a stacker uses: ``cv``'s split of the rows, minus one-class training folds.

    A fold whose training rows hold a single class is dropped with a warning
    (no model can learn from it), so its test rows get no out-of-sample
    prediction. The OOS store keys base-model predictions by these folds.

    Parameters
    ----------
    cv : int, cross-validation generator or iterable
        The stacker's ``cv``; ``None`` is ``WalkForwardSplit()``.
    X : indexable of shape (n_samples, n_features)
        Rows in time order.
    y : ndarray of shape (n_samples,)
        Encoded labels.
    split_params : dict
        Metadata for the splitter's ``split`` (``t1``, ``groups``).

    Returns
    -------
    list of (ndarray, ndarray)

    Raises
    ------
    ValueError
        If every fold trains on a single class.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([0, 1] * 10)
    >>> [(len(train), len(test)) for train, test in realised_folds(WalkForwardSplit(2, test_size=5), y[:, None], y, {})]
    [(10, 5), (15, 5)]
    """
    splitter = check_cv(WalkForwardSplit() if cv is None else cv, y, classifier=True)
    return _learnable(list(splitter.split(X, y, **split_params)), y)


def _learnable(splits, y):
    """Drop folds whose training rows hold a single class, with a warning (policy: no fit on them)."""
    learnable = [(train, test) for train, test in splits if np.unique(y[train]).size > 1]
    if not learnable:
        raise ValueError(
            "Every fold trains on a single class, so no base model can learn: use longer training windows "
            "(fewer or smaller test blocks) so that both classes appear before the first test block."
        )
    if len(learnable) < len(splits):
        warnings.warn(
            f"{len(splits) - len(learnable)} of {len(splits)} folds train on a single class; they are skipped, "
            "so their test rows get no out-of-sample prediction and stay out of coverage_. Use a longer first "
            "training window to cover them.",
            UserWarning,
        )
    return learnable


class Fold(NamedTuple):
    """One walk-forward fold of the training harness: its position and its rows.

    Attributes
    ----------
    index : int
        The fold's position, in time order.
    fit : ndarray
        Rows the model is fitted on: the training window but its last rows.
    val : ndarray
        The last rows of the training window, after a purge gap: calibration and θ.
    test : ndarray
        The fold's test block, only scored.
    """

    index: int
    fit: np.ndarray
    val: np.ndarray
    test: np.ndarray


def check_no_future_rows(splits, *, allow_future_rows=False):
    """Refuse splits whose training rows come after any of their test rows (rows in time order).

    Parameters
    ----------
    splits : list of (train, test) index arrays
    allow_future_rows : bool, default=False
        The only way past the check, for a caller who means it.

    Raises
    ------
    ValueError
        Naming the fold and pointing to :class:`WalkForwardSplit`.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.model_selection import KFold
    >>> check_no_future_rows(list(KFold(3).split(np.zeros((6, 1)))))
    Traceback (most recent call last):
    ...
    ValueError: Fold 0 trains on row 5, after its first test row 0: a model would learn from the future it is scored on (KFold or a shuffled split). Use cvn_sklearn.model_selection.WalkForwardSplit, or pass allow_future_rows=True if that is really meant.
    """
    if allow_future_rows:
        return
    for index, (train, test) in enumerate(splits):
        if len(train) and len(test) and np.max(train) > np.min(test):
            raise ValueError(
                f"Fold {index} trains on row {int(np.max(train))}, after its first test row {int(np.min(test))}: "
                "a model would learn from the future it is scored on (KFold or a shuffled split). Use "
                "cvn_sklearn.model_selection.WalkForwardSplit, or pass allow_future_rows=True if that is really meant."
            )


def walk_forward_folds(cv, X, y=None, *, t1=None, val_size=0.2, gap=None, allow_future_rows=False) -> list[Fold]:
    """The harness's folds: each training window split into fit rows and, at its end, validation rows.

    The validation rows are the last ``val_size`` share of the fold's training
    rows (in time order, never its test block). Between the fit rows and them
    a purge gap of ``gap`` rows is dropped, and with label end times ``t1``
    every fit row whose label reaches into the validation rows is dropped too,
    as :class:`WalkForwardSplit` does before a test block.

    Parameters
    ----------
    cv : cross-validation generator or iterable
        The splitter, e.g. :class:`WalkForwardSplit`; ``t1`` is passed to its
        ``split`` when it is one.
    X : DataFrame or array-like of shape (n_samples, n_features)
        Rows in time order.
    y : array-like of shape (n_samples,), default=None
    t1 : array-like of shape (n_samples,), default=None
        Label end times (see :meth:`WalkForwardSplit.split`).
    val_size : float in (0, 1), default=0.2
        Share of each training window held out at its end for calibration and θ.
    gap : int, default=None
        Rows purged between fit and validation rows; ``None`` takes the
        splitter's own ``gap`` (the label horizon it purges before a test
        block), else 0.
    allow_future_rows : bool, default=False
        Accept splitters whose training rows follow their test rows.

    Returns
    -------
    list of Fold

    Raises
    ------
    ValueError
        For look-ahead splits (see :func:`check_no_future_rows`), overlapping
        test sets, or a training window too short for its validation rows.

    Examples
    --------
    >>> import numpy as np
    >>> fold = walk_forward_folds(WalkForwardSplit(2, test_size=10, gap=2), np.zeros((50, 1)))[0]
    >>> fold.fit[[0, -1]], fold.val[[0, -1]], fold.test[[0, -1]]
    (array([ 0, 19]), array([22, 27]), array([30, 39]))
    """
    if not (isinstance(val_size, Real) and 0 < val_size < 1):
        raise ValueError(f"val_size must be a share in (0, 1), got {val_size!r}.")
    gap = getattr(cv, "gap", 0) if gap is None else gap
    if not (isinstance(gap, Integral) and gap >= 0):
        raise ValueError(f"gap must be a number of rows >= 0, got {gap!r}.")
    times = _row_times(X)
    label_end = None if t1 is None else _check_t1(t1, X, times)
    split_params = {"t1": t1} if t1 is not None and isinstance(cv, WalkForwardSplit) else {}
    splits = [(np.asarray(train), np.asarray(test)) for train, test in cv.split(X, y, **split_params)]
    check_no_future_rows(splits, allow_future_rows=allow_future_rows)
    check_disjoint([test for _, test in splits], len(times))
    return [_fold(index, train, test, val_size, gap, times, label_end) for index, (train, test) in enumerate(splits)]


def _fold(index, train, test, val_size, gap, times, label_end):
    head, tail = last_rows(len(train), val_size, owner=f"walk-forward fold {index}", what="validation rows")
    val = train[tail]
    fit = train[head][train[head] < val[0] - gap]
    if label_end is not None:
        fit = fit[~np.asarray(label_end[fit] >= times[val[0]])]
    if fit.size == 0:
        raise ValueError(
            f"Walk-forward fold {index} has no rows left to fit on: its training window of {len(train)} rows "
            f"minus {len(val)} validation rows and a purge gap of {gap} rows (and label-overlap purging). "
            "Use fewer folds, a smaller val_size or gap, or more rows."
        )
    return Fold(index, fit, val, np.asarray(test))


def check_disjoint(tests, n_samples):
    """Raise ``ValueError`` if a row is in more than one of the ``tests`` index arrays."""
    counts = np.bincount(np.concatenate(tests).astype(int), minlength=n_samples)
    if np.any(counts > 1):
        raise ValueError(
            f"Rows {np.flatnonzero(counts > 1)[:5].tolist()} are in more than one test set, so they would get "
            "several out-of-sample predictions. Use a splitter whose test sets are disjoint "
            "(KFold, TimeSeriesSplit, WalkForwardSplit), not ShuffleSplit or repeated splitters."
        )


def _assemble(folds, tests, n_samples):
    first = np.asarray(folds[0])
    dtype = float if first.dtype.kind in "biuf" else object
    predictions = np.full((n_samples, *first.shape[1:]), np.nan, dtype=dtype)
    covered = np.zeros(n_samples, dtype=bool)
    for fold, test in zip(folds, tests):
        predictions[test] = fold
        covered[test] = True
    return OOSPredictions(predictions, covered)
