"""The table of shipped symbols: where each one's prices come from, its bars per year and its cost per trade.

Kept apart from :mod:`cvn_sklearn.datasets` (which re-exports :data:`SYMBOLS`)
so that the command line can list the symbols without importing pandas.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class _Source:
    package: str  # the distribution to pip install
    module: str
    frequency: str
    periods_per_year: int
    cost: float  # round-trip cost per trade, as a return
    description: str


_DAILY = 252
_INDEX, _STOCK, _FX = 0.0005, 0.0010, 0.0002  # round-trip costs: index ETF 5 bps, large stock 10 bps, EUR/USD 2 bps
_SOURCES = {
    "sp500": _Source("arch", "arch.data.sp500", "daily", _DAILY, _INDEX, "S&P 500 index"),
    "nasdaq": _Source("arch", "arch.data.nasdaq", "daily", _DAILY, _INDEX, "NASDAQ Composite index"),
    "goog": _Source("backtesting", "backtesting.test", "daily", _DAILY, _STOCK, "Google stock"),
    # forex trades around the clock on weekdays: 24 bars x 5 days x 52 weeks
    "eurusd": _Source("backtesting", "backtesting.test", "hourly", 24 * 5 * 52, _FX, "EUR/USD; volume is a tick count"),
    "aapl": _Source("bokeh-sampledata", "bokeh_sampledata.stocks", "daily", _DAILY, _STOCK, "Apple stock, split/dividend adjusted"),
    "msft": _Source("bokeh-sampledata", "bokeh_sampledata.stocks", "daily", _DAILY, _STOCK, "Microsoft stock, split/dividend adjusted"),
    "ibm": _Source("bokeh-sampledata", "bokeh_sampledata.stocks", "daily", _DAILY, _STOCK, "IBM stock, split/dividend adjusted"),
}
SYMBOLS = tuple(_SOURCES)
