"""The one metrics function for every model, and the buy-label rule.

:func:`evaluate` turns validation or test labels and predicted probabilities
into a flat :class:`SplitMetrics`; every model, calibrator and θ search reports
through it, so "Brier" or "F1 of the buy class" mean the same thing
everywhere. The trading figures (:func:`trading_metrics`, net of costs, on the
bar calendar) live in :mod:`cvn_sklearn.trading` and are importable from here
as before.

The count-based helpers at the bottom of this module (``_fbeta``,
``_precision``, ``_recall``) work on scalars and on whole arrays;
:func:`cvn_sklearn.threshold.theta_sweep` evaluates them on every candidate θ
at once, so the sweep and the reported metrics share one definition.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from numbers import Real

import numpy as np
from scipy.stats import rankdata
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_consistent_length, column_or_1d

# The trading figures live in cvn_sklearn.trading; importable from here as before.
from cvn_sklearn.trading import TradingMetrics, sharpe_ratio, trading_metrics
from cvn_sklearn.trading import _check_signal_and_returns
from cvn_sklearn.trading import sortino as _sortino

__all__ = [
    "SplitMetrics",
    "buy_label",
    "buy_pct",
    "TradingMetrics",
    "evaluate",
    "expected_calibration_error",
    "sharpe_ratio",
    "trading_metrics",
]


class _FlatRecord:
    def to_dict(self) -> dict:
        """Return the fields as a flat ``dict`` of plain Python numbers."""
        return asdict(self)


@dataclass(frozen=True)
class SplitMetrics(_FlatRecord):
    """Metrics of one model on one split (validation or test), flat.

    Every field is a plain ``int`` or ``float``, so a ``SplitMetrics`` logs,
    serialises and compares the same way for every model.

    Attributes
    ----------
    n : int
        Number of rows.
    auc : float
        ROC AUC of P(buy); ``nan`` when the rows hold one class only (AUC is
        undefined then).
    f1_buy, precision_buy, recall_buy : float
        F1, precision and recall of the buy (positive) class at the threshold;
        0.0 where the ratio is 0/0, as scikit-learn's ``zero_division=0``.
    brier : float
        Brier score: mean of ``(p - y) ** 2``.
    ece : float
        Expected calibration error, see :func:`expected_calibration_error`.
    log_loss : float
        Mean negative log-likelihood of the labels.
    n_pos_pred : int
        Rows predicted buy (``p >= threshold``): the number of trades.
    positive_rate : float
        ``n_pos_pred / n``.
    """

    n: int
    auc: float
    f1_buy: float
    precision_buy: float
    recall_buy: float
    brier: float
    ece: float
    log_loss: float
    n_pos_pred: int
    positive_rate: float


def evaluate(y_true, proba, threshold=None, *, predicted=None, pos_label=None, n_bins=10) -> SplitMetrics:
    """Compute the standard metrics of predicted probabilities at a threshold.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Binary labels of any dtype.
    proba : array-like of shape (n_samples,) or (n_samples, 2)
        P(positive class), or the output of ``predict_proba`` (its second
        column is used).
    threshold : float, default=None
        A row is predicted positive when ``proba >= threshold``. Give either
        ``threshold`` or ``predicted``.
    predicted : array-like of bool of shape (n_samples,), default=None
        The buy signal itself, e.g. ``estimator.predict(X) == pos_label``, so
        the decision rule stays in the estimator's own ``predict``.
    pos_label : int, float, bool or str, default=None
        The buy label, and ``proba`` is P(buy). ``None`` means ``1`` for labels
        in ``{0, 1}``, ``{-1, 1}`` or booleans, even when the rows hold no buy
        (see :func:`buy_label`); other labels need it.
    n_bins : int, default=10
        Number of bins of the expected calibration error.

    Returns
    -------
    SplitMetrics

    Raises
    ------
    ValueError
        If the labels are not binary, the buy label is unknown, the
        probabilities are outside [0, 1] or contain NaN, the threshold is NaN,
        or not exactly one of ``threshold`` and ``predicted`` is given.

    Examples
    --------
    >>> from cvn_sklearn.metrics import evaluate
    >>> m = evaluate([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9], threshold=0.5)
    >>> m.n_pos_pred, m.precision_buy, m.recall_buy, m.auc
    (2, 0.5, 0.5, 0.75)
    >>> sorted(m.to_dict())[:3]
    ['auc', 'brier', 'ece']
    >>> evaluate(["hold", "buy"], [0.2, 0.7], 0.5, pos_label="buy").recall_buy
    1.0
    """
    y, p = _check_labels_and_proba(y_true, proba, pos_label)
    if (threshold is None) == (predicted is None):
        raise ValueError("evaluate needs exactly one of threshold= (rows with proba >= threshold are buys) or predicted=.")
    if predicted is None:
        if not isinstance(threshold, Real) or np.isnan(threshold):
            raise ValueError(f"threshold must be a real number, got {threshold!r}.")
        predicted = p >= threshold
    else:
        predicted = _check_signal_and_returns(predicted, p)[0]
    return _evaluate01(y, p, predicted, n_bins)


def _evaluate01(y, p, predicted, n_bins=10) -> SplitMetrics:
    """:func:`evaluate` on validated data: 0/1 labels (1 = buy), P(buy) in [0, 1] and the boolean signal."""
    tp, n_pred, n_pos = int(np.sum(predicted & (y == 1))), int(predicted.sum()), int(y.sum())
    return SplitMetrics(
        n=len(y),
        auc=_auc(y, p, n_pos),
        f1_buy=float(_fbeta(tp, n_pred, n_pos, 1.0)),
        precision_buy=float(_precision(tp, n_pred)),
        recall_buy=float(_recall(tp, n_pos)),
        brier=_brier(y, p),
        ece=_ece(y, p, n_bins),
        log_loss=_log_loss(y, p),
        n_pos_pred=n_pred,
        positive_rate=n_pred / len(y),
    )


# The three scores below are scikit-learn's (tests/test_metrics.py checks them against roc_auc_score, log_loss and
# brier_score_loss), computed directly on data evaluate has validated: scikit-learn's functions validate their
# inputs again on every call, which was most of a small cell's scoring time.

def _auc(y, p, n_pos: int) -> float:
    """ROC AUC of validated data (0/1 labels, P(buy)): the Mann-Whitney statistic with average ranks for ties.

    The area under the ROC curve that :func:`sklearn.metrics.roc_auc_score`
    computes (ties count a half); NaN when one class is absent.
    """
    n_neg = len(y) - n_pos
    if not (n_pos and n_neg):
        return float("nan")
    ranks = rankdata(p)
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def _log_loss(y, p) -> float:
    """Log loss of validated data: ``-mean(log P(the row's label))``, probabilities clipped to [eps, 1 - eps] as scikit-learn's."""
    eps = np.finfo(np.float64).eps
    return float(-np.mean(np.log(np.clip(np.where(y == 1, p, 1.0 - p), eps, 1.0 - eps))))


def _brier(y, p) -> float:
    """Brier score of validated data (0/1 labels, P(buy)): ``mean((p - y)**2)``, what :class:`SplitMetrics` reports as ``brier``."""
    return float(np.mean((p - y) ** 2))


def expected_calibration_error(y_true, proba, *, n_bins=10, pos_label=None) -> float:
    """Expected calibration error (ECE) with equal-width bins.

    The probabilities are cut into ``n_bins`` equal-width bins on [0, 1] (the
    same bins as :func:`sklearn.calibration.calibration_curve` with
    ``strategy="uniform"``), and ECE is the row-weighted mean gap between the
    observed positive rate and the mean predicted probability of each bin::

        ECE = sum_b (n_b / n) * |mean(y in b) - mean(p in b)|

    (Naeini et al. 2015; Guo et al. 2017). 0 is perfect calibration.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Binary labels of any dtype.
    proba : array-like of shape (n_samples,) or (n_samples, 2)
        P(positive class), or the output of ``predict_proba``.
    n_bins : int, default=10
        Number of equal-width bins.
    pos_label : int, float, bool or str, default=None
        The buy label; ``None`` follows :func:`buy_label`.

    Returns
    -------
    float

    Examples
    --------
    >>> from cvn_sklearn.metrics import expected_calibration_error
    >>> round(expected_calibration_error([0, 1, 1, 1], [0.2, 0.8, 0.8, 0.8]), 3)
    0.2
    """
    y, p = _check_labels_and_proba(y_true, proba, pos_label)
    return _ece(y, p, n_bins)


def buy_pct(y, buy) -> float:
    """The share of the rows whose label is ``buy``, in percent (0 for no rows).

    Examples
    --------
    >>> buy_pct([0, 1, 1, 0], 1), buy_pct([], 1)
    (50.0, 0.0)
    """
    y = np.asarray(y)
    return float(100.0 * np.mean(y == buy)) if y.size else 0.0


def buy_label(classes, pos_label=None):
    """The buy label among ``classes``: THE rule of cvn_sklearn for "which label is buy".

    ``pos_label`` when given. Otherwise, for labels drawn from ``{0, 1}``,
    ``{-1, 1}`` or the booleans, ``1`` (``True``) — even when ``classes``
    holds one of them only, e.g. a block of rows with no buy. Any other labels
    (``"buy"``/``"hold"``, ``{1, 2}``, ...) have no default: which one means
    "buy" is never guessed from the sort order. The meta-estimators
    (:class:`~cvn_sklearn.ThetaSweep`, :class:`~cvn_sklearn.CalibratedThetaClassifier`),
    :func:`evaluate`, :func:`~cvn_sklearn.theta_sweep`, the harness and the
    artifact all apply this function, and no other.

    Parameters
    ----------
    classes : array-like
        The distinct labels (or all labels) of the data.
    pos_label : scalar, default=None
        The buy label, if known.

    Returns
    -------
    scalar
        The buy label (it need not occur in ``classes``).

    Raises
    ------
    ValueError
        If ``pos_label`` is ``None`` and the labels are not ``{0, 1}``,
        ``{-1, 1}`` or booleans, or ``pos_label`` is not one of two labels.

    Examples
    --------
    >>> from cvn_sklearn.metrics import buy_label
    >>> buy_label([0, 1]), buy_label([-1, 1]), buy_label([0]), buy_label([False, True])
    (1, 1, 1, True)
    >>> buy_label(["buy", "hold"], pos_label="buy")
    'buy'
    >>> buy_label(["buy", "hold"])
    Traceback (most recent call last):
    ...
    ValueError: The labels ['buy', 'hold'] are not {0, 1}, {-1, 1} or booleans, so the buy label is not known: pass pos_label= (e.g. pos_label='buy').
    """
    values = np.unique(np.asarray(classes))
    if pos_label is not None:
        if values.size == 2 and pos_label not in values.tolist():
            raise ValueError(f"pos_label={pos_label!r} is not one of the labels {values.tolist()}; pass the buy label.")
        return pos_label
    if values.dtype.kind == "b":
        return True
    if values.dtype.kind in "iuf" and (set(values.tolist()) <= {0, 1} or set(values.tolist()) <= {-1, 1}):
        return 1
    example = (values[0].item() if isinstance(values[0], np.generic) else values[0]) if values.size else "..."
    raise ValueError(
        f"The labels {values.tolist()[:10]} are not {{0, 1}}, {{-1, 1}} or booleans, so the buy label is not "
        f"known: pass pos_label= (e.g. pos_label={example!r})."
    )


def binary_classes(y, owner=None):
    """THE binary-target validator: ``y`` as a 1-d array and its sorted distinct labels (at most two).

    Used by :func:`evaluate` and :func:`~cvn_sklearn.theta_sweep` (through
    :func:`_binary_labels`) and by the meta-estimators' ``fit`` (with their
    name as ``owner``, which adds scikit-learn's target-type check).

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Labels of any dtype.
    owner : str, default=None
        The estimator validating its target, for scikit-learn's checks and the messages.

    Returns
    -------
    y : ndarray of shape (n_samples,)
    classes : ndarray of shape (n_classes,)

    Raises
    ------
    ValueError
        For NaN labels, a continuous target (with ``owner``), or more than two labels.
    """
    y = column_or_1d(y, warn=owner is not None)
    if owner is not None:
        check_classification_targets(y)
    if y.dtype.kind == "f" and np.isnan(y).any():
        raise ValueError("The labels contain NaN; drop or label those rows first.")
    classes = _classes(y)
    if classes.size > 2:
        who = "" if owner is None else f"; {owner} tunes buy / no-buy classifiers"
        raise ValueError(
            f"Only binary classification is supported. The labels must be binary, got {classes.size} classes: "
            f"{classes[:10].tolist()}{who}."
        )
    return y, classes


def _binary_labels(y_true, pos_label=None):
    """Encode binary labels as 0/1 with 1 for the buy label (see :func:`buy_label`).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Labels of any dtype, two distinct values at most.
    pos_label : scalar, default=None
        The buy label; ``None`` applies :func:`buy_label`'s rule. A
        ``pos_label`` absent from ``y_true`` is accepted when ``y_true`` holds
        one class only (a block of rows with no buy, say): every row is then 0.

    Returns
    -------
    ndarray of shape (n_samples,), dtype int8

    Raises
    ------
    ValueError
        If there are more than two labels, NaN labels, or the buy label is
        unknown or not one of them.
    """
    y, classes = binary_classes(y_true)
    return (y == buy_label(classes, pos_label)).astype(np.int8)


def _classes(y):
    """Sorted distinct labels; numeric binary labels in O(n), without ``np.unique``'s sort."""
    if y.dtype.kind in "biuf" and y.size:
        low, high = y.min(), y.max()
        if np.all((y == low) | (y == high)):
            return np.unique([low, high])
    return np.unique(y)


def _check_labels_and_proba(y_true, proba, pos_label):
    proba = np.asarray(proba, dtype=np.float64)
    p = proba[:, 1] if proba.ndim == 2 and proba.shape[1] == 2 else column_or_1d(proba)
    if p.size == 0:
        raise ValueError("Cannot compute metrics on 0 rows.")
    y = _binary_labels(y_true, pos_label)
    check_consistent_length(y, p)
    if np.isnan(p).any() or p.min() < 0.0 or p.max() > 1.0:
        raise ValueError("Probabilities must lie in [0, 1] without NaN.")
    return y, p


def _ece(y, p, n_bins):
    bins = np.searchsorted(np.linspace(0.0, 1.0, n_bins + 1)[1:-1], p)
    gap = np.bincount(bins, weights=y, minlength=n_bins) - np.bincount(bins, weights=p, minlength=n_bins)
    return float(np.abs(gap).sum() / len(y))


def _ratio(numerator, denominator):
    """``numerator / denominator``, 0.0 where the denominator is 0 (works on arrays)."""
    numerator, denominator = np.asarray(numerator, np.float64), np.asarray(denominator, np.float64)
    if np.all(denominator != 0):
        return numerator / denominator
    return np.divide(numerator, denominator, out=np.zeros(np.broadcast(numerator, denominator).shape), where=denominator != 0)


def _precision(tp, n_pred):
    return _ratio(tp, n_pred)


def _recall(tp, n_pos):
    return _ratio(tp, n_pos)


def _fbeta(tp, n_pred, n_pos, beta):
    """F-beta from counts: ``(1 + b^2) tp / (b^2 n_pos + n_pred)``; 0 where 0/0."""
    beta2 = beta * beta
    return _ratio((1.0 + beta2) * np.asarray(tp, np.float64), beta2 * np.asarray(n_pos, np.float64) + n_pred)
