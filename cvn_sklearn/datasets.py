"""Real market data for examples and the main job, with a forward-return label.

The prices ship inside installed packages, so nothing is downloaded:

* ``"sp500"``: S&P 500 daily prices 1999-2018 from the ``arch`` package;
* ``"goog"``: Google daily prices 2004-2013 from the ``backtesting`` package;
* ``"eurusd"``: EUR/USD hourly prices 2017-2018 from the ``backtesting`` package.

Examples
--------
>>> from cvn_sklearn.datasets import load_dataset
>>> X, y, returns = load_dataset("goog")
>>> X.shape[1], bool(0.2 < y.mean() < 0.5), X.index.is_monotonic_increasing
(12, True, True)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["SYMBOLS", "forward_return_label", "load_dataset", "load_prices", "make_features", "periods_per_year"]

SYMBOLS = ("sp500", "goog", "eurusd")
_PERIODS_PER_YEAR = {"sp500": 252, "goog": 252, "eurusd": 252 * 24}


def load_prices(symbol: str = "sp500") -> pd.DataFrame:
    """OHLCV prices of ``symbol``, indexed by time, oldest first.

    Parameters
    ----------
    symbol : {"sp500", "goog", "eurusd"}

    Returns
    -------
    prices : DataFrame with columns Open, High, Low, Close, Volume
    """
    try:
        if symbol == "sp500":
            from arch.data import sp500

            prices = sp500.load().rename(columns={"Adj Close": "AdjClose"})
        elif symbol in ("goog", "eurusd"):
            from backtesting import test

            prices = getattr(test, symbol.upper()).copy()
        else:
            raise ValueError(f"Unknown symbol {symbol!r}; choose one of {SYMBOLS}.")
    except ImportError as exc:
        package = "arch" if symbol == "sp500" else "backtesting"
        raise ImportError(f"The {symbol!r} prices ship with the {package!r} package: pip install {package}") from exc
    return prices[["Open", "High", "Low", "Close", "Volume"]].sort_index().astype(float)


def forward_return_label(close: pd.Series, *, horizon: int = 5, vol_window: int = 20, k: float = 0.5):
    """Label 1 when the next ``horizon``-bar return beats ``k`` volatility units.

    The volatility unit is the rolling standard deviation of one-bar log
    returns over ``vol_window`` bars, scaled by ``sqrt(horizon)``. The last
    ``horizon`` rows have no label (NaN).

    Parameters
    ----------
    close : Series
        Closing prices in time order.
    horizon : int, default=5
        Bars ahead.
    vol_window : int, default=20
        Bars in the volatility estimate.
    k : float, default=0.5
        Threshold in volatility units; ``0.5`` gives ~30-35% positives on the
        shipped data.

    Returns
    -------
    label : Series of float (1.0, 0.0 or NaN)
    forward_return : Series
        The ``horizon``-bar simple return that the label looks at.
    """
    log_ret = np.log(close).diff()
    vol = log_ret.rolling(vol_window).std() * np.sqrt(horizon)
    forward = close.shift(-horizon) / close - 1.0
    label = (np.log1p(forward) > k * vol).astype(float).where(forward.notna() & vol.notna())
    return label, forward


def make_features(prices: pd.DataFrame) -> pd.DataFrame:
    """Twelve causal features (each row uses only bars up to and including it).

    Lagged log returns, realised volatility, momentum, distance to moving
    averages in volatility units, RSI, intrabar range and a volume z-score.

    Parameters
    ----------
    prices : DataFrame with Open, High, Low, Close, Volume

    Returns
    -------
    features : DataFrame indexed like ``prices``
    """
    close = prices["Close"]
    ret = np.log(close).diff()
    vol20 = ret.rolling(20).std()
    gain, loss = ret.clip(lower=0).rolling(14).mean(), (-ret.clip(upper=0)).rolling(14).mean()
    volume = prices["Volume"].replace(0, np.nan)
    log_volume = np.log(volume)
    features = {
        "ret_1": ret,
        "ret_2": ret.shift(1),
        "ret_5": np.log(close / close.shift(5)),
        "ret_10": np.log(close / close.shift(10)),
        "vol_5": ret.rolling(5).std(),
        "vol_20": vol20,
        "vol_ratio": ret.rolling(5).std() / vol20,
        "ma20_gap": (close / close.rolling(20).mean() - 1.0) / vol20,
        "ma50_gap": (close / close.rolling(50).mean() - 1.0) / vol20,
        "rsi_14": 100.0 - 100.0 / (1.0 + gain / loss.replace(0, np.nan)),
        "range": (prices["High"] - prices["Low"]) / close,
        "volume_z": ((log_volume - log_volume.rolling(20).mean()) / log_volume.rolling(20).std()).fillna(0.0),
    }
    return pd.DataFrame(features, index=prices.index)


def load_dataset(symbol: str = "sp500", *, horizon: int = 5, k: float = 0.5):
    """Features, labels and forward returns of ``symbol``, rows in time order.

    Rows with an incomplete feature window or no label are dropped.

    Parameters
    ----------
    symbol : {"sp500", "goog", "eurusd"}
    horizon, k
        Passed to :func:`forward_return_label`.

    Returns
    -------
    X : DataFrame of shape (n_samples, 12)
    y : Series of int (1 = buy)
    returns : Series of float
        The forward return each label looks at (for trading metrics).
    """
    prices = load_prices(symbol)
    X = make_features(prices)
    label, forward = forward_return_label(prices["Close"], horizon=horizon, k=k)
    rows = X.notna().all(axis=1) & label.notna()
    return X[rows], label[rows].astype(int).rename("y"), forward[rows].rename("forward_return")


def periods_per_year(symbol: str) -> int:
    """Bars per year of ``symbol`` (for annualised trading metrics)."""
    return _PERIODS_PER_YEAR[symbol]
