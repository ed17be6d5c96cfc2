"""A small, documented feature set computed only from past bars.

Every feature at a bar uses that bar's open, high, low, close and volume and
earlier bars', never later ones: a trade entered at a bar's close may use
them. All features are scale-free (returns, ratios, z-scores), so split- or
dividend-adjusted prices give the same values as unadjusted ones away from
corporate actions.

========== ===============================================================
feature    definition (``r`` = one-bar log return of the close)
========== ===============================================================
ret_1      ``r`` of the bar
ret_1_lag1 ``r`` of the previous bar
ret_5      log return over the last 5 bars
ret_10     log return over the last 10 bars
ret_20     log return over the last 20 bars
vol_5      standard deviation of ``r`` over the last 5 bars
vol_20     standard deviation of ``r`` over the last 20 bars
vol_ratio  ``vol_5 / vol_20``
ma20_gap   ``(close / 20-bar mean close - 1) / vol_20``
ma50_gap   ``(close / 50-bar mean close - 1) / vol_20``
rsi_14     ``100 * gains / (gains + losses)`` of ``r`` over 14 bars (50 when flat)
range      ``(high - low) / close`` of the bar
atr_14     mean true range over 14 bars / close (true range: the largest of
           high - low, abs(high - previous close), abs(low - previous close))
volume_z   z-score of log volume against the last 20 bars (0 where volume
           is missing or zero, or constant)
========== ===============================================================

The first 50 bars hold NaN in some feature (the longest window); drop them.

Examples
--------
>>> import numpy as np, pandas as pd
>>> from cvn_sklearn.features import features
>>> rng = np.random.RandomState(0)
>>> close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 120)))
>>> prices = pd.DataFrame({"open": close, "high": close * 1.01, "low": close * 0.99, "close": close,
...                        "volume": rng.randint(1000, 2000, 120)}, index=pd.date_range("2024-01-01", periods=120))
>>> X = features(prices)
>>> X.shape, int(X.dropna().index[0].day)
((120, 14), 19)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["FEATURES", "features"]

FEATURES = ("ret_1", "ret_1_lag1", "ret_5", "ret_10", "ret_20", "vol_5", "vol_20", "vol_ratio", "ma20_gap",
            "ma50_gap", "rsi_14", "range", "atr_14", "volume_z")


def features(prices: pd.DataFrame) -> pd.DataFrame:
    """The features of the module table, one row per bar, from that bar and earlier ones only.

    Parameters
    ----------
    prices : DataFrame
        Columns ``open``, ``high``, ``low``, ``close``, ``volume`` (as
        :func:`cvn_sklearn.datasets.load_prices` returns them), rows in time order.

    Returns
    -------
    features : DataFrame indexed like ``prices``, columns :data:`FEATURES`
        NaN where a window is not yet full (the first 50 bars).

    Raises
    ------
    ValueError
        If a column is missing or the rows are not in time order.
    """
    missing = [c for c in ("open", "high", "low", "close", "volume") if c not in prices]
    if missing:
        raise ValueError(f"features: prices lacks the column(s) {missing}; pass OHLCV with lower-case names, "
                         "as cvn_sklearn.datasets.load_prices returns them.")
    if not (prices.index.is_monotonic_increasing and prices.index.is_unique):
        raise ValueError("features: prices' rows must be in time order without duplicated times; sort_index() first.")
    close, high, low = prices["close"], prices["high"], prices["low"]
    ret = np.log(close).diff()
    vol5, vol20 = ret.rolling(5).std(), ret.rolling(20).std()
    gain, loss = ret.clip(lower=0).rolling(14).mean(), (-ret.clip(upper=0)).rolling(14).mean()
    previous = close.shift(1)
    true_range = pd.concat([high - low, (high - previous).abs(), (low - previous).abs()], axis=1).max(axis=1)
    columns = {
        "ret_1": ret,
        "ret_1_lag1": ret.shift(1),
        **{f"ret_{n}": np.log(close / close.shift(n)) for n in (5, 10, 20)},
        "vol_5": vol5,
        "vol_20": vol20,
        "vol_ratio": vol5 / vol20,
        **{f"ma{n}_gap": (close / close.rolling(n).mean() - 1.0) / vol20 for n in (20, 50)},
        "rsi_14": (100.0 * gain / (gain + loss)).where(gain + loss > 0, 50.0).where(gain.notna()),
        "range": (high - low) / close,
        "atr_14": true_range.where(previous.notna()).rolling(14).mean() / close,
        "volume_z": _volume_z(prices["volume"]),
    }
    return pd.DataFrame(columns, index=prices.index)[list(FEATURES)]


def _volume_z(volume: pd.Series) -> pd.Series:
    log_volume = np.log(volume.where(volume > 0))
    z = (log_volume - log_volume.rolling(20).mean()) / log_volume.rolling(20).std()
    return z.replace([np.inf, -np.inf], np.nan).fillna(0.0)
