"""Labels and event sampling for trading research (López de Prado, *AFML*, ch. 2-3).

* :func:`triple_barrier_labels`: volatility-scaled profit-taking and stop-loss
  barriers plus a vertical barrier; per event the label, the time the first
  barrier is touched (``t1``, for purging) and the trade's realised return.
* :func:`cusum_events`: the symmetric CUSUM filter, which samples an event
  when cumulative log returns since the last event move by a threshold.
* :func:`forward_return_label`: the older fixed-horizon label (a return over
  the next ``horizon`` bars beating a volatility threshold).
* :func:`volatility`: the one volatility estimate all of them scale by: the
  exponentially weighted standard deviation of one-bar log returns, from
  bars up to and including each bar (never later ones).

Every function takes closing prices as a pandas Series with a sorted,
duplicate-free index (times); prices must be positive.

Examples
--------
>>> import numpy as np, pandas as pd
>>> from cvn_sklearn.labels import cusum_events, triple_barrier_labels
>>> close = pd.Series(np.exp(np.cumsum(np.random.RandomState(0).normal(0, 0.01, 500))) * 100,
...                   index=pd.date_range("2020-01-01", periods=500, freq="D"))
>>> sampled = cusum_events(close, threshold=2.0)
>>> labels = triple_barrier_labels(close, events=sampled.events, max_holding=10)
>>> list(labels.columns)
['label', 't1', 'ret', 'barrier', 'upper', 'lower', 'bars']
>>> bool((labels["t1"] > labels.index).all()), sorted(labels["barrier"].unique())
(True, ['lower', 'upper', 'vertical'])
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["CusumEvents", "cusum_events", "forward_return_label", "triple_barrier_labels", "volatility"]


def volatility(close: pd.Series, *, span: int = 50) -> pd.Series:
    """Exponentially weighted standard deviation of one-bar log returns.

    The value at a bar uses the returns up to and including that bar (known
    at its close), never later ones. The first ``span`` bars are NaN (too
    few returns for a stable estimate).

    Parameters
    ----------
    close : Series
        Positive closing prices, index sorted and without duplicates.
    span : int, default=50
        Span of the exponential weights, in bars (``pandas.Series.ewm``).

    Returns
    -------
    sigma : Series indexed like ``close``

    Examples
    --------
    >>> import pandas as pd
    >>> volatility(pd.Series([100.0, 101.0, 100.0, 101.0, 100.0]), span=2).round(4).tolist()
    [nan, nan, 0.0141, 0.0123, 0.0123]
    """
    _check_close(close, "volatility")
    _check_count("span", span, minimum=2)
    return np.log(close).diff().ewm(span=span, min_periods=span).std()


def triple_barrier_labels(
    close: pd.Series,
    *,
    events=None,
    pt_sl=(1.0, 1.0),
    vol_span: int = 50,
    max_holding: int = 10,
    target: pd.Series | None = None,
    vertical: str = "zero",
) -> pd.DataFrame:
    """Triple-barrier labels: which barrier a long trade entered at each event touches first.

    A trade enters at the close of each event bar. Its path is the log return
    ``log(close[t'] / close[t])`` of each of the next ``max_holding`` closes.
    The **upper** barrier is at ``+pt_sl[0] * w`` and the **lower** one at
    ``-pt_sl[1] * w``, where the unit width ``w`` is ``target`` at the event
    (default: :func:`volatility` with span ``vol_span`` times
    ``sqrt(max_holding)``, the volatility scaled to the holding horizon, so
    ``pt_sl=(1, 1)`` means one standard deviation of a ``max_holding``-bar
    return). The **vertical** barrier is the ``max_holding``-th bar after the
    event. A multiplier of 0 disables that horizontal barrier (its width is
    ``inf``).

    Barriers are checked on closes only (no intrabar high/low), from the next
    bar on; when the vertical bar's close also crosses a horizontal barrier,
    that horizontal barrier is the one touched.

    Parameters
    ----------
    close : Series
        Positive closing prices, index sorted and without duplicates.
    events : array-like of index values, default=None
        The event times (e.g. ``cusum_events(close, ...).events``); each must
        be in ``close.index``. ``None``: every bar.
    pt_sl : (float, float), default=(1.0, 1.0)
        Multipliers of ``w`` for the profit-taking (upper) and stop-loss
        (lower) barriers; each >= 0, 0 disables that barrier.
    vol_span : int, default=50
        Span of :func:`volatility`, ignored when ``target`` is given.
    max_holding : int, default=10
        Bars until the vertical barrier.
    target : Series, default=None
        The unit width ``w`` per bar, in log-return units, indexed like
        ``close`` (AFML's ``trgt``), instead of the volatility estimate.
    vertical : {"zero", "sign"}, default="zero"
        The label when the vertical barrier comes first: ``"zero"`` labels it
        0 (no take-profit, no buy); ``"sign"`` labels it 1 when the trade's
        return at the vertical barrier is positive.

    Returns
    -------
    labels : DataFrame indexed by event time, one row per event with an outcome
        - ``label``: 1 when the upper barrier is touched first, else 0 (see
          ``vertical``);
        - ``t1``: the time of the bar where the first barrier is touched (the
          label's end, for purging overlapping labels);
        - ``ret``: the trade's realised simple return, ``close[t1] / close[t] - 1``;
        - ``barrier``: ``"upper"``, ``"lower"`` or ``"vertical"``;
        - ``upper``, ``lower``: the barriers in log-return units (``lower`` <= 0);
        - ``bars``: bars held, 1 to ``max_holding``.

        Events are dropped, not flagged, when their outcome cannot be known:
        fewer than ``max_holding`` bars follow them (the last ``max_holding``
        bars; dropping all of them, touched or not, keeps the end of the
        sample unbiased), or ``w`` is NaN or not positive (the first
        ``vol_span`` bars, or a flat price history).

    Raises
    ------
    ValueError
        If ``close`` is not a positive, time-ordered Series, an event is not
        in ``close.index``, or a parameter is out of range.

    Examples
    --------
    A path that rises 2% then falls: with ``w = 1%`` the upper barrier (+1%)
    is touched at the first bar after the event.

    >>> import pandas as pd
    >>> close = pd.Series([100.0, 102.0, 99.0, 98.0], index=pd.date_range("2024-01-01", periods=4))
    >>> labels = triple_barrier_labels(close, events=close.index[:1], max_holding=3,
    ...                                target=pd.Series(0.01, index=close.index))
    >>> labels[["label", "t1", "ret", "barrier", "bars"]]
                label         t1   ret barrier  bars
    2024-01-01      1 2024-01-02  0.02   upper     1
    """
    _check_close(close, "triple_barrier_labels")
    pt, sl = _check_pt_sl(pt_sl)
    _check_count("max_holding", max_holding, minimum=1)
    if vertical not in ("zero", "sign"):
        raise ValueError(f"triple_barrier_labels: vertical must be 'zero' or 'sign', got {vertical!r}.")
    if target is None:
        target = volatility(close, span=vol_span) * np.sqrt(max_holding)
    elif not (isinstance(target, pd.Series) and target.index.equals(close.index)):
        raise ValueError("triple_barrier_labels: target must be a Series indexed like close; "
                         "align it first, e.g. target.reindex(close.index).")
    positions = _event_positions(close, events, "triple_barrier_labels")
    width = target.to_numpy(float)[positions]
    positions = positions[(positions + max_holding < len(close)) & (width > 0)]  # NaN > 0 is False
    return _first_touch(close, positions, target.to_numpy(float)[positions], pt, sl, max_holding, vertical)


def _first_touch(close, positions, width, pt, sl, max_holding, vertical) -> pd.DataFrame:
    """The barrier each trade touches first, vectorised over events (one row of paths per event)."""
    log_close = np.r_[np.log(close.to_numpy(float)), np.full(max_holding, np.nan)]  # a window for every bar
    paths = sliding_window_view(log_close, max_holding + 1)[positions, 1:] - log_close[positions, None]
    upper, lower = _barrier(pt, width), -_barrier(sl, width)
    first_up = _first(paths >= upper[:, None], max_holding)
    first_down = _first(paths <= lower[:, None], max_holding)
    offset = np.minimum(np.minimum(first_up, first_down), max_holding - 1)
    barrier = np.where(first_up < first_down, "upper", np.where(first_down < first_up, "lower", "vertical"))
    exit_positions = positions + offset + 1
    ret = close.to_numpy(float)[exit_positions] / close.to_numpy(float)[positions] - 1.0
    label = (barrier == "upper") | ((barrier == "vertical") & (ret > 0) & (vertical == "sign"))
    return pd.DataFrame(
        {"label": label.astype(int), "t1": close.index[exit_positions], "ret": ret, "barrier": barrier,
         "upper": upper, "lower": lower, "bars": offset + 1},
        index=close.index[positions],
    )


def _barrier(multiplier: float, width: np.ndarray) -> np.ndarray:
    return np.full_like(width, np.inf) if multiplier == 0 else multiplier * width


def _first(hits: np.ndarray, none: int) -> np.ndarray:
    """Column of the first True of each row, ``none`` where a row has none."""
    return np.where(hits.any(axis=1), hits.argmax(axis=1), none)


@dataclass(frozen=True, eq=False)
class CusumEvents:
    """Events sampled by :func:`cusum_events` and the fitted filter that sampled them.

    Attributes
    ----------
    events : DatetimeIndex (or the index type of ``close``)
        The bars where the filter fired, in time order.
    threshold : float
        The threshold as a multiple of ``sigma``.
    sigma : float
        The standard deviation of one-bar log returns the threshold is
        scaled by: the one given, or (``sigma_mode="ewm"``) the mean of the
        causal volatility over the bars the filter ran on.
    sigma_mode : {"fixed", "ewm"}
        ``"fixed"``: one ``sigma`` for every bar; ``"ewm"``: each bar's
        threshold is ``threshold * volatility(close, span=vol_span)`` at that bar.
    vol_span : int or None
        The span of the causal volatility (``None`` for a fixed sigma).
    n_bars : int
        Bars the filter ran on (after the volatility warm-up).
    """

    events: pd.Index
    threshold: float
    sigma: float
    sigma_mode: str
    vol_span: int | None
    n_bars: int

    @property
    def metadata(self) -> dict:
        """Scalars describing the filter: what ``TrainedArtifact.cusum_metadata`` carries.

        Keys ``threshold``, ``sigma``, ``h`` (``threshold * sigma``, in
        log-return units), ``sigma_mode``, ``n_bars``, ``n_events`` and, for
        ``sigma_mode="ewm"``, ``vol_span``.
        """
        meta = {"threshold": self.threshold, "sigma": self.sigma, "h": self.threshold * self.sigma,
                "sigma_mode": self.sigma_mode, "n_bars": self.n_bars, "n_events": len(self.events)}
        return meta if self.vol_span is None else meta | {"vol_span": self.vol_span}


def cusum_events(close: pd.Series, *, threshold: float, sigma: float | None = None, vol_span: int = 50) -> CusumEvents:
    """The symmetric CUSUM filter on log returns (AFML snippet 2.4).

    Two sums run over one-bar log returns ``r``: ``S+ = max(0, S+ + r)`` and
    ``S- = min(0, S- + r)``. When ``S+ > h`` or ``S- < -h`` the bar is an
    event and that sum restarts at 0. ``h = threshold * sigma`` at each bar:
    the threshold is a multiple of the standard deviation of one-bar log
    returns.

    By default ``sigma`` is the causal :func:`volatility` of each bar (span
    ``vol_span``, from bars up to that one), so the filter never looks at
    later bars and adapts to volatility regimes; it starts after the
    ``vol_span``-bar warm-up. Pass a number as ``sigma`` for AFML's fixed
    threshold, e.g. estimated on training bars only:
    ``np.log(close[:n_train]).diff().std()``.

    Parameters
    ----------
    close : Series
        Positive closing prices, index sorted and without duplicates.
    threshold : float
        The event threshold, in units of ``sigma`` (> 0). Larger values sample
        fewer events; 1 to 3 is typical.
    sigma : float, default=None
        A fixed standard deviation of one-bar log returns; ``None`` uses the
        causal volatility of each bar.
    vol_span : int, default=50
        Span of the causal volatility (ignored with a fixed ``sigma``).

    Returns
    -------
    CusumEvents
        ``events`` (the event times) and the fitted filter; ``.metadata`` is
        the dict of scalars for ``TrainedArtifact.cusum_metadata``.

    Examples
    --------
    Log returns of +0.4, +0.4, +0.4, -0.45, -0.45 with ``h = 1``: ``S+``
    passes 1 at the third bar (1.2), then ``S-`` reaches only -0.9, so one
    event.

    >>> import numpy as np, pandas as pd
    >>> close = pd.Series(np.exp(np.cumsum([0, 0.4, 0.4, 0.4, -0.45, -0.45])), index=pd.date_range("2024-01-01", periods=6))
    >>> sampled = cusum_events(close, threshold=1.0, sigma=1.0)
    >>> [str(t.date()) for t in sampled.events]
    ['2024-01-04']
    >>> sampled.metadata
    {'threshold': 1.0, 'sigma': 1.0, 'h': 1.0, 'sigma_mode': 'fixed', 'n_bars': 5, 'n_events': 1}
    """
    _check_close(close, "cusum_events")
    if not (isinstance(threshold, Real) and threshold > 0):
        raise ValueError(f"cusum_events: threshold must be a positive number (a multiple of sigma), got {threshold!r}.")
    returns = np.log(close.to_numpy(float))
    returns = np.r_[np.nan, np.diff(returns)]
    if sigma is None:
        scale, mode, span = volatility(close, span=vol_span).to_numpy(float), "ewm", int(vol_span)
    elif isinstance(sigma, Real) and sigma > 0:
        scale, mode, span = np.full(len(close), float(sigma)), "fixed", None
    else:
        raise ValueError(f"cusum_events: sigma must be a positive number or None (causal volatility), got {sigma!r}.")
    running = np.isfinite(returns) & np.isfinite(scale)
    fired = _cusum(returns, threshold * scale, running)
    used_sigma = float(np.mean(scale[running])) if running.any() else float("nan")
    return CusumEvents(close.index[fired], float(threshold), used_sigma, mode, span, int(running.sum()))


def _cusum(returns: np.ndarray, h: np.ndarray, running: np.ndarray) -> np.ndarray:
    fired = np.zeros(len(returns), dtype=bool)
    s_pos = s_neg = 0.0
    for i in np.flatnonzero(running):
        s_pos, s_neg = max(0.0, s_pos + returns[i]), min(0.0, s_neg + returns[i])
        if s_neg < -h[i]:
            s_neg, fired[i] = 0.0, True
        elif s_pos > h[i]:
            s_pos, fired[i] = 0.0, True
    return fired


def forward_return_label(close: pd.Series, *, horizon: int = 5, vol_span: int = 20, k: float = 0.5):
    """Label 1 when the next ``horizon``-bar return beats ``k`` volatility units.

    The fixed-horizon label of ``cvn-sklearn train``. The volatility unit is
    :func:`volatility` with span ``vol_span`` scaled by ``sqrt(horizon)``.
    The last ``horizon`` rows have no label (NaN), nor the first
    ``vol_span`` (volatility warm-up).

    Parameters
    ----------
    close : Series
        Positive closing prices, index sorted and without duplicates.
    horizon : int, default=5
        Bars ahead.
    vol_span : int, default=20
        Span of the volatility estimate.
    k : float, default=0.5
        Threshold in volatility units.

    Returns
    -------
    label : Series of float (1.0, 0.0 or NaN)
    forward_return : Series
        The ``horizon``-bar simple return that the label looks at.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> close = pd.Series(np.exp(np.cumsum(np.random.RandomState(0).normal(0, 0.01, 300))))
    >>> label, forward = forward_return_label(close)
    >>> int(label.isna().sum()), bool(0.2 < label.mean() < 0.5)
    (25, True)
    """
    _check_close(close, "forward_return_label")
    _check_count("horizon", horizon, minimum=1)
    vol = volatility(close, span=vol_span) * np.sqrt(horizon)
    forward = close.shift(-horizon) / close - 1.0
    label = (np.log1p(forward) > k * vol).astype(float).where(forward.notna() & vol.notna())
    return label, forward


def _check_close(close, owner: str) -> None:
    if not isinstance(close, pd.Series):
        raise TypeError(f"{owner}: close must be a pandas Series of prices indexed by time, got {type(close).__name__}; "
                        "e.g. load_prices('sp500')['close'].")
    if not (close.index.is_monotonic_increasing and close.index.is_unique):
        raise ValueError(f"{owner}: close's index must be sorted and without duplicates; "
                         "use close.sort_index() and drop duplicated times first.")
    values = close.to_numpy(float)
    if not (np.isfinite(values) & (values > 0)).all():
        raise ValueError(f"{owner}: close must hold positive, finite prices (log returns are taken); "
                         "drop or fill the missing or non-positive ones first.")


def _check_count(name: str, value, *, minimum: int) -> None:
    if not (isinstance(value, Integral) and value >= minimum):
        raise ValueError(f"{name} must be an integer >= {minimum} (bars), got {value!r}.")


def _check_pt_sl(pt_sl) -> tuple[float, float]:
    try:
        pt, sl = (float(m) for m in pt_sl)
    except (TypeError, ValueError):
        raise ValueError(f"pt_sl must be two numbers (profit-taking, stop-loss multipliers), got {pt_sl!r}.") from None
    if not (pt >= 0 and sl >= 0 and np.isfinite([pt, sl]).all()):
        raise ValueError(f"pt_sl multipliers must be finite and >= 0 (0 disables a barrier), got {pt_sl!r}.")
    return pt, sl


def _event_positions(close: pd.Series, events, owner: str) -> np.ndarray:
    if events is None:
        return np.arange(len(close))
    wanted = pd.Index(events)
    positions = close.index.get_indexer(wanted)
    if (positions < 0).any():
        missing = list(wanted[positions < 0][:3])
        raise ValueError(f"{owner}: {int((positions < 0).sum())} event(s) are not times of close (first: {missing}); "
                         "events must be taken from close.index, e.g. cusum_events(close, ...).events.")
    return np.unique(positions)
