"""Real market prices that ship inside installed packages, and labelled datasets built from them.

Nothing is downloaded: every symbol's prices are a file inside a package of
the ``data`` extra (``pip install "cvn_sklearn[data]"``):

====== ==================== ========= ========================= ===== ====== ==========================
symbol package              frequency dates                     rows  cost   notes
====== ==================== ========= ========================= ===== ====== ==========================
sp500  ``arch``             daily     1999-01-04 .. 2018-12-31  5031  5 bps  S&P 500 index
nasdaq ``arch``             daily     1999-01-04 .. 2018-12-31  5031  5 bps  NASDAQ Composite index
goog   ``backtesting``      daily     2004-08-19 .. 2013-03-01  2148  10 bps Google stock
eurusd ``backtesting``      hourly    2017-04-19 .. 2018-02-07  5000  2 bps  EUR/USD; volume is a tick count
aapl   ``bokeh-sampledata`` daily     2000-03-01 .. 2013-03-01  3270  10 bps Apple stock, adjusted
msft   ``bokeh-sampledata`` daily     2000-03-01 .. 2013-03-01  3270  10 bps Microsoft stock, adjusted
ibm    ``bokeh-sampledata`` daily     2000-03-01 .. 2013-03-01  3270  10 bps IBM stock, adjusted
====== ==================== ========= ========================= ===== ====== ==========================

*cost* is :func:`trading_cost`, the default round-trip cost per trade of the
screening sweep, as a retail trader pays it: an index through its ETF (SPY,
QQQ) about 5 bps (spread and slippage, no commission), a large US stock 10
bps (spread, slippage and exchange fees on a day's close), EUR/USD about 2
pips, i.e. 2 bps (spread plus slippage). Override them per symbol in the
sweep config (``costs: {goog: 0.0015}``).

Every symbol has all five columns ``open``, ``high``, ``low``, ``close``,
``volume``. What the sources lack: ``sp500`` and ``nasdaq`` are indices, not
traded themselves, so their volume is the source's aggregate (and nasdaq has
two zero-volume bars); ``eurusd`` has no traded volume
(a tick count stands in) and its times carry no time zone; the
``bokeh-sampledata`` stocks ship unadjusted prices plus an adjusted close, so
:func:`load_prices` scales open, high, low and close by ``adj_close / close``
(and volume by its inverse) to remove the split jumps (AAPL 2000-06-21 and
2005-02-28, MSFT 2003-02-18); ``goog`` and the indices need no adjustment.

The labels and features live in :mod:`cvn_sklearn.labels` and
:mod:`cvn_sklearn.features`; their public names are importable from here too.

Examples
--------
>>> from cvn_sklearn.datasets import labelled_dataset, load_prices
>>> prices = load_prices("ibm")
>>> list(prices.columns), prices.index.is_monotonic_increasing
(['open', 'high', 'low', 'close', 'volume'], True)
>>> data = labelled_dataset("ibm", cusum=1.5, max_holding=10)
>>> X, y, returns, t1 = data.X, data.y, data.returns, data.t1
>>> X.index.equals(y.index) and y.index.equals(t1.index), bool((t1 > X.index).all())
(True, True)
>>> sorted(data.cusum_metadata)
['h', 'n_bars', 'n_events', 'sigma', 'sigma_mode', 'threshold', 'vol_span']
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import pandas as pd

from cvn_sklearn._symbols import _SOURCES, SYMBOLS, _Source
from cvn_sklearn.features import FEATURES, features
from cvn_sklearn.labels import (
    CusumEvents,
    cusum_events,
    forward_return_label,
    triple_barrier_labels,
    volatility,
)

__all__ = [
    "FEATURES",
    "SYMBOLS",
    "CusumEvents",
    "LabelledData",
    "cusum_events",
    "features",
    "forward_return_label",
    "labelled_dataset",
    "load_dataset",
    "load_prices",
    "periods_per_year",
    "symbols",
    "trading_cost",
    "triple_barrier_labels",
    "volatility",
]


OHLCV = ["open", "high", "low", "close", "volume"]


def load_prices(symbol: str = "sp500") -> pd.DataFrame:
    """OHLCV prices of ``symbol`` from the package that ships them, indexed by time, oldest first.

    Parameters
    ----------
    symbol : str, default="sp500"
        One of :data:`SYMBOLS` (see the module table, or :func:`symbols`).

    Returns
    -------
    prices : DataFrame
        Float columns ``open``, ``high``, ``low``, ``close``, ``volume``; a
        sorted ``DatetimeIndex`` named ``time`` without duplicates. A new
        copy on every call (the files are read once per process).

    Raises
    ------
    ValueError
        If ``symbol`` is unknown (the message lists the known ones).
    ImportError
        If the package shipping it is not installed (the message says what to install).

    Examples
    --------
    >>> load_prices("goog").loc["2004-08-19"].tolist()
    [100.0, 104.06, 95.96, 100.34, 22351900.0]
    >>> load_prices("tsla")
    Traceback (most recent call last):
    ...
    ValueError: Unknown symbol 'tsla'; the prices shipped are: sp500, nasdaq, goog, eurusd, aapl, msft, ibm.
    """
    _source(symbol)
    return _load(symbol).copy()


def _source(symbol) -> _Source:
    if symbol not in _SOURCES:
        raise ValueError(f"Unknown symbol {symbol!r}; the prices shipped are: {', '.join(SYMBOLS)}.")
    return _SOURCES[symbol]


@functools.lru_cache(maxsize=None)
def _load(symbol: str) -> pd.DataFrame:
    source = _SOURCES[symbol]
    missing = ImportError(
        f"The {symbol!r} prices ship with the {source.package!r} package, which is not installed: "
        f'pip install "cvn_sklearn[data]" (or pip install {source.package}).'
    )
    if source.package == "arch":  # what arch.data.<symbol>.load() reads
        raw = pd.read_csv(_package_file(source.module, f"{symbol}.csv.gz", missing))
        raw = raw.assign(Date=pd.to_datetime(raw["Date"])).set_index("Date").apply(pd.to_numeric, errors="coerce")
    elif source.package == "backtesting":  # what backtesting.test.<SYMBOL> holds
        raw = pd.read_csv(_package_file(source.module, f"{symbol.upper()}.csv", missing), index_col=0, parse_dates=True)
    else:
        try:
            module = __import__(source.module, fromlist=["_"])
        except ImportError as exc:
            raise missing from exc
        raw = _adjusted(pd.DataFrame(getattr(module, symbol.upper())).set_index("date"))
    prices = raw.rename(columns=str.lower)[OHLCV].astype(float)
    prices.index = pd.DatetimeIndex(prices.index, name="time")
    prices = prices.sort_index()
    return prices[~prices.index.duplicated()]


def _package_file(module: str, name: str, missing: ImportError) -> str:
    """The data file ``name`` in the folder of ``module``, found without importing its package.

    Importing ``arch`` or ``backtesting`` takes seconds (they import statsmodels, bokeh, ...); their
    price files are plain CSV, read with pandas as the packages themselves read them
    (``tests/test_datasets.py`` checks the tables are the same).
    """
    import importlib.util
    from pathlib import Path

    top, *inner = module.split(".")
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError, AttributeError):  # a package set to None in sys.modules, ...
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise missing
    path = Path(spec.submodule_search_locations[0], *inner, name)
    if not path.is_file():
        raise ImportError(f"{path} does not exist: this version of the {top!r} package keeps its prices elsewhere; "
                          f"install the version cvn_sklearn's [data] extra names (pip install \"cvn_sklearn[data]\").")
    return str(path)


def _adjusted(raw: pd.DataFrame) -> pd.DataFrame:
    """Unadjusted OHLCV scaled by the source's adjusted close (splits and dividends)."""
    factor = raw["adj_close"] / raw["close"]
    prices = raw[["open", "high", "low", "close"]].mul(factor, axis=0)
    return prices.assign(volume=raw["volume"] / factor)


def periods_per_year(symbol: str) -> int:
    """Bars per year of ``symbol``, for annualised trading metrics: 252 daily, 6240 hourly (EUR/USD).

    Examples
    --------
    >>> periods_per_year("sp500"), periods_per_year("eurusd")
    (252, 6240)
    """
    return _source(symbol).periods_per_year


def trading_cost(symbol: str) -> float:
    """The default round-trip cost per trade of ``symbol``, as a return (see the module table).

    Examples
    --------
    >>> trading_cost("sp500"), trading_cost("goog"), trading_cost("eurusd")
    (0.0005, 0.001, 0.0002)
    """
    return _source(symbol).cost


def symbols() -> pd.DataFrame:
    """The shipped symbols: package, frequency, first and last time, rows, bars per year.

    Reads every installed package's file; a symbol whose package is missing
    has ``installed`` False and no dates or rows.

    Returns
    -------
    DataFrame
        One row per symbol, columns ``symbol``, ``package``, ``frequency``,
        ``first``, ``last``, ``rows``, ``periods_per_year``, ``cost``, ``installed``,
        ``description``.

    Examples
    --------
    >>> table = symbols()
    >>> print(table[["symbol", "package", "frequency", "first", "rows", "periods_per_year"]].to_string(index=False))
    symbol          package frequency               first  rows  periods_per_year
     sp500             arch     daily 1999-01-04 00:00:00  5031               252
    nasdaq             arch     daily 1999-01-04 00:00:00  5031               252
      goog      backtesting     daily 2004-08-19 00:00:00  2148               252
    eurusd      backtesting    hourly 2017-04-19 09:00:00  5000              6240
      aapl bokeh-sampledata     daily 2000-03-01 00:00:00  3270               252
      msft bokeh-sampledata     daily 2000-03-01 00:00:00  3270               252
       ibm bokeh-sampledata     daily 2000-03-01 00:00:00  3270               252
    """
    rows = []
    for symbol, source in _SOURCES.items():
        try:
            index = _load(symbol).index
        except ImportError:
            index = None
        rows.append({
            "symbol": symbol, "package": source.package, "frequency": source.frequency,
            "first": None if index is None else index[0], "last": None if index is None else index[-1],
            "rows": pd.NA if index is None else len(index), "periods_per_year": source.periods_per_year,
            "cost": source.cost, "installed": index is not None, "description": source.description,
        })
    return pd.DataFrame(rows).astype({"rows": "Int64"})


class LabelledData(NamedTuple):
    """Per-symbol inputs of a model or a sweep, aligned on the same index (the event times).

    Attributes
    ----------
    X : DataFrame
        :func:`features` at the event times.
    y : Series of int
        The label (1 = buy).
    returns : Series of float
        The trade's realised simple return (what the trading metrics use).
    t1 : Series of datetime
        When each label ends (pass it to the walk-forward folds for purging).
    cusum_metadata : dict or None
        :attr:`CusumEvents.metadata` of the event filter, ``None`` without one
        (``TrainedArtifact.cusum_metadata``).
    """

    X: pd.DataFrame
    y: pd.Series
    returns: pd.Series
    t1: pd.Series
    cusum_metadata: dict | None


def labelled_dataset(
    symbol: str,
    *,
    label: str = "triple_barrier",
    cusum: float | None = None,
    pt_sl=(1.0, 1.0),
    vol_span: int = 50,
    max_holding: int = 10,
    vertical: str = "zero",
    horizon: int = 5,
    k: float = 0.5,
    min_rows: int = 100,
) -> LabelledData:
    """Features, labels, realised returns and label end times of ``symbol``, on the same index.

    The events are every bar, or the bars sampled by :func:`cusum_events`
    with ``threshold=cusum`` (causal volatility with span ``vol_span``).
    Events whose feature window is not full (the first 50 bars) or whose
    label cannot be known yet (the last bars) are dropped.

    Parameters
    ----------
    symbol : str
        One of :data:`SYMBOLS`.
    label : {"triple_barrier", "forward_return"}, default="triple_barrier"
        :func:`triple_barrier_labels` (with ``pt_sl``, ``vol_span``,
        ``max_holding``, ``vertical``) or :func:`forward_return_label` (with
        ``horizon`` and ``k``; ``t1`` is ``horizon`` bars later).
    cusum : float, default=None
        The CUSUM threshold in units of volatility; ``None`` uses every bar.
    pt_sl, vol_span, max_holding, vertical
        Passed to :func:`triple_barrier_labels` (``vol_span`` also to
        :func:`cusum_events`).
    horizon, k
        Passed to :func:`forward_return_label`.
    min_rows : int, default=100
        Fewer labelled events than this is an error.

    Returns
    -------
    LabelledData
        A named tuple ``(X, y, returns, t1, cusum_metadata)``.

    Raises
    ------
    ValueError
        For an unknown symbol or label, or a setting that leaves no event or
        fewer than ``min_rows`` (the message names the setting to relax).

    Examples
    --------
    >>> data = labelled_dataset("goog", max_holding=10)
    >>> len(data.X), round(float(data.y.mean()), 3), data.cusum_metadata is None
    (2088, 0.244, True)
    >>> labelled_dataset("goog", cusum=10.0)
    Traceback (most recent call last):
    ...
    ValueError: labelled_dataset('goog'): label='triple_barrier' with cusum=10.0 leaves 45 labelled rows, fewer than min_rows=100; lower cusum (1 to 3 is typical) or pass cusum=None, or pass a smaller min_rows.
    """
    prices = load_prices(symbol)
    close = prices["close"]
    sampled = None if cusum is None else cusum_events(close, threshold=cusum, vol_span=vol_span)
    events = None if sampled is None else sampled.events
    if sampled is not None and len(events) == 0:
        raise ValueError(f"labelled_dataset({symbol!r}): cusum={cusum} leaves no event; lower the threshold "
                         "(1 to 3 is typical) or pass cusum=None to use every bar.")
    if label == "triple_barrier":
        labels = triple_barrier_labels(close, events=events, pt_sl=pt_sl, vol_span=vol_span,
                                       max_holding=max_holding, vertical=vertical)
    elif label == "forward_return":
        labels = _forward_return_labels(close, horizon=horizon, k=k)
        labels = labels if events is None else labels.loc[labels.index.intersection(events)]
    else:
        raise ValueError(f"labelled_dataset: label must be 'triple_barrier' or 'forward_return', got {label!r}.")
    X = features(prices).loc[labels.index].dropna()
    _check_rows(symbol, len(X), min_rows, label, cusum)
    labels = labels.loc[X.index]
    return LabelledData(X, labels["label"].rename("y"), labels["ret"].rename("return"), labels["t1"].rename("t1"),
                        None if sampled is None else sampled.metadata)


def _forward_return_labels(close: pd.Series, *, horizon: int, k: float) -> pd.DataFrame:
    """:func:`forward_return_label` in the shape of :func:`triple_barrier_labels` (label, t1, ret)."""
    label, forward = forward_return_label(close, horizon=horizon, k=k)
    t1 = pd.Series(close.index, index=close.index).shift(-horizon)
    frame = pd.DataFrame({"label": label, "t1": t1, "ret": forward}).dropna()
    return frame.astype({"label": int})


def _check_rows(symbol: str, n_rows: int, min_rows: int, label: str, cusum) -> None:
    if n_rows >= min_rows:
        return
    relax = "lower cusum (1 to 3 is typical) or pass cusum=None" if cusum is not None else "a shorter max_holding or vol_span"
    raise ValueError(f"labelled_dataset({symbol!r}): label={label!r} with cusum={cusum} leaves {n_rows} labelled "
                     f"rows, fewer than min_rows={min_rows}; {relax}, or pass a smaller min_rows.")


def load_dataset(symbol: str = "sp500", *, horizon: int = 5, k: float = 0.5):
    """Features, forward-return labels and forward returns of ``symbol`` (the data of ``cvn-sklearn train``).

    :func:`labelled_dataset` with ``label="forward_return"`` on every bar,
    without ``t1``.

    Parameters
    ----------
    symbol : str, default="sp500"
        One of :data:`SYMBOLS`.
    horizon, k
        Passed to :func:`forward_return_label`.

    Returns
    -------
    X : DataFrame of shape (n_samples, 14)
    y : Series of int (1 = buy)
    returns : Series of float
        The forward return each label looks at (for trading metrics).

    Examples
    --------
    >>> X, y, returns = load_dataset("goog")
    >>> X.shape[1], bool(0.2 < y.mean() < 0.5), X.index.is_monotonic_increasing
    (14, True, True)
    """
    data = labelled_dataset(symbol, label="forward_return", horizon=horizon, k=k, min_rows=1)
    return data.X, data.y, data.returns.rename("forward_return")
