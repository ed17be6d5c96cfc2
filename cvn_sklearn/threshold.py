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
"never trade" answer from the sweep itself; raise it (e.g. to 30) for the
return-based objectives, which otherwise reward a handful of lucky trades.

Why the edge test
-----------------
The constraints bound how often a model trades, never whether it should. On
real prices with features that carry no information (validation AUC < 0.52),
the sweep still finds its best θ on noise, lands on the positive-rate cap, and
the model trades 12-36% of the test rows (30 default fits, five symbols): every
trade pays costs for nothing.
So after the sweep, θ is kept only if the validation rows show an edge
(``edge_test="auc"``, the default):

- a ranking edge: a one-sided Mann-Whitney U test (tie-corrected,
  asymptotic) that P(buy) of the buy rows is greater than that of the other
  rows, at level ``edge_alpha=0.05`` (equivalently, that the validation AUC
  is above 0.5 by more than chance);
- when returns are given (any objective), an edge after costs: the mean of
  ``returns - cost`` over the rows the chosen θ selects is > 0.

Otherwise the answer is "no trade": θ is :data:`NO_TRADE_THETA`
(``nextafter(1, 2)``, finite, above every probability), the result says
``no_edge=True`` and carries the evidence in ``edge``, and ``pick_theta``
emits ``no_edge`` before its ``theta_picked``. On uninformative features the
test passes by chance in about ``edge_alpha`` of the fits (fewer with
returns); on a real signal with a few hundred validation rows it passes
easily. Both parts count rows (unweighted): a trade is a trade. When the
calibrator was fitted on the θ rows themselves (a frozen model in
:class:`~cvn_sklearn.CalibratedThetaClassifier`), the ranking test reads the
model's raw scores, not the calibrated ones: a calibrator fitted on the rows
can reorder them in its favour (a Platt slope flips an anti-ranking).
``edge_test=None`` turns the test off.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from numbers import Integral

import numpy as np
from scipy.stats import mannwhitneyu
from sklearn.base import clone
from sklearn.utils.metaestimators import available_if
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import check_consistent_length, check_is_fitted, column_or_1d

from cvn_sklearn._heldout import (
    ESTIMATOR_CONSTRAINTS,
    OBJECTIVES,
    THETA_CONSTRAINTS,
    THETA_DEFAULTS,
    THETA_PARAMETER_CONSTRAINTS,  # noqa: F401  (re-exported)
    BaseHeldOutClassifier,
    check_theta_names,  # also the harness's check of θ constraint names
    default_estimator,
    estimator_has,
    every_row,
    fit_and_predict,
    fit_on_rows,
    held_out_splits,
    meta_router,
    model_type,
    route_fit_params,
    take,
)
from cvn_sklearn._sklearn_compat import Interval, RealNotInt, _check_sample_weight, validate_parameter_constraints
from cvn_sklearn.events import emit
from cvn_sklearn.metrics import _binary_labels, _fbeta, _precision, _recall, _sortino

__all__ = ["NO_TRADE_THETA", "THETA_CONSTRAINTS", "ThetaConstraints", "ThetaSweep", "ThetaSweepResult", "theta_sweep"]

# OBJECTIVES, THETA_CONSTRAINTS and THETA_PARAMETER_CONSTRAINTS are declared once, in
# cvn_sklearn._heldout with the base class of the meta-estimators, and importable from here as before.
_RETURN_OBJECTIVES = ("expected_return", "sortino")
_TIE_RTOL = 1e-12
NO_TRADE_THETA = float(np.nextafter(1.0, 2.0))
"""The θ of a "no trade" result: the smallest float above 1, so no probability reaches it (and JSON stays valid)."""


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

    min_positives: int = THETA_DEFAULTS["min_positives"]
    max_positive_rate: float | None = THETA_DEFAULTS["max_positive_rate"]
    max_positive_rate_ratio: float | None = THETA_DEFAULTS["max_positive_rate_ratio"]

    def __post_init__(self):
        names = [f.name for f in fields(self)]
        validate_parameter_constraints(
            {name: THETA_PARAMETER_CONSTRAINTS[name] for name in names},
            {name: getattr(self, name) for name in names},
            caller_name=type(self).__name__,
        )

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
    no_edge : bool
        ``True`` when the edge test failed: the result is "no trade",
        ``theta`` is :data:`NO_TRADE_THETA` (just above 1, so ``predict`` never
        says buy), ``n_positives`` and ``positive_rate`` are 0 and
        ``objective_value`` is the objective of trading nothing. The curve
        arrays are kept as swept.
    edge : dict
        The evidence of the edge test (filled whether it passed or not, and
        when ``edge_test=None``): ``test`` (``"auc"`` or ``None``), ``auc``
        (validation AUC of the edge scores), ``p_value`` (one-sided
        Mann-Whitney U), ``alpha``, ``mean_net_return`` (mean of
        ``returns - cost`` over the rows the swept θ selects; ``None`` without
        returns), ``cost``, ``n_val``, ``theta_tested`` and
        ``n_positives_tested`` (the θ the sweep picked and its trades; NaN
        and 0 when no θ met the constraints), and ``reason`` (``""`` when the
        edge holds, else ``"ranking"``, ``"after_costs"`` or both,
        comma-separated). When no θ meets the constraints (constant
        probabilities, say) and the ranking shows no edge, the result is "no
        trade" (reason ``"ranking (and no θ meets the constraints)"``), not
        the infeasible-constraints error, which stays for a model with an edge.
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
    no_edge: bool = False
    edge: dict | None = None

    def __post_init__(self):
        for name in ("thresholds", "scores", "positives", "positive_rates", "precisions", "recalls", "feasible"):
            getattr(self, name).flags.writeable = False


def theta_sweep(
    y_val,
    proba_val,
    *,
    objective=THETA_DEFAULTS["objective"],
    constraints=None,
    returns=None,
    sample_weight=None,
    beta=THETA_DEFAULTS["beta"],
    min_recall=THETA_DEFAULTS["min_recall"],
    pos_label=THETA_DEFAULTS["pos_label"],
    cost=THETA_DEFAULTS["cost"],
    edge_test=THETA_DEFAULTS["edge_test"],
    edge_alpha=THETA_DEFAULTS["edge_alpha"],
    edge_scores=None,
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
    - ``"expected_return"``: ``sum(returns[proba >= θ] - cost) / n_val``, the
      mean per-period net return of trading the signal (rows without a trade
      earn 0, each trade pays ``cost``).
    - ``"sortino"``: per-period Sortino ratio of that strategy (net of
      ``cost``), as :func:`cvn_sklearn.metrics.trading_metrics` with
      ``periods_per_year=1``.

    Then the edge test (``edge_test="auc"``, the default): the chosen θ is kept
    only if the model shows an edge on the validation rows, i.e. (a) a
    one-sided Mann-Whitney U test (tie-corrected, asymptotic) finds the
    ``edge_scores`` of the buy rows greater than those of the other rows at
    level ``edge_alpha``, and (b) when ``returns`` are given, the mean of
    ``returns - cost`` over the rows θ selects is > 0. Otherwise the result is
    "no trade": ``theta`` is :data:`NO_TRADE_THETA` (``nextafter(1, 2)``),
    ``no_edge`` is ``True`` and ``edge`` holds the evidence. Both parts count
    rows, unweighted. See the module documentation for why.

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
    cost : float >= 0, default=0.0
        Round-trip cost of one trade, as a return (0.0005 = 5 bps), subtracted
        from each selected row's return by the return-based objectives and by
        the after-costs part of the edge test.
    edge_test : {"auc"} or None, default="auc"
        The edge test run after the sweep; ``None`` turns it off (θ always
        trades, as before the test existed).
    edge_alpha : float in (0, 1), default=0.05
        Level of the one-sided Mann-Whitney U test.
    edge_scores : array-like of shape (n_val,), default=None
        The scores the ranking test reads; ``None`` means ``proba_val``. Pass
        the uncalibrated scores when ``proba_val`` comes from a calibrator
        fitted on these same rows (a calibrator fitted on the rows can reorder
        them in its favour, e.g. a Platt slope that flips an anti-ranking).

    Returns
    -------
    ThetaSweepResult
        With ``no_edge=True`` and ``theta == NO_TRADE_THETA`` when the edge
        test fails.

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
    >>> result = theta_sweep(y, p, edge_test=None)
    >>> float(result.theta), result.n_positives, round(float(result.objective_value), 3)
    (0.5, 4, 0.75)
    >>> float(theta_sweep(y, p, constraints={"max_positive_rate_ratio": None}, edge_test=None).theta)
    0.25

    Eight rows cannot show an edge (AUC 0.75, one-sided p = 0.16), so by
    default the answer is "no trade"; the evidence says why:

    >>> no_trade = theta_sweep(y, p, edge_test="auc")
    >>> no_trade.no_edge, no_trade.theta > 1.0, no_trade.n_positives
    (True, True, 0)
    >>> no_trade.edge["auc"], round(no_trade.edge["p_value"], 3), no_trade.edge["reason"]
    (0.75, 0.156, 'ranking')

    A cost per trade is paid by the return-based objectives, and by the edge:

    >>> r = [-0.01, 0.0, 0.02, -0.01, 0.002, 0.002, 0.004, 0.03]
    >>> gross = theta_sweep(y, p, objective="expected_return", returns=r, edge_test=None)
    >>> net = theta_sweep(y, p, objective="expected_return", returns=r, cost=0.005, edge_test=None)
    >>> (gross.n_positives, round(gross.objective_value, 6)), (net.n_positives, round(net.objective_value, 6))
    ((4, 0.00475), (1, 0.003125))
    """
    if y_val is None or proba_val is None:
        missing = "y_val" if y_val is None else "proba_val"
        raise ValueError(
            f"theta_sweep got {missing}=None: θ is tuned on held-out validation rows and has no default. "
            "Pass the validation labels and probabilities (there is no fallback to 0.5)."
        )
    p = _check_proba(proba_val)
    y01 = _binary_labels(y_val, pos_label)
    return _sweep01(
        y01, p, objective, constraints, returns, sample_weight, beta, min_recall,
        cost=cost, edge_test=edge_test, edge_alpha=edge_alpha, edge_scores=edge_scores,
    )


def _sweep01(
    y01, p, objective, constraints, returns, sample_weight, beta, min_recall,
    *, cost=THETA_DEFAULTS["cost"], edge_test=THETA_DEFAULTS["edge_test"], edge_alpha=THETA_DEFAULTS["edge_alpha"],
    edge_scores=None,
) -> ThetaSweepResult:
    """:func:`theta_sweep` on 0/1 labels (1 = buy) and checked P(buy) (see :func:`_check_proba`)."""
    y, w = _check_labels_and_weights(y01, p, sample_weight)
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}.")
    _check_edge_params(cost, edge_test, edge_alpha)
    r = _check_returns(returns, objective, len(y), used=edge_test is not None)
    scores = p if edge_scores is None else _check_edge_scores(edge_scores, len(y))
    constraints = _as_constraints(constraints)
    objective_returns = None if r is None or objective not in _RETURN_OBJECTIVES else r - cost
    curve = _curve(p, y, w, objective_returns, objective, beta)
    n = len(y)
    cap = constraints.positive_rate_cap(y.mean())
    feasible = (curve["positives"] >= constraints.min_positives) & (curve["positive_rates"] <= cap)
    feasible &= ~np.isnan(curve["scores"])
    if objective == "precision_at_recall":
        feasible &= curve["recalls"] >= min_recall
    try:
        best = _best_index(curve["scores"], feasible, curve["positives"], constraints, cap, objective, min_recall, n)
    except ValueError:
        # no θ meets the constraints (e.g. constant probabilities): without an edge that is "no trade", not an error
        edge = None if edge_test is None else _edge_evidence(y, scores, np.zeros(n, bool), None, cost, edge_test, edge_alpha)
        if edge is None or "ranking" not in edge["reason"]:
            raise
        best, edge = None, edge | {"theta_tested": float("nan"), "n_positives_tested": 0,
                                   "reason": "ranking (and no θ meets the constraints)"}
    if best is not None:
        thresholds = curve["thresholds"]
        theta = _theta_in_gap(thresholds[best - 1] if best else 0.0, thresholds[best])
        edge = _edge_evidence(y, scores, p >= thresholds[best], r, cost, edge_test, edge_alpha)
        edge |= {"theta_tested": theta, "n_positives_tested": int(curve["positives"][best])}
    no_edge = bool(edge["reason"])
    if no_edge:
        chosen = {
            "theta": NO_TRADE_THETA,
            "objective_value": _no_trade_value(objective, float(y.sum() if w is None else np.dot(y, w)), beta),
            "n_positives": 0,
            "positive_rate": 0.0,
        }
    else:
        chosen = {
            "theta": theta,
            "objective_value": float(curve["scores"][best]),
            "n_positives": int(curve["positives"][best]),
            "positive_rate": float(curve["positive_rates"][best]),
        }
    return ThetaSweepResult(
        **chosen,
        objective=objective,
        n_val=n,
        base_rate=float(y.mean()),
        positive_rate_cap=float(cap),
        feasible=feasible,
        no_edge=no_edge,
        edge=edge,
        **curve,
    )


def objective_at(y_true, proba, thresholds, *, objective="f1", returns=None, cost=0.0, beta=1.0, pos_label=None):
    """The θ curve of other rows: the objective and the predicted positive rate at given thresholds.

    :func:`theta_sweep` picks θ on validation rows; this scores the same
    candidate thresholds on any rows (a walk-forward fold's test block, say),
    with the same objective and cost, so the curve θ was picked on can be
    shown beside the one out of sample. A row is predicted positive when
    ``proba >= threshold``; a threshold above every probability selects no
    row and scores what trading nothing scores.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Labels (binary, any dtype).
    proba : array-like of shape (n_samples,)
        P(buy).
    thresholds : array-like of shape (n_thresholds,)
        The candidate thresholds (a :class:`ThetaSweepResult`'s ``thresholds``).
    objective : str, default="f1"
        One of :data:`OBJECTIVES`, as in :func:`theta_sweep`.
    returns : array-like of shape (n_samples,), default=None
        Per-row forward returns; required by the return-based objectives.
    cost : float, default=0.0
        Round-trip cost of one trade, subtracted by the return-based objectives.
    beta : float, default=1.0
        The beta of ``"fbeta"``.
    pos_label : scalar, default=None
        The buy label, as in :func:`theta_sweep`.

    Returns
    -------
    scores, positive_rates : ndarray of shape (n_thresholds,)

    Examples
    --------
    >>> from cvn_sklearn.threshold import objective_at
    >>> scores, rates = objective_at([0, 1, 1, 0], [0.2, 0.7, 0.9, 0.6], [0.5, 0.8, 0.95])
    >>> scores.round(3).tolist(), rates.tolist()
    ([0.8, 0.667, 0.0], [0.75, 0.25, 0.0])
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}.")
    p = _check_proba(proba)
    y01 = _binary_labels(y_true, pos_label)
    check_consistent_length(y01, p)
    r = _check_returns(returns, objective, len(y01))
    curve = _curve(p, y01, None, None if r is None else r - cost, objective, beta)
    at = np.searchsorted(curve["thresholds"], np.asarray(thresholds, dtype=np.float64), side="left")
    inside = at < len(curve["thresholds"])
    last = np.minimum(at, len(curve["thresholds"]) - 1)
    nothing = _no_trade_value(objective, float(y01.sum()), beta)
    return (np.where(inside, curve["scores"][last], nothing), np.where(inside, curve["positive_rates"][last], 0.0))


def _check_edge_params(cost, edge_test, edge_alpha):
    """Validate ``cost``, ``edge_test`` and ``edge_alpha`` (the estimators validated them already; the function may not have)."""
    names = ("cost", "edge_test", "edge_alpha")
    validate_parameter_constraints(
        {name: THETA_PARAMETER_CONSTRAINTS[name] for name in names},
        dict(zip(names, (cost, edge_test, edge_alpha))),
        caller_name="theta_sweep",
    )


def _check_edge_scores(edge_scores, n_val):
    scores = column_or_1d(np.asarray(edge_scores, dtype=np.float64))
    if len(scores) != n_val:
        raise ValueError(f"edge_scores has {len(scores)} rows but the validation data has {n_val}.")
    if not np.isfinite(scores).all():
        raise ValueError("edge_scores must be finite numbers; the ranking test cannot read NaN or inf.")
    return scores


def _edge_evidence(y, scores, selected, returns, cost, edge_test, alpha) -> dict:
    """The edge test's evidence on unweighted rows; ``reason`` is empty when the edge holds (or no test runs).

    (a) ranking: one-sided Mann-Whitney U (tie-corrected, asymptotic) that the
    buy rows' scores are greater than the others'; (b) after costs: the mean
    of ``returns - cost`` over the ``selected`` rows is > 0 (when returns are given).
    """
    buys, others = scores[y == 1], scores[y == 0]
    u, p_value = mannwhitneyu(buys, others, alternative="greater", method="asymptotic")
    p_value = float(p_value) if np.isfinite(p_value) else 1.0  # every score tied: no evidence of a ranking
    mean_net = None if returns is None else float(np.mean(returns[selected]) - cost)
    failed = []
    if edge_test is not None:
        if not p_value < alpha:
            failed.append("ranking")
        if mean_net is not None and not mean_net > 0.0:
            failed.append("after_costs")
    return {
        "test": edge_test,
        "auc": float(u) / (len(buys) * len(others)),
        "p_value": p_value,
        "alpha": float(alpha),
        "mean_net_return": mean_net,
        "cost": float(cost),
        "n_val": int(len(y)),
        "reason": ", ".join(failed),
    }


def _no_trade_value(objective, n_pos, beta):
    """The objective of trading nothing: F-scores 0, precision 0 (0/0), returns 0, Sortino NaN (all returns 0)."""
    if objective in ("f1", "fbeta"):
        return float(_fbeta(0.0, 0.0, n_pos, 1.0 if objective == "f1" else beta))
    if objective == "precision_at_recall":
        return float(_precision(0.0, 0.0))
    if objective == "expected_return":
        return 0.0
    return float(_sortino(0.0, 0.0, 1))


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


def _check_proba(proba_val):
    """P(buy) as a 1-d float array: a column, or the second column of ``predict_proba`` output; no NaN, in [0, 1]."""
    proba = np.asarray(proba_val, dtype=np.float64)
    p = proba[:, 1] if proba.ndim == 2 and proba.shape[1] == 2 else column_or_1d(proba)
    if np.isnan(p).any():
        raise ValueError(
            f"proba_val contains {int(np.isnan(p).sum())} NaN value(s); θ cannot be tuned on them. Check the model "
            "that produced them: NaN features it does not accept, or a fit that diverged."
        )
    if p.size and (p.min() < 0.0 or p.max() > 1.0):
        raise ValueError("proba_val must be probabilities in [0, 1]; pass predict_proba output, not scores.")
    return p


def _check_labels_and_weights(y01, p, sample_weight):
    check_consistent_length(y01, p)
    if len(y01) == 0:
        raise ValueError("theta_sweep got empty validation data: θ needs held-out rows; check the split.")
    w = None if sample_weight is None else _check_sample_weight(sample_weight, p)
    if w is not None and (w < 0).any():
        raise ValueError(
            f"sample_weight holds negative values (min {w.min():g}); weights must be >= 0. Give a row weight 0 to leave it out."
        )
    if y01.min() == y01.max() or (w is not None and 0 in (np.dot(w, y01), np.dot(w, 1 - y01))):
        raise ValueError(
            f"The {len(y01)} validation rows hold a single class (counting rows with non-zero sample_weight), "
            "so precision and recall are undefined and θ cannot be tuned. Use a longer validation window."
        )
    return y01, w


def _check_returns(returns, objective, n_val, used=False):
    """The returns as floats: required by the return-based objectives; otherwise checked when ``used`` (the edge test)."""
    if objective not in _RETURN_OBJECTIVES and (returns is None or not used):
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
    check_theta_names(constraints, [f.name for f in fields(ThetaConstraints)], what="constraint(s)")
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


def pick_theta(
    model_name, y01, p_buy, returns, sample_weight, *, objective, constraints, beta, min_recall,
    cost=THETA_DEFAULTS["cost"], edge_test=THETA_DEFAULTS["edge_test"], edge_alpha=THETA_DEFAULTS["edge_alpha"],
    edge_scores=None,
):
    """Run the θ sweep on validated 0/1 labels (1 = buy) and P(buy) of held-out rows; emit ``theta_picked``.

    When the edge test fails, ``no_edge`` is emitted first, with ``model_type``
    and the evidence (:attr:`ThetaSweepResult.edge`); ``theta_picked`` follows
    in every case (with the no-trade θ then), so every θ search logs one
    ``theta_picked``. ``edge_scores`` are the scores the ranking test reads
    (default: ``p_buy``).
    """
    result = _sweep01(
        y01, _check_proba(p_buy), objective, constraints, returns, sample_weight, beta, min_recall,
        cost=cost, edge_test=edge_test, edge_alpha=edge_alpha, edge_scores=edge_scores,
    )
    objective = result.objective
    if result.no_edge:
        emit("no_edge", model_type=model_name, objective=objective, **result.edge)
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


def apply_theta(classes, p_second, theta, buy):
    """Labels from ``P(classes[1])``: ``buy`` where P(buy) >= ``theta``, else the other class."""
    first = buy == classes[0]
    selected = ((1.0 - p_second) if first else p_second) >= theta
    return classes[selected.astype(int) ^ int(first)]


class ThetaSweep(BaseHeldOutClassifier):
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
        The label θ is tuned for (the buy class). ``None`` applies the one rule
        of :func:`~cvn_sklearn.metrics.buy_label`: 1 (``True``) for ``{0, 1}``,
        ``{-1, 1}`` and booleans, ``classes_[1]`` for other numeric labels
        (scikit-learn's positive class); string labels such as
        ``"buy"``/``"hold"`` need it, and ``fit`` raises without it rather than
        guess from the sort order.
    cost : float >= 0, default=0.0
        Round-trip cost per trade, as a return (0.0005 = 5 bps): the
        return-based objectives and the edge test score ``returns - cost``.
    edge_test : {"auc"} or None, default="auc"
        After the sweep, trade only if the held-out rows show an edge (a
        one-sided Mann-Whitney U test of the ranking, and a positive mean net
        return of the selected rows when ``returns`` are given); otherwise
        ``theta_`` is just above 1 and ``predict`` never says buy (see
        :func:`theta_sweep`). ``None`` turns it off.
    edge_alpha : float in (0, 1), default=0.05
        Level of the ranking test.
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
        The tuned threshold; :data:`NO_TRADE_THETA` (just above 1) when the
        held-out rows showed no edge.
    theta_result_ : ThetaSweepResult
        θ, its objective value, the whole curve and the edge evidence.
    buy_label_ : int, float, bool or str
        The label θ was tuned for: ``pos_label``, or its default.
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

    Features unrelated to the label: no edge, no trade.

    >>> import numpy as np
    >>> noise = np.random.default_rng(0).normal(size=(400, 3))
    >>> idle = ThetaSweep().fit(noise, y)
    >>> idle.theta_result_.no_edge, idle.theta_ > 1.0, int(idle.predict(noise).sum())
    (True, True, 0)
    """

    _parameter_constraints: dict = {
        **ESTIMATOR_CONSTRAINTS,
        **THETA_PARAMETER_CONSTRAINTS,
        "cv": [Interval(RealNotInt, 0, 1, closed="neither"), "cv_object"],
        "n_jobs": [Integral, None],
    }

    def __init__(
        self,
        estimator=None,
        *,
        objective=THETA_DEFAULTS["objective"],
        beta=THETA_DEFAULTS["beta"],
        min_recall=THETA_DEFAULTS["min_recall"],
        min_positives=THETA_DEFAULTS["min_positives"],
        max_positive_rate=THETA_DEFAULTS["max_positive_rate"],
        max_positive_rate_ratio=THETA_DEFAULTS["max_positive_rate_ratio"],
        pos_label=THETA_DEFAULTS["pos_label"],
        cost=THETA_DEFAULTS["cost"],
        edge_test=THETA_DEFAULTS["edge_test"],
        edge_alpha=THETA_DEFAULTS["edge_alpha"],
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
        self.cost = cost
        self.edge_test = edge_test
        self.edge_alpha = edge_alpha
        self.cv = cv
        self.n_jobs = n_jobs

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
        self._fit_held_out(X, y, returns, params)
        return self

    def _fit(self, X, target, params, returns=None):
        self.buy_label_ = self._buy_label(target.classes)
        estimator = default_estimator(self.estimator)
        fit_params, split_params, own = route_fit_params(self, params, returns)
        splits = held_out_splits(estimator, X, target.y, self.cv, split_params, owner="ThetaSweep", what="θ rows")
        fitted = Parallel(n_jobs=self.n_jobs)(
            delayed(fit_and_predict)(clone(estimator), X, target, train, test, fit_params) for train, test in splits
        )
        models, probas = zip(*fitted)
        rows = np.arange(len(target.y))
        raw = [model.__dict__.pop("_held_out_raw", None) for model in models]
        self.estimator_ = models[0] if len(splits) == 1 else fit_on_rows(clone(estimator), X, target, rows, fit_params)[0]
        proba = np.concatenate(probas)
        val = np.concatenate([test for _, test in splits])
        first = self.buy_label_ == target.classes[0]
        edge_scores = None
        if len(splits) == 1 and raw[0] is not None and every_row(val, len(raw[0])):
            # the inner Calibrate fitted its calibrator on the θ rows themselves: the edge test reads the raw scores
            edge_scores = 1.0 - raw[0] if first else raw[0]
        self.theta_result_ = pick_theta(
            model_type(estimator),
            target.y01[val] ^ np.int8(first),
            1.0 - proba[:, 1] if first else proba[:, 1],
            take(own["returns"], val),
            take(own["sample_weight"], val),
            edge_scores=edge_scores,
            **sweep_params(self),
        )
        self.theta_ = self.theta_result_.theta
        return proba if len(splits) == 1 and every_row(val, len(rows)) else None

    def _labels_from_proba(self, proba):
        """``buy_label_`` where P(``buy_label_``) >= ``theta_``, else the other class."""
        buy = self.__dict__.get("buy_label_")
        buy = self._buy_label(self.classes_) if buy is None else buy  # a ThetaSweep pickled before buy_label_
        return apply_theta(self.classes_, np.asarray(proba)[:, 1], self.theta_, buy)

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
    """The :func:`pick_theta` keyword arguments from an estimator's θ parameters (validated by its ``fit``)."""
    constraints = ThetaConstraints(
        min_positives=owner.min_positives,
        max_positive_rate=owner.max_positive_rate,
        max_positive_rate_ratio=owner.max_positive_rate_ratio,
    )
    return {
        "objective": owner.objective,
        "constraints": constraints,
        "beta": owner.beta,
        "min_recall": owner.min_recall,
        "cost": owner.cost,
        "edge_test": owner.edge_test,
        "edge_alpha": owner.edge_alpha,
    }

