"""From a buy signal to P&L: costs, positions held on the bar calendar, bet sizing, one unit.

A buy signal on row ``t`` is a *trade*: entered at the close of the row's bar,
held until its exit bar ``t1`` (the triple barrier's touch, or the forward
return's horizon), and worth the row's trade return ``returns[t]`` gross,
``returns[t] - cost`` net. This module turns trades into what a trader can act
on; "From probabilities to P&L" in the docs works each rule by hand.

- :func:`positions`: which signals become trades (``rule``), and the
  strategy's return on every **bar** of the symbol, gross and net of the cost
  per trade.

  * ``rule="one_at_a_time"`` (default): no new entry while a position is
    open; a signal on a bar where the open position exits is taken.
  * ``rule="equal_weight"``: every signal is a trade, and the capital is split
    equally among the positions open on each bar (López de Prado, *Advances
    in Financial Machine Learning*, ch. 3-4). A trade's weight is its average
    uniqueness ``mean over its bars of 1 / (positions open)``.

  With ``close`` prices the open positions are **marked to market** bar by
  bar: a position is open on the bars after its entry up to its exit, and on
  each bar the strategy earns the bar's price change times its exposure
  (``size`` under ``one_at_a_time``; the mean ``size`` of the open positions
  under ``equal_weight``). Without prices, each trade's return is **realised
  on its exit bar**, times its size and weight. Either way the cost of a trade
  (``cost x size x weight``) is charged on its exit bar.
- :class:`BarBook`: rows placed once on their bar calendar, on which any
  number of signals are held (:meth:`BarBook.hold`, what :func:`positions`
  does); a sweep's tables hold every variant of a symbol on one book.
- :func:`bet_size`: a trade's size from its calibrated probability (AFML
  ch. 10).
- :func:`trading_metrics`: trades, win rate, average trade, and the Sharpe
  ratio, Sortino ratio and maximum drawdown of the per-bar series, net of
  costs with the gross figures beside them, annualised with the bars per year.
- :func:`pool`: several symbols' per-bar series on one calendar (an equal
  split among the symbols trading that period), for ranking variants across
  symbols of different bar frequencies.

:func:`sharpe_ratio` is THE Sharpe ratio of cvn_sklearn (per period);
:func:`trading_metrics` annualises it and :mod:`cvn_sklearn.ranking` deflates
it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from numbers import Real
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy.special import ndtr

__all__ = [
    "DAYS_PER_YEAR",
    "POSITION_RULES",
    "BarBook",
    "Held",
    "Positions",
    "TradingMetrics",
    "bet_size",
    "pool",
    "positions",
    "sharpe_ratio",
    "trading_metrics",
]

POSITION_RULES = ("one_at_a_time", "equal_weight")
"""How concurrent trades are held; see :func:`positions`."""

DAYS_PER_YEAR = 252
"""Periods per year of the daily calendar :func:`pool` uses for symbols of different bar frequencies."""


@dataclass(frozen=True)
class Positions:
    """The trades taken from a signal and the strategy's return on every bar; see :func:`positions`.

    Attributes
    ----------
    trades : DataFrame
        One row per trade taken, in entry order: ``row`` (the signal's row
        number), ``entry`` and ``exit`` (bar times), ``size``, ``weight``,
        ``gross`` (the row's trade return) and ``net`` (``gross - cost``).
    bars : DataFrame
        One row per bar of the window (index: the bar times), columns
        ``gross`` and ``net`` (the strategy's return on the bar) and
        ``exposure`` (the share of capital in positions).
    n_signals : int
        Rows with a buy signal (``len(trades)`` of them were taken).
    cost : float
        The cost per trade used.
    """

    trades: pd.DataFrame
    bars: pd.DataFrame
    n_signals: int
    cost: float


@dataclass(frozen=True)
class TradingMetrics:
    """Trading results of a buy signal; see :func:`trading_metrics` for the definitions.

    The headline figures are net of costs; ``*_gross`` are the same without them.

    Attributes
    ----------
    n_trades : int
    win_rate : float
    avg_return : float
    sortino : float
    sharpe : float
    max_drawdown : float
    avg_return_gross : float
    sortino_gross : float
    sharpe_gross : float
    max_drawdown_gross : float
    n_signals : int
    n_bars : int
    cost : float
    periods_per_year : float
    """

    n_trades: int
    win_rate: float
    avg_return: float
    sortino: float
    sharpe: float
    max_drawdown: float
    avg_return_gross: float = float("nan")
    sortino_gross: float = float("nan")
    sharpe_gross: float = float("nan")
    max_drawdown_gross: float = float("nan")
    n_signals: int = 0
    n_bars: int = 0
    cost: float = 0.0
    periods_per_year: float = float("nan")

    def to_dict(self) -> dict:
        """Return the fields as a flat ``dict`` of plain Python numbers."""
        return asdict(self)


def positions(signal, returns, *, times=None, t1=None, bars=None, close=None, cost=0.0, rule="one_at_a_time",
              size=None) -> Positions:
    """The trades a buy signal takes, and the strategy's gross and net return on every bar.

    Parameters
    ----------
    signal : array-like of shape (n_rows,)
        Buy signal (booleans or 0/1), rows in time order.
    returns : array-like of shape (n_rows,)
        Each row's trade return, entry to exit (0.01 = +1%).
    times : array-like of shape (n_rows,), default=None
        Each row's bar (its entry). ``None``: row ``i`` is bar ``i``.
    t1 : array-like of shape (n_rows,), default=None
        Each row's exit bar, at or after its entry. ``None``: every trade
        exits on its entry bar (the row is the whole trade, the classic
        per-row backtest).
    bars : array-like, default=None
        The symbol's bar calendar (sorted, unique), holding every entry and
        exit. Default: ``close``'s index, else the sorted union of ``times``
        and ``t1``.
    close : Series, default=None
        Close prices on the bar calendar (needs ``t1``): positions are marked
        to market bar by bar. ``None``: each trade's return is realised on its
        exit bar.
    cost : float, default=0.0
        Round-trip cost per trade, as a return (0.0005 = 5 bps).
    rule : {"one_at_a_time", "equal_weight"}, default="one_at_a_time"
        How concurrent trades are held (see the module documentation).
    size : array-like of shape (n_rows,), default=None
        Position size of each row's trade in [0, 1] (:func:`bet_size`);
        ``None``: 1. A signal with size 0 takes no trade.

    Returns
    -------
    Positions
        Its ``bars`` span the rows' window: from the first row's bar to the
        last row's exit bar, whatever the signal, so two signals on the same
        rows give series on the same bars.

    Raises
    ------
    ValueError
        For rows out of time order, an exit before its entry, a time missing
        from ``bars``, an unknown ``rule``, a negative ``cost``, sizes outside
        [0, 1], or prices that are not positive.

    Examples
    --------
    Three trades on bars 0, 1 and 4, each held 2 bars, 10 bps a trade:

    >>> from cvn_sklearn.trading import positions
    >>> held = positions([1, 1, 0, 0, 1], [0.02, 0.01, 0.0, 0.0, -0.01], t1=[2, 3, 4, 5, 6],
    ...                  times=[0, 1, 2, 3, 4], cost=0.001)
    >>> held.trades[["entry", "exit", "net"]].to_numpy().round(3).tolist()
    [[0.0, 2.0, 0.019], [4.0, 6.0, -0.011]]
    >>> held.bars["net"].round(3).tolist()
    [0.0, 0.0, 0.019, 0.0, 0.0, 0.0, -0.011]
    """
    book = BarBook.of(len(_vector(signal, "signal")), times=times, t1=t1, bars=bars, close=close)
    held = book.hold(signal, returns, cost=cost, rule=rule, size=size)
    frame = pd.DataFrame(np.column_stack([held.gross, held.net, held.exposure]), index=book.window,
                         columns=["gross", "net", "exposure"])  # one float block: the quick constructor
    trades = pd.DataFrame({"row": held.rows, "entry": book.calendar[held.entry], "exit": book.calendar[held.exit],
                           "size": held.size, "weight": held.weight, "gross": held.returns,
                           "net": held.returns - cost})
    return Positions(trades=trades, bars=frame, n_signals=held.n_signals, cost=float(cost))


class Held(NamedTuple):
    """One signal held on a :class:`BarBook`'s bars, as arrays (what :func:`positions` puts in its frames).

    ``rows``, ``entry``, ``exit`` (bar numbers on the book's calendar),
    ``size``, ``weight`` and ``returns`` (gross) describe each trade taken;
    ``gross``, ``net`` and ``exposure`` are the strategy on each bar of the
    book's :attr:`~BarBook.window`; ``n_signals`` counts the buy signals.
    """

    rows: np.ndarray
    entry: np.ndarray
    exit: np.ndarray
    size: np.ndarray
    weight: np.ndarray
    returns: np.ndarray
    gross: np.ndarray
    net: np.ndarray
    exposure: np.ndarray
    n_signals: int


class BarBook(NamedTuple):
    """Rows placed once on their bar calendar, to hold any number of signals on them (:meth:`hold`).

    :func:`positions` is ``BarBook.of(...).hold(...)`` put in frames; a
    sweep's tables hold every variant's signal on one symbol's rows with one
    book, placing the rows on the calendar once. Build it with :meth:`of`.

    Examples
    --------
    >>> book = BarBook.of(3, times=[0, 1, 2], t1=[1, 2, 3])
    >>> book.hold([1, 0, 1], [0.02, 0.0, -0.01], cost=0.001).net.round(3).tolist()
    [0.0, 0.019, 0.0, -0.011]
    >>> book.window.tolist()
    [0, 1, 2, 3]
    """

    calendar: pd.Index
    entry: np.ndarray
    exit: np.ndarray
    price_change: np.ndarray | None
    start: int
    stop: int

    @classmethod
    def of(cls, n_rows: int, *, times=None, t1=None, bars=None, close=None) -> BarBook:
        """The book of ``n_rows`` rows; ``times``, ``t1``, ``bars`` and ``close`` as in :func:`positions`."""
        calendar, entry, exit_ = _bar_numbers(n_rows, times, t1, bars, close)
        start, stop = (int(entry[0]), int(exit_.max()) + 1) if n_rows else (0, 0)
        change = None if close is None else _bar_returns(close, calendar)[:stop]
        return cls(calendar, entry, exit_, change, start, stop)

    @property
    def window(self) -> pd.Index:
        """The bars a signal's series spans: from the first row's bar to the last row's exit bar."""
        return self.calendar[self.start:self.stop]

    def hold(self, signal, returns, *, cost=0.0, rule="one_at_a_time", size=None) -> Held:
        """The trades ``signal`` takes on the book's rows and the strategy on each bar of :attr:`window`.

        ``signal``, ``returns``, ``cost``, ``rule`` and ``size`` as in
        :func:`positions`, which raises the same errors.
        """
        s, r = _check_signal_and_returns(signal, returns)
        if len(s) != len(self.entry):
            raise ValueError(f"signal has {len(s)} rows but the book was built for {len(self.entry)}.")
        if rule not in POSITION_RULES:
            raise ValueError(f"rule must be one of {POSITION_RULES}, got {rule!r}.")
        if not isinstance(cost, Real) or not cost >= 0:
            raise ValueError(f"cost must be a number >= 0 (the round-trip cost per trade as a return), got {cost!r}.")
        m = np.ones(len(s)) if size is None else _vector(size, "size").astype(np.float64)
        if len(m) != len(s) or not np.all((m >= 0) & (m <= 1)):
            raise ValueError("size must hold one position size in [0, 1] per row.")
        picked = np.flatnonzero(s & (m > 0))
        if rule == "one_at_a_time":
            picked = _one_at_a_time(picked, self.entry, self.exit)
        e, x, mp, rp = self.entry[picked], self.exit[picked], m[picked], r[picked]
        n_bars, held = self.stop, x > e
        count = _open_on_each_bar(e[held], x[held], np.ones(int(held.sum())), n_bars)
        weight = np.ones(len(e))
        if rule == "equal_weight" and held.any():  # average uniqueness: mean of 1 / (positions open) over its bars
            prefix = np.r_[0.0, np.cumsum(np.divide(1.0, count, out=np.zeros(n_bars), where=count > 0))]
            weight[held] = (prefix[x[held] + 1] - prefix[e[held] + 1]) / (x[held] - e[held])
        exposure = _open_on_each_bar(e[held], x[held], mp[held], n_bars)
        if rule == "equal_weight":
            exposure = np.divide(exposure, count, out=np.zeros(n_bars), where=count > 0)
        if self.price_change is None:
            gross = np.bincount(x, weights=mp * weight * rp, minlength=n_bars).astype(np.float64)  # int if no trade
        else:
            gross = exposure * self.price_change
        charge = np.bincount(x, weights=mp * weight * cost, minlength=n_bars)
        window = slice(self.start, self.stop)
        return Held(picked, e, x, mp, weight, rp, gross[window], (gross - charge)[window], exposure[window],
                    int(s.sum()))


def trading_metrics(signal, returns, *, periods_per_year, cost=0.0, times=None, t1=None, bars=None, close=None,
                    rule="one_at_a_time", size=None) -> TradingMetrics:
    """Trading results of a buy signal, net of costs, on the strategy's per-bar returns.

    :func:`positions` turns the signal into trades and a per-bar return
    series ``s`` (net of ``cost``; ``g`` without it). Definitions:

    - ``n_trades``: trades taken (``n_signals``: rows with a buy signal; under
      ``one_at_a_time`` a signal while a position is open is no trade).
    - ``win_rate``: share of trades whose net return is > 0; ``nan`` with no trade.
    - ``avg_return``: mean net trade return (``avg_return_gross``: gross);
      ``nan`` with no trade.
    - ``sharpe``: ``mean(s) / std(s) * sqrt(periods_per_year)`` over the
      bars, population standard deviation; ``nan`` when ``s`` never varies.
    - ``sortino``: ``mean(s) / DD * sqrt(periods_per_year)`` with the downside
      deviation ``DD = sqrt(mean(min(s, 0) ** 2))`` (target 0); ``+inf`` when
      no bar loses and the mean is positive, ``nan`` when every ``s`` is 0.
    - ``max_drawdown``: largest fall of the compounded equity curve
      ``E[t] = prod(1 + s[:t+1])`` from its running peak (starting at 1), as a
      fraction in [0, 1].
    - ``*_gross``: the same on ``g``; ``n_bars``: the length of the series.

    Without ``times`` and ``t1`` every row is a bar and a trade's return falls
    on its own row: ``s[t] = signal[t] * (returns[t] - cost)``.

    Parameters
    ----------
    signal, returns, times, t1, bars, close, cost, rule, size
        As :func:`positions`.
    periods_per_year : float
        Bars per year of the symbol, for annualising Sharpe and Sortino (252
        for daily bars, 6240 for hourly EUR/USD).

    Returns
    -------
    TradingMetrics

    Examples
    --------
    >>> from cvn_sklearn.trading import trading_metrics
    >>> m = trading_metrics([1, 0, 1, 1], [0.02, -0.05, -0.01, 0.03], periods_per_year=252, cost=0.001)
    >>> m.n_trades, round(m.win_rate, 3), round(m.avg_return, 4), round(m.avg_return_gross, 4)
    (3, 0.667, 0.0123, 0.0133)
    >>> round(m.max_drawdown, 4), round(m.max_drawdown_gross, 4)
    (0.011, 0.01)
    """
    if not isinstance(periods_per_year, Real) or not periods_per_year > 0:
        raise ValueError(f"periods_per_year must be a positive number, got {periods_per_year!r}.")
    held = positions(signal, returns, times=times, t1=t1, bars=bars, close=close, cost=cost, rule=rule, size=size)
    return _metrics(held, periods_per_year)


def _metrics(held: Positions, periods_per_year) -> TradingMetrics:
    """:class:`TradingMetrics` of :func:`positions`' result."""
    trades = held.trades
    net, gross = held.bars["net"].to_numpy(), held.bars["gross"].to_numpy()
    annualise = np.sqrt(periods_per_year)
    has = len(trades) > 0
    return TradingMetrics(
        n_trades=len(trades),
        win_rate=float(np.mean(trades["net"] > 0)) if has else float("nan"),
        avg_return=float(trades["net"].mean()) if has else float("nan"),
        sortino=annualised_sortino(net, annualise),
        sharpe=sharpe_ratio(net) * annualise,
        max_drawdown=max_drawdown(net),
        avg_return_gross=float(trades["gross"].mean()) if has else float("nan"),
        sortino_gross=annualised_sortino(gross, annualise),
        sharpe_gross=sharpe_ratio(gross) * annualise,
        max_drawdown_gross=max_drawdown(gross),
        n_signals=held.n_signals,
        n_bars=len(net),
        cost=held.cost,
        periods_per_year=float(periods_per_year),
    )


def bet_size(proba, *, break_even=0.5, step=None):
    r"""Position size from a calibrated probability (AFML ch. 10), long only.

    .. math::

        z = \frac{p - p_0}{\sqrt{p (1 - p)}}, \qquad m = \max(0, 2 \Phi(z) - 1)

    with :math:`p_0` the break-even probability (the win rate at which a trade
    earns nothing after costs) and :math:`\Phi` the standard normal CDF; ``p``
    of 1 gives size 1, of 0 size 0. With ``step``, the size is rounded to a
    multiple of ``step`` (a discretised size stops tiny changes of ``p``
    from trading).

    Parameters
    ----------
    proba : array-like
        Calibrated P(buy).
    break_even : float in (0, 1), default=0.5
    step : float in (0, 1] or None, default=None

    Returns
    -------
    ndarray of float in [0, 1]

    Examples
    --------
    >>> from cvn_sklearn.trading import bet_size
    >>> bet_size([0.4, 0.5, 0.6, 0.9]).round(3).tolist()
    [0.0, 0.0, 0.162, 0.818]
    >>> bet_size([0.6, 0.9], step=0.25).tolist()
    [0.25, 0.75]
    """
    p = np.asarray(proba, dtype=np.float64)
    if np.isnan(p).any() or np.any((p < 0) | (p > 1)):
        raise ValueError("proba must be probabilities in [0, 1] without NaN.")
    if not isinstance(break_even, Real) or not 0 < break_even < 1:
        raise ValueError(f"break_even must be a probability in (0, 1), got {break_even!r}.")
    if step is not None and (not isinstance(step, Real) or not 0 < step <= 1):
        raise ValueError(f"step must be in (0, 1] or None, got {step!r}.")
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (p - break_even) / np.sqrt(p * (1.0 - p))
    size = np.clip(2.0 * ndtr(z) - 1.0, 0.0, 1.0)
    if step is not None:
        size = np.clip(np.round(size / step) * step, 0.0, 1.0)
    return size


def pool(series, periods_per_year):
    """Several symbols' per-bar returns as one series on one calendar (a portfolio split equally among them).

    - Symbols with the same bars per year: the calendar is the union of their
      bars, and each bar's return is the mean over the symbols whose window
      holds that bar.
    - Symbols of different bar frequencies (daily stocks, hourly FX): each
      symbol's bar returns are summed per calendar day first, the calendar is
      the union of those days, and the pooled series has
      :data:`DAYS_PER_YEAR` (252) periods per year.

    Parameters
    ----------
    series : dict of str to Series or DataFrame
        Per symbol, its per-bar returns indexed by bar time (a DataFrame: one
        column per strategy, pooled column by column; NaN counts as absent).
    periods_per_year : dict of str to float
        Per symbol, its bars per year.

    Returns
    -------
    pooled : Series or DataFrame
        Indexed by the common calendar (``time``).
    periods_per_year : float
        Of the common calendar.
    calendar : str
        ``"bars"`` or ``"days"``.

    Examples
    --------
    >>> import pandas as pd
    >>> from cvn_sklearn.trading import pool
    >>> hourly = pd.Series([0.01, -0.01, 0.02], index=pd.to_datetime(["2020-01-02 10:00", "2020-01-02 11:00",
    ...                                                                "2020-01-03 10:00"]))
    >>> daily = pd.Series([0.03, 0.01], index=pd.to_datetime(["2020-01-02", "2020-01-06"]))
    >>> pooled, per_year, calendar = pool({"fx": hourly, "stock": daily}, {"fx": 6240, "stock": 252})
    >>> pooled.round(3).tolist(), per_year, calendar
    ([0.015, 0.02, 0.01], 252, 'days')
    """
    if not series:
        raise ValueError("pool needs at least one symbol's series.")
    frequencies = {periods_per_year[name] for name in series}
    if len(frequencies) == 1:
        per_year, calendar, parts = frequencies.pop(), "bars", dict(series)
    else:
        for name, values in series.items():
            if not isinstance(values.index, pd.DatetimeIndex):
                raise ValueError(
                    f"Symbols of different bar frequencies are pooled per calendar day, but {name!r} has no "
                    "datetime bar times; give every symbol a DatetimeIndex or screen them separately."
                )
        per_year, calendar = DAYS_PER_YEAR, "days"
        parts = {name: values.groupby(values.index.normalize()).sum(min_count=1) for name, values in series.items()}
    stacked = pd.concat(parts, names=["symbol", "time"])
    return stacked.groupby(level="time", sort=True).mean(), per_year, calendar


def sharpe_ratio(returns) -> float:
    """The per-period Sharpe ratio ``mean / std`` (population standard deviation); NaN when nothing varies.

    THE Sharpe ratio of cvn_sklearn: :func:`trading_metrics` annualises it,
    :mod:`cvn_sklearn.ranking` deflates it.

    Examples
    --------
    >>> sharpe_ratio([0.01, -0.01, 0.02, 0.0]), sharpe_ratio([0.01, 0.01])
    (0.4472135954999579, nan)
    """
    r = np.asarray(returns, dtype=float)
    return float(r.mean() / r.std()) if r.size and np.ptp(r) > 0 else float("nan")


def max_drawdown(returns) -> float:
    """Largest fall of the compounded equity ``prod(1 + r)`` from its running peak (starting at 1), in [0, 1].

    Examples
    --------
    >>> round(max_drawdown([0.1, -0.5, 0.2]), 3), max_drawdown([])
    (0.5, 0.0)
    """
    r = np.asarray(returns, dtype=float)
    if not r.size:
        return 0.0
    equity = np.cumprod(1.0 + r)
    return float(np.max(1.0 - equity / np.maximum.accumulate(np.maximum(equity, 1.0))))


def sortino(sum_returns, sum_downside_sq, n_periods):
    """Per-period Sortino ratio ``mean / sqrt(mean(min(s, 0)^2))`` from sums over ``n_periods``.

    ``+inf`` when nothing loses and the mean is positive, ``nan`` when the
    strategy returns are all 0. Works on arrays (the θ sweep scores every
    candidate at once with it).
    """
    mean = np.asarray(sum_returns, float) / n_periods
    downside = np.sqrt(np.asarray(sum_downside_sq, float) / n_periods)
    with np.errstate(divide="ignore", invalid="ignore"):
        return mean / downside


def annualised_sortino(s, annualise):
    """The Sortino ratio of :func:`trading_metrics` on strategy returns ``s``, times ``annualise`` (``sqrt`` of the bars per year); NaN for no bar."""
    if not s.size:
        return float("nan")
    return float(sortino(s.sum(), np.sum(np.minimum(s, 0.0) ** 2), len(s)) * annualise)


def _one_at_a_time(picked, entry, exit_):
    """The signals taken when no new entry is allowed while a position is open (exit bar excluded)."""
    taken, free_from = [], -1
    for row, e, x in zip(picked.tolist(), entry[picked].tolist(), exit_[picked].tolist()):
        if e >= free_from:
            taken.append(row)
            free_from = x
    return np.asarray(taken, dtype=np.intp)


def _open_on_each_bar(e, x, m, n_bars):
    """``sum(m)`` of the positions open on each bar: a position is open on the bars after its entry up to its exit."""
    change = np.zeros(n_bars + 1)
    np.add.at(change, e + 1, m)
    np.add.at(change, x + 1, -m)
    return np.cumsum(change)[:n_bars]


def _bar_returns(close, calendar):
    """Each bar's simple price change from the bar before (0 on the calendar's first bar)."""
    prices = pd.Series(close).reindex(calendar).to_numpy(np.float64)
    if not np.all(np.isfinite(prices)) or np.any(prices <= 0):
        raise ValueError("close must hold a positive price on every bar of the calendar.")
    return np.r_[0.0, prices[1:] / prices[:-1] - 1.0]


def _bar_numbers(n, times, t1, bars, close):
    """The bar calendar and each row's entry and exit bar numbers on it."""
    if times is None and t1 is not None:
        raise ValueError("t1 needs times: pass each row's bar (its entry) as times= with its exit t1=.")
    if close is not None and t1 is None:
        raise ValueError("close needs t1: a position is marked to market on the bars from its entry to its exit t1; "
                         "pass t1 (and times), or leave close out to realise each row's return on its own bar.")
    if times is None:
        calendar = pd.RangeIndex(n) if bars is None else pd.Index(bars)
        entry = np.arange(n)
        if bars is not None and len(calendar) < n:
            raise ValueError(f"bars has {len(calendar)} bars but there are {n} rows without times=.")
        return calendar, entry, entry.copy()
    times = pd.Index(times)
    ends = times if t1 is None else pd.Index(t1)
    if len(times) != n or len(ends) != n:
        raise ValueError(f"times and t1 must hold one value per row ({n}), got {len(times)} and {len(ends)}.")
    if not times.is_monotonic_increasing:
        raise ValueError("The rows must be in time order (times non-decreasing); sort them first.")
    if n and (ends.isna().any() or np.any(ends < times)):
        raise ValueError("t1 must be at or after each row's time (a trade exits after its entry), without NaN/NaT.")
    if bars is not None:
        calendar = pd.Index(bars)
    elif close is not None:
        calendar = pd.Index(pd.Series(close).index)
    elif t1 is None:
        calendar = times.unique()  # in time order already (checked above)
    else:
        calendar = times.append(ends).unique().sort_values()
    if not (calendar.is_monotonic_increasing and calendar.is_unique):
        raise ValueError("The bar calendar must be sorted and without duplicates.")
    entry, exit_ = calendar.get_indexer(times), calendar.get_indexer(ends)
    if n and (entry.min() < 0 or exit_.min() < 0):
        missing = times[entry < 0][:3].tolist() + ends[exit_ < 0][:3].tolist()
        raise ValueError(f"Some row times or exits are not bars of the calendar (e.g. {missing}); pass the "
                         "symbol's own bar times (the close prices' index).")
    return calendar, entry.astype(np.intp), exit_.astype(np.intp)


def _vector(values, name: str) -> np.ndarray:
    """``values`` as a 1-d array (a one-column 2-d array is raveled, as scikit-learn's ``column_or_1d`` does).

    Without scikit-learn's input validation per call: the trade engine runs
    once per variant and symbol when a sweep's tables are built.
    """
    array = np.asarray(values)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise ValueError(f"{name} should be a 1d array, got an array of shape {array.shape} instead.")
    return array


def _check_signal_and_returns(signal, returns):
    s = _vector(signal, "signal")
    if not ((s == 0) | (s == 1)).all():  # np.isin's, without its setup (~60 µs a call, once per variant and symbol)
        raise ValueError("signal must hold booleans or 0/1 (1 = take the trade).")
    r = _vector(returns, "returns").astype(np.float64)
    if len(s) != len(r):
        raise ValueError(f"signal has {len(s)} rows but returns has {len(r)}; pass one forward return per signal row.")
    if not np.isfinite(r).all():
        raise ValueError("returns must be finite numbers; drop or fill the rows with NaN or inf.")
    if len(r) and r.min() < -1:
        raise ValueError(
            f"returns holds values below -1 (min {r.min():g}): a simple return cannot lose more than 100%. "
            "Pass returns as fractions (0.01 for 1%), not percent."
        )
    return s.astype(bool), r
