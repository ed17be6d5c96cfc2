"""Figures for calibration and θ: a reliability diagram and the θ curve.

matplotlib is an optional dependency (``pip install matplotlib``, or the
``plots`` extra); it is imported when a figure is drawn, never on import. The
functions return a :class:`matplotlib.figure.Figure` built without pyplot, so
they leave no global state behind; save it with ``fig.savefig("name.png")``.
"""

from __future__ import annotations

import numpy as np
from sklearn.calibration import calibration_curve

from cvn_sklearn.metrics import _check_labels_and_proba, expected_calibration_error

__all__ = ["reliability_diagram", "theta_curve"]


def _figure(**kwargs):
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError(
            "cvn_sklearn.plots needs matplotlib, which is not installed: pip install matplotlib "
            "(or pip install 'cvn_sklearn[plots]')."
        ) from exc
    return Figure(layout="constrained", **kwargs)


def reliability_diagram(y_true, proba_before, proba_after=None, *, n_bins=10, names=("raw", "calibrated")):
    """Reliability diagram of probabilities before (and after) calibration.

    Top: observed positive rate against mean predicted probability in
    ``n_bins`` equal-width bins (the bins of
    :func:`~cvn_sklearn.metrics.expected_calibration_error`, whose value is in
    the legend); the diagonal is perfect calibration. Bottom: how many rows
    fall in each bin.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Binary labels, ideally of held-out rows.
    proba_before : array-like of shape (n_samples,) or (n_samples, 2)
        P(positive) of the raw model.
    proba_after : array-like of shape (n_samples,) or (n_samples, 2), default=None
        P(positive) after calibration.
    n_bins : int, default=10
        Number of equal-width bins.
    names : tuple of two str, default=("raw", "calibrated")
        Legend names of the two curves.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from cvn_sklearn.plots import reliability_diagram
    >>> fig = reliability_diagram([0, 1, 1, 0, 1], [0.2, 0.9, 0.6, 0.4, 0.7], [0.1, 0.8, 0.7, 0.3, 0.9])
    >>> [ax.get_ylabel() for ax in fig.axes]
    ['observed positive rate', 'rows']
    """
    fig = _figure(figsize=(6, 6.5))
    curve, hist = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    curve.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfectly calibrated")
    edges = np.linspace(0, 1, n_bins + 1)
    for name, proba, marker in zip(names, (proba_before, proba_after), ("s", "o")):
        if proba is None:
            continue
        y, p = _check_labels_and_proba(y_true, proba, None)
        observed, predicted = calibration_curve(y, p, n_bins=n_bins)
        ece = expected_calibration_error(y, p, n_bins=n_bins)
        curve.plot(predicted, observed, marker=marker, label=f"{name} (ECE {ece:.3f})")
        hist.hist(p, bins=edges, histtype="step", linewidth=1.5, label=name)
    curve.set(ylabel="observed positive rate", xlim=(0, 1), ylim=(0, 1), title="Reliability diagram")
    curve.legend(loc="upper left")
    hist.set(xlabel="predicted P(buy)", ylabel="rows")
    return fig


def theta_curve(result):
    """The θ curve of a :func:`~cvn_sklearn.theta_sweep`: objective and positive rate against θ.

    The objective (left axis) is drawn over every candidate θ, bold where the
    candidate meets the constraints; the predicted positive rate (right axis)
    with its cap dashed; the chosen θ is the vertical line (dotted at 1 for a
    "no trade" result, whose θ is just above 1; the legend names the θ swept).

    Parameters
    ----------
    result : ThetaSweepResult
        From :func:`~cvn_sklearn.theta_sweep`, or ``estimator.theta_result_``.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from cvn_sklearn import theta_sweep
    >>> from cvn_sklearn.plots import theta_curve
    >>> fig = theta_curve(theta_sweep([0, 1, 0, 1, 1, 0], [0.1, 0.4, 0.35, 0.8, 0.7, 0.2]))
    >>> fig.axes[0].get_xlabel()
    'θ (a row is positive when P(buy) >= θ)'
    """
    fig = _figure(figsize=(7, 4.5))
    objective = fig.subplots()
    rate = objective.twinx()
    scores = np.where(np.isfinite(result.scores), result.scores, np.nan)
    objective.plot(result.thresholds, scores, color="tab:blue", alpha=0.35, label=f"{result.objective} (all θ)")
    objective.plot(
        result.thresholds, np.where(result.feasible, scores, np.nan), color="tab:blue", linewidth=2,
        label=f"{result.objective} (meets constraints)",
    )
    rate.plot(result.thresholds, result.positive_rates, color="tab:orange", label="predicted positive rate")
    rate.axhline(result.positive_rate_cap, color="tab:orange", linestyle="--", label=f"rate cap {result.positive_rate_cap:.3f}")
    no_trade = getattr(result, "no_edge", False)
    tested = result.edge["theta_tested"] if no_trade else float("nan")
    swept = f"swept θ {tested:.4f}" if np.isfinite(tested) else "no θ met the constraints"
    theta_label = f"no edge: no trade ({swept})" if no_trade else f"θ = {result.theta:.4f}"
    objective.axvline(min(result.theta, 1.0), color="black", linestyle=":" if no_trade else "-", label=theta_label)
    objective.set(xlabel="θ (a row is positive when P(buy) >= θ)", ylabel=result.objective, xlim=(0, 1))
    rate.set(ylabel="predicted positive rate", ylim=(0, 1.02))
    handles = [h for ax in (objective, rate) for h in ax.get_legend_handles_labels()[0]]
    objective.legend(handles=handles, loc="upper right", fontsize="small")
    objective.set_title(f"θ sweep on {result.n_val} validation rows (base rate {result.base_rate:.3f})")
    return fig
