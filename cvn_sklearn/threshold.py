"""The θ (decision threshold) algorithm: :func:`theta_sweep`, and :class:`ThetaSweep`.

This module holds the only threshold search in cvn_sklearn. Every model, blend
and stacker that turns probabilities into buy signals goes through
:func:`theta_sweep`, so a bug fixed here is fixed for all of them.

Why the default constraints
---------------------------
Maximising F1 alone degenerates on weak trading signals. When the model barely
separates the classes, precision stays close to the base rate whatever θ is,
and F1 is then largest when recall is 1: θ goes to the bottom and the model
"trades always" (scikit-learn's ``TunedThresholdClassifierCV(scoring="f1")``
predicts ~91% of test rows positive on daily S&P 500 with a 30%-positive
label). A class re-weighting that inflates the probabilities makes it worse:
that is the bug that made one model take 5x more trades than the others.

So by default θ may not predict more positives than there are actual positives
in the validation rows: ``max_positive_rate_ratio=1.0`` caps the predicted
positive rate at 1.0 x the validation base rate. A perfect classifier predicts
exactly the base rate, so the cap never binds on a good signal; on a weak one
it stops F1 from buying recall with trades, and the model trades at most as
often as opportunities occur. ``min_positives=1`` rules out the empty
"never trade" answer; raise it (e.g. to 30) for the return-based objectives,
which otherwise reward a handful of lucky trades.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.utils.metaestimators import available_if
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import check_consistent_length, check_is_fitted, column_or_1d, indexable

from cvn_sklearn._heldout import (
    BinaryMetaTagsMixin,
    check_binary_target,
    copy_feature_attributes,
    default_estimator,
    estimator_has,
    fit_and_predict,
    fit_on_rows,
    held_out_splits,
    labels_checked,
    meta_router,
    model_type,
    positive_proba,
    route_fit_params,
    take,
)
from cvn_sklearn._sklearn_compat import HasMethods, Interval, RealNotInt, StrOptions, _check_sample_weight, _fit_context
from cvn_sklearn.events import emit
from cvn_sklearn.metrics import _binary_labels, _fbeta, _precision, _recall, _sortino, buy_label

__all__ = ["THETA_CONSTRAINTS", "ThetaConstraints", "ThetaSweep", "ThetaSweepResult", "theta_sweep"]

OBJECTIVES = ("f1", "fbeta", "precision_at_recall", "expected_return", "sortino")
_RETURN_OBJECTIVES = ("expected_return", "sortino")
_TIE_RTOL = 1e-12


@dataclass(frozen=True)
class ThetaConstraints:
    """Constraints every candidate θ must meet, so an over-trading θ cannot win.

    Parameters
    ----------
    min_positives : int, default=1
        Minimum number of validation rows predicted positive (trades).
    max_positive_rate : float in (0, 1] or None, default=None
        Cap on the share of validation rows predicted positive.
    max_positive_rate_ratio : float > 0 or None, default=1.0
        Cap on the predicted positive rate as a multiple of the validation base
        rate (share of positive labels). 1.0 means "no more trades than actual
        opportunities"; see the module documentation for why this is the default.
        When both caps are set, the smaller one applies; ``None`` for both means
        no cap.

    Examples
    --------
    >>> from cvn_sklearn.threshold import ThetaConstraints
    >>> ThetaConstraints(max_positive_rate=0.1).positive_rate_cap(base_rate=0.3)
    0.1
    """

    min_positives: int = 1
    max_positive_rate: float | None = None
    max_positive_rate_ratio: float | None = 1.0

    def __post_init__(self):
        if not isinstance(self.min_positives, Integral) or self.min_positives < 1:
            raise ValueError(f"min_positives must be an integer >= 1, got {self.min_positives!r}.")
        rate, ratio = self.max_positive_rate, self.max_positive_rate_ratio
        if rate is not None and not (isinstance(rate, Real) and 0 < rate <= 1):
            raise ValueError(f"max_positive_rate must be in (0, 1] or None, got {rate!r}.")
        if ratio is not None and not (isinstance(ratio, Real) and ratio > 0):
            raise ValueError(f"max_positive_rate_ratio must be a number > 0 or None, got {ratio!r}.")

    def positive_rate_cap(self, base_rate: float) -> float:
        """Largest allowed predicted positive rate for a validation base rate."""
        caps = [1.0, self.max_positive_rate, None if self.max_positive_rate_ratio is None else self.max_positive_rate_ratio * base_rate]
        return min(cap for cap in caps if cap is not None)


@dataclass(frozen=True, eq=False)
class ThetaSweepResult:
    """The chosen θ and the whole curve it was chosen from.

    The curve arrays have one entry per distinct validation probability, in
    ascending θ order; a row is predicted positive when ``proba >= θ``.

    Attributes
    ----------
    theta : float
        The chosen threshold.
    objective : str
        Name of the objective maximised.
    objective_value : float
        Its value at ``theta``.
    n_positives : int
        Validation rows predicted positive at ``theta``.
    positive_rate : float
        ``n_positives / n_val``.
    n_val : int
        Number of validation rows.
    base_rate : float
        Share of positive labels among them.
    positive_rate_cap : float
        The predicted positive rate cap that applied.
    thresholds, scores, positives, positive_rates, precisions, recalls : ndarray
        The curve: candidate θ, objective value, predicted positives, their
        share, precision and recall at each candidate.
    feasible : ndarray of bool
        Whether each candidate met the constraints (and the recall floor for
        ``"precision_at_recall"``).
    """

    theta: float
    objective: str
    objective_value: float
    n_positives: int
    positive_rate: float
    n_val: int
    base_rate: float
    positive_rate_cap: float
    thresholds: np.ndarray = field(repr=False)
    scores: np.ndarray = field(repr=False)
    positives: np.ndarray = field(repr=False)
    positive_rates: np.ndarray = field(repr=False)
    precisions: np.ndarray = field(repr=False)
    recalls: np.ndarray = field(repr=False)
    feasible: np.ndarray = field(repr=False)

    def __post_init__(self):
        for name in ("thresholds", "scores", "positives", "positive_rates", "precisions", "recalls", "feasible"):
            getattr(self, name).flags.writeable = False


def theta_sweep(
    y_val,
    proba_val,
    *,
    objective="f1",
    constraints=None,
    returns=None,
    sample_weight=None,
    beta=1.0,
    min_recall=0.2,
    pos_label=None,
) -> ThetaSweepResult:
    """Pick the decision threshold θ that maximises an objective on validation rows.

    Exact: the objective is evaluated at every distinct validation probability
    (candidate ``v`` predicts positive the rows with ``proba >= v``), from one
    sort and cumulative sums, in O(n log n). Among the candidates meeting
    ``constraints``, the best objective wins; ties (within a relative 1e-12) go
    to the higher candidate, which trades less.

    The returned ``theta`` selects exactly the chosen candidate's rows, and sits
    inside the gap below it rather than on a validation value, so float noise
    on new data cannot flip a row sitting on the boundary: it is 0.5 when the
    gap contains 0.5 (the validation rows cannot tell θ from a calibrated
    model's natural boundary), else the middle of the gap.

    Objectives:

    - ``"f1"``: F1 of the positive class; ``"fbeta"``: F-beta with ``beta``.
    - ``"precision_at_recall"``: precision (win rate), among θ whose recall is
      at least ``min_recall``.
    - ``"expected_return"``: ``sum(returns[proba >= θ]) / n_val``, the mean
      per-period return of trading the signal (rows without a trade earn 0).
    - ``"sortino"``: per-period Sortino ratio of that strategy, as
      :func:`cvn_sklearn.metrics.trading_metrics` with ``periods_per_year=1``.

    With ``sample_weight`` every sum above is weighted (``sum(w * ...)`` and
    ``sum(w)`` in place of counts). The constraints always count rows: a trade
    is a trade.

    Parameters
    ----------
    y_val : array-like of shape (n_val,)
        Validation labels (binary, any dtype).
    proba_val : array-like of shape (n_val,) or (n_val, 2)
        Validation P(positive), ideally calibrated; or ``predict_proba`` output.
    objective : {"f1", "fbeta", "precision_at_recall", "expected_return", "sortino"}, default="f1"
        What θ maximises.
    constraints : ThetaConstraints, dict or None, default=None
        Constraints on the predicted positives; ``None`` means
        ``ThetaConstraints()`` (at least 1 trade, at most the base rate).
    returns : array-like of shape (n_val,), default=None
        Per-sample forward returns; required by ``"expected_return"`` and
        ``"sortino"``, ignored by the other objectives.
    sample_weight : array-like of shape (n_val,), default=None
        Non-negative row weights of the objective.
    beta : float, default=1.0
        The beta of ``"fbeta"``.
    min_recall : float, default=0.2
        The recall floor of ``"precision_at_recall"``.
    pos_label : scalar, default=None
        The buy label; ``None`` means 1 (or ``True``) for labels in ``{0, 1}``,
        ``{-1, 1}`` or booleans, and is an error for any other labels (see
        :func:`~cvn_sklearn.metrics.buy_label`).

    Returns
    -------
    ThetaSweepResult

    Raises
    ------
    ValueError
        If the validation data is missing, empty, NaN, outside [0, 1] or holds a
        single class; if the buy label is unknown; if a return-based objective
        gets no returns; or if no θ meets the constraints. There is no fallback
        to 0.5.

    See Also
    --------
    ThetaSweep : The meta-estimator that fits a model and applies this θ.
    sklearn.model_selection.TunedThresholdClassifierCV : scikit-learn's grid search.

    Examples
    --------
    >>> from cvn_sklearn import theta_sweep
    >>> y = [0, 0, 1, 0, 1, 1, 0, 1]
    >>> p = [0.1, 0.2, 0.3, 0.35, 0.6, 0.7, 0.8, 0.9]
    >>> result = theta_sweep(y, p)
    >>> float(result.theta), result.n_positives, round(float(result.objective_value), 3)
    (0.5, 4, 0.75)
    >>> float(theta_sweep(y, p, constraints={"max_positive_rate_ratio": None}).theta)
    0.25
    """
    y, p, w = _check_sweep_inputs(y_val, proba_val, sample_weight, pos_label)
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}.")
    r = _check_returns(returns, objective, len(y))
    constraints = _as_constraints(constraints)
    curve = _curve(p, y, w, r, objective, beta)
    n = len(y)
    cap = constraints.positive_rate_cap(y.mean())
    feasible = (curve["positives"] >= constraints.min_positives) & (curve["positive_rates"] <= cap)
    feasible &= ~np.isnan(curve["scores"])
    if objective == "precision_at_recall":
        feasible &= curve["recalls"] >= min_recall
    best = _best_index(curve["scores"], feasible, curve["positives"], constraints, cap, objective, min_recall, n)
    thresholds = curve["thresholds"]
    return ThetaSweepResult(
        theta=_theta_in_gap(thresholds[best - 1] if best else 0.0, thresholds[best]),
        objective=objective,
        objective_value=float(curve["scores"][best]),
        n_positives=int(curve["positives"][best]),
        positive_rate=float(curve["positive_rates"][best]),
        n_val=n,
        base_rate=float(y.mean()),
        positive_rate_cap=float(cap),
        feasible=feasible,
        **curve,
    )


def _curve(p, y, w, r, objective, beta):
    """Objective, counts, precision and recall at every distinct probability (ascending)."""
    n = len(y)
    p_sorted, y_sorted, w_sorted, r_sorted = _sort_ascending(p, y, w, r)
    starts = np.flatnonzero(np.r_[True, p_sorted[1:] != p_sorted[:-1]])
    positives = n - starts
    tp = _suffix_at(y_sorted if w_sorted is None else y_sorted * w_sorted, starts)
    selected = positives.astype(np.float64) if w_sorted is None else _suffix_at(w_sorted, starts)
    n_pos, total = (float(y.sum()), n) if w is None else (np.dot(y, w), w.sum())
    return {
        "thresholds": p_sorted[starts],
        "scores": _objective_scores(objective, tp, selected, n_pos, total, beta, r_sorted, w_sorted, starts),
        "positives": positives,
        "positive_rates": positives / n,
        "precisions": _precision(tp, selected),
        "recalls": _recall(tp, n_pos),
    }


def _check_sweep_inputs(y_val, proba_val, sample_weight, pos_label):
    if y_val is None or proba_val is None:
        missing = "y_val" if y_val is None else "proba_val"
        raise ValueError(
            f"theta_sweep got {missing}=None: θ is tuned on held-out validation rows and has no default. "
            "Pass the validation labels and probabilities (there is no fallback to 0.5)."
        )
    proba = np.asarray(proba_val, dtype=np.float64)
    p = proba[:, 1] if proba.ndim == 2 and proba.shape[1] == 2 else column_or_1d(proba)
    y = column_or_1d(y_val)
    check_consistent_length(y, p)
    if len(y) == 0:
        raise ValueError("theta_sweep got empty validation data: θ needs held-out rows; check the split.")
    if np.isnan(p).any():
        raise ValueError(
            f"proba_val contains {int(np.isnan(p).sum())} NaN value(s); θ cannot be tuned on them. Check the model "
            "that produced them: NaN features it does not accept, or a fit that diverged."
        )
    if p.min() < 0.0 or p.max() > 1.0:
        raise ValueError("proba_val must be probabilities in [0, 1]; pass predict_proba output, not scores.")
    y01 = _binary_labels(y, pos_label)
    w = None if sample_weight is None else _check_sample_weight(sample_weight, p)
    if y01.min() == y01.max() or (w is not None and 0 in (np.dot(w, y01), np.dot(w, 1 - y01))):
        raise ValueError(
            f"The {len(y)} validation rows hold a single class (counting rows with non-zero sample_weight), "
            "so precision and recall are undefined and θ cannot be tuned. Use a longer validation window."
        )
    return y01, p, w


def _check_returns(returns, objective, n_val):
    if objective not in _RETURN_OBJECTIVES:
        return None
    if returns is None:
        raise ValueError(
            f"objective={objective!r} needs per-sample forward returns: pass returns= "
            "(to ThetaSweep/CalibratedThetaClassifier.fit, or routed through a Pipeline)."
        )
    r = column_or_1d(returns).astype(np.float64)
    if len(r) != n_val:
        raise ValueError(f"returns has {len(r)} rows but the validation data has {n_val}.")
    if not np.isfinite(r).all():
        raise ValueError("returns must be finite numbers; drop or fill the rows with NaN or inf.")
    return r


def _as_constraints(constraints):
    if constraints is None:
        return ThetaConstraints()
    if isinstance(constraints, ThetaConstraints):
        return constraints
    unknown = set(constraints) - {f.name for f in fields(ThetaConstraints)}
    if unknown:
        raise ValueError(f"Unknown constraint(s) {sorted(unknown)}; known: {[f.name for f in fields(ThetaConstraints)]}.")
    return ThetaConstraints(**constraints)


def _sort_ascending(p, y, w, r):
    """Sort the rows by probability; return sorted probabilities, labels, weights and returns.

    With labels only, the label rides in the lowest bit of the probability's
    IEEE-754 bit pattern shifted left by one (monotone for p >= 0, exact), so one
    ``np.sort`` of integers does the work of an ``argsort`` plus two gathers.
    """
    if w is None and r is None:
        keys = (p + 0.0).view(np.uint64)  # + 0.0 turns -0.0 into 0.0
        keys <<= np.uint64(1)
        keys |= y.view(np.uint8)  # y is 0/1 int8
        keys.sort()
        return (keys >> np.uint64(1)).view(np.float64), keys & np.uint64(1), None, None
    order = np.argsort(p)
    return p[order], y[order], None if w is None else w[order], None if r is None else r[order]


def _suffix_at(values, starts):
    """``sum(values[s:])`` for each ``s`` in ``starts``, as floats.

    Integer sums are exact as total minus prefix; float sums are accumulated
    from the top, so a few top rows are not the difference of two large sums.
    """
    if values.dtype.kind in "iu":
        prefix = np.cumsum(values)
        return (prefix[-1] - prefix[starts] + values[starts]).astype(np.float64)
    return np.cumsum(values[::-1])[::-1][starts]


def _objective_scores(objective, tp, selected, n_pos, total, beta, r_sorted, w_sorted, starts):
    if objective in ("f1", "fbeta"):
        return _fbeta(tp, selected, n_pos, 1.0 if objective == "f1" else beta)
    if objective == "precision_at_recall":
        return _precision(tp, selected)
    weight = 1.0 if w_sorted is None else w_sorted
    sum_r = _suffix_at(weight * r_sorted, starts)
    if objective == "expected_return":
        return sum_r / total
    return _sortino(sum_r, _suffix_at(weight * np.minimum(r_sorted, 0.0) ** 2, starts), total)


def _best_index(scores, feasible, positives, constraints, cap, objective, min_recall, n):
    if not feasible.any():
        floor = f", recall >= {min_recall}" if objective == "precision_at_recall" else ""
        top = "the probabilities are constant" if positives.size == 1 else f"the highest probability alone selects {int(positives[-1])} rows"
        raise ValueError(
            f"No θ meets the constraints on {n} validation rows (min_positives={constraints.min_positives}, "
            f"predicted positive rate <= {cap:.4g}, i.e. <= {int(np.floor(cap * n))} rows{floor}; objective "
            f"{objective!r} defined), and {top}. Loosen "
            "max_positive_rate_ratio / max_positive_rate / min_positives / min_recall, use more validation rows, "
            "or a model whose probabilities are less tied (e.g. more trees or leaves)."
        )
    best = np.max(scores[feasible])
    tolerance = 0.0 if np.isinf(best) else _TIE_RTOL * abs(best)
    return np.flatnonzero(feasible & (scores >= best - tolerance))[-1]


def _theta_in_gap(lower, upper):
    """A threshold ``t`` with ``lower < t <= upper``: 0.5 if the gap holds it, else its middle."""
    if lower < 0.5 <= upper:
        return 0.5
    middle = lower + (upper - lower) / 2
    return float(middle if middle > lower else upper)


def pick_theta(model_name, y_val, proba_val, returns, sample_weight, **sweep_params):
    """Run :func:`theta_sweep` on 0/1 validation labels and emit ``theta_picked``."""
    result = theta_sweep(y_val, proba_val, returns=returns, sample_weight=sample_weight, **sweep_params)
    objective = result.objective
    emit(
        "theta_picked",
        model_type=model_name,
        theta=result.theta,
        objective=objective,
        objective_value=result.objective_value,
        positive_rate_val=result.positive_rate,
        n_positives_val=result.n_positives,
        n_val=result.n_val,
    )
    return result


THETA_PARAMETER_CONSTRAINTS = {
    "objective": [StrOptions(set(OBJECTIVES))],
    "beta": [Interval(Real, 0, None, closed="neither")],
    "min_recall": [Interval(Real, 0, 1, closed="both")],
    "min_positives": [Interval(Integral, 1, None, closed="left")],
    "max_positive_rate": [Interval(Real, 0, 1, closed="right"), None],
    "max_positive_rate_ratio": [Interval(Real, 0, None, closed="neither"), None],
    "pos_label": [Real, str, "boolean", None],
}


THETA_CONSTRAINTS = tuple(name for name in THETA_PARAMETER_CONSTRAINTS if name not in ("objective", "pos_label"))
"""The θ constraints and objective parameters, as the harness and the sweep accept them."""


def theta_params(owner) -> dict:
    """An estimator's θ parameters (the keys of :data:`THETA_PARAMETER_CONSTRAINTS`) as a ``dict``."""
    return {name: getattr(owner, name) for name in THETA_PARAMETER_CONSTRAINTS}


def estimator_buy_label(classes, pos_label):
    """The buy label of :class:`ThetaSweep` and :class:`~cvn_sklearn.CalibratedThetaClassifier`.

    ``pos_label`` when given; for numeric or boolean labels ``classes[1]``,
    scikit-learn's positive class (1 for ``{0, 1}`` and ``{-1, 1}``, as
    :func:`~cvn_sklearn.metrics.buy_label`); string labels have no default.
    """
    classes = np.asarray(classes)
    if pos_label is None and classes.dtype.kind in "biuf" and classes.size == 2:
        pos_label = classes[1]
    return buy_label(classes, pos_label)


def apply_theta(classes, p_second, theta, pos_label):
    """Labels from ``P(classes[1])``: the buy label where P(buy) >= ``theta``, else the other class."""
    first = estimator_buy_label(classes, pos_label) == classes[0]
    selected = ((1.0 - p_second) if first else p_second) >= theta
    return classes[selected.astype(int) ^ int(first)]


class ThetaSweep(BinaryMetaTagsMixin, ClassifierMixin, MetaEstimatorMixin, BaseEstimator):
    """Binary classifier whose decision threshold θ is tuned on held-out rows.

    ``fit`` fits a clone of ``estimator`` on the first rows, computes
    P(positive) on the held-out rows and picks θ with :func:`theta_sweep`.
    ``predict`` returns the positive class where ``P(positive) >= theta_``;
    ``predict_proba`` is the inner estimator's, unchanged. Give it calibrated
    probabilities (``ThetaSweep(Calibrate(model))``, or
    :class:`~cvn_sklearn.CalibratedThetaClassifier`), otherwise θ compensates
    for the miscalibration of that particular fit.

    The default constraints cap the predicted positive rate at the validation
    base rate, so a weak signal does not "trade always"; see
    :class:`ThetaConstraints` and the module documentation for the reasoning.

    Parameters
    ----------
    estimator : classifier with ``predict_proba``, default=None
        The model; ``None`` means ``LogisticRegression()``. It is cloned, unless
        it is a :class:`~sklearn.frozen.FrozenEstimator`, which is used as
        fitted and every row given to ``fit`` tunes θ.
    objective : {"f1", "fbeta", "precision_at_recall", "expected_return", "sortino"}, default="f1"
        What θ maximises; see :func:`theta_sweep`. The return-based ones need
        ``returns`` at fit time.
    beta : float, default=1.0
        The beta of ``"fbeta"``.
    min_recall : float, default=0.2
        The recall floor of ``"precision_at_recall"``.
    min_positives : int, default=1
        Minimum number of held-out rows predicted positive.
    max_positive_rate : float in (0, 1] or None, default=None
        Cap on the held-out predicted positive rate.
    max_positive_rate_ratio : float or None, default=1.0
        Cap on the held-out predicted positive rate, as a multiple of the
        held-out base rate.
    pos_label : int, float, bool or str, default=None
        The label θ is tuned for (the buy class). ``None`` means
        ``classes_[1]`` for numeric or boolean labels, scikit-learn's positive
        class (1 for ``{0, 1}`` and ``{-1, 1}``); string labels such as
        ``"buy"``/``"hold"`` need it, and ``fit`` raises without it rather than
        guess from the sort order. The harness front doors are stricter (see
        :func:`~cvn_sklearn.metrics.buy_label`) and always pass it.
    cv : float, int, cross-validation generator or iterable, default=0.2
        Where the held-out rows come from. A float in (0, 1): the last share of
        the rows, in time order, never shuffled; the model is fitted on the rows
        before them. Anything else is a splitter as in scikit-learn
        (``TimeSeriesSplit``, ``WalkForwardSplit``, ...): the model is fitted on
        each split's training rows, θ is tuned on all their out-of-sample
        probabilities pooled, and with several splits the model is then refitted
        on every row (one split keeps its model).
    n_jobs : int, default=None
        Splits fitted in parallel.

    Attributes
    ----------
    estimator_ : estimator
        The fitted model used by ``predict``.
    theta_ : float
        The tuned threshold.
    theta_result_ : ThetaSweepResult
        θ, its objective value and the whole curve.
    classes_ : ndarray of shape (2,)
        The class labels, from the inner estimator.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of str
        Feature names seen during fit, when ``X`` has them.

    See Also
    --------
    theta_sweep : The θ algorithm.
    Calibrate : Calibrates the probabilities θ is applied to.
    CalibratedThetaClassifier : Calibration then θ, in one coherent time-ordered design.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from cvn_sklearn import ThetaSweep
    >>> X, y = make_classification(n_samples=400, weights=[0.7], random_state=0)
    >>> clf = ThetaSweep(objective="f1").fit(X, y)
    >>> 0.0 < clf.theta_ < 1.0
    True
    >>> clf.theta_result_.positive_rate <= clf.theta_result_.base_rate
    True
    >>> clf.predict(X[:3]).shape
    (3,)
    """

    __metadata_request__fit = {"sample_weight": None}

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "predict_proba"]), None],
        **THETA_PARAMETER_CONSTRAINTS,
        "cv": [Interval(RealNotInt, 0, 1, closed="neither"), "cv_object"],
        "n_jobs": [Integral, None],
    }

    def __init__(
        self,
        estimator=None,
        *,
        objective="f1",
        beta=1.0,
        min_recall=0.2,
        min_positives=1,
        max_positive_rate=None,
        max_positive_rate_ratio=1.0,
        pos_label=None,
        cv=0.2,
        n_jobs=None,
    ):
        self.estimator = estimator
        self.objective = objective
        self.beta = beta
        self.min_recall = min_recall
        self.min_positives = min_positives
        self.max_positive_rate = max_positive_rate
        self.max_positive_rate_ratio = max_positive_rate_ratio
        self.pos_label = pos_label
        self.cv = cv
        self.n_jobs = n_jobs

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, *, returns=None, **params):
        """Fit the model on the first rows and tune θ on the held-out rows.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Training rows, in time order.
        y : array-like of shape (n_samples,)
            Binary labels of any dtype.
        returns : array-like of shape (n_samples,), default=None
            Per-sample forward returns, for ``objective="expected_return"`` or
            ``"sortino"``; only the held-out rows' returns are used.
        **params : dict
            Passed to the inner estimator's ``fit`` (sliced to its rows); with
            metadata routing enabled, routed to whoever requested them. A
            ``sample_weight`` also weights the θ objective on the held-out rows.

        Returns
        -------
        self : ThetaSweep
        """
        X, y = indexable(X, y)
        y01 = check_binary_target(y, type(self).__name__, params.get("sample_weight"))
        classes = np.unique(column_or_1d(y))
        first = estimator_buy_label(classes, self.pos_label) == classes[0]
        estimator = default_estimator(self.estimator)
        fit_params, split_params, own = route_fit_params(self, params, returns)
        splits = held_out_splits(estimator, X, y, self.cv, split_params, owner="ThetaSweep", what="θ rows")
        with labels_checked():
            fitted = Parallel(n_jobs=self.n_jobs)(
                delayed(fit_and_predict)(clone(estimator), X, y, train, test, fit_params) for train, test in splits
            )
            models, probas = zip(*fitted)
            rows = np.arange(len(y01))
            self.estimator_ = models[0] if len(splits) == 1 else fit_on_rows(clone(estimator), X, y, rows, fit_params)
        probas = np.concatenate(probas)
        y_pos = 1 - y01 if first else y01
        val = np.concatenate([test for _, test in splits])
        self.theta_result_ = pick_theta(
            model_type(estimator),
            y_pos[val],
            1.0 - probas if first else probas,
            take(own["returns"], val),
            take(own["sample_weight"], val),
            **sweep_params(self),
        )
        self.theta_ = self.theta_result_.theta
        copy_feature_attributes(self, self.estimator_)
        return self

    @property
    def classes_(self):
        """The class labels, from the inner estimator."""
        return self.estimator_.classes_

    def predict(self, X):
        """Predict ``pos_label`` where P(``pos_label``) >= ``theta_``, else the other class.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        check_is_fitted(self, "theta_")
        return apply_theta(self.classes_, positive_proba(self.estimator_, X), self.theta_, self.pos_label)

    def predict_proba(self, X):
        """Class probabilities of the inner estimator, unchanged.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, 2)
        """
        check_is_fitted(self, "theta_")
        return self.estimator_.predict_proba(X)

    @available_if(estimator_has("predict_log_proba"))
    def predict_log_proba(self, X):
        """Log of the inner estimator's class probabilities.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, 2)
        """
        check_is_fitted(self, "theta_")
        return self.estimator_.predict_log_proba(X)

    def get_metadata_routing(self):
        """Route ``fit`` metadata to the inner estimator and the splitter.

        Returns
        -------
        MetadataRouter
        """
        return meta_router(self, splitter=self.cv)


def sweep_params(owner):
    """The :func:`pick_theta` keyword arguments from an estimator's θ parameters."""
    constraints = ThetaConstraints(
        min_positives=owner.min_positives,
        max_positive_rate=owner.max_positive_rate,
        max_positive_rate_ratio=owner.max_positive_rate_ratio,
    )
    return {"objective": owner.objective, "constraints": constraints, "beta": owner.beta, "min_recall": owner.min_recall}

