"""The feature set uses only past bars: changing the future moves no earlier value."""

import numpy as np
import pandas as pd
import pytest

from cvn_sklearn.datasets import load_prices
from cvn_sklearn.features import FEATURES, features
from cvn_sklearn.labels import volatility


@pytest.fixture(scope="module")
def goog():
    return load_prices("goog")


def _scramble_future(prices, cut, seed):
    """Prices whose bars from position ``cut`` on are replaced by a different, still valid, path."""
    rng = np.random.RandomState(seed)
    changed = prices.copy()
    n = len(prices) - cut
    scale = np.exp(np.cumsum(rng.normal(0, 0.05, n)))[:, None]
    changed.iloc[cut:, :4] = prices.iloc[cut:, :4].to_numpy()[rng.permutation(n)] * scale
    changed.iloc[cut:, 4] = rng.randint(1, 10**7, n)
    return changed


@pytest.mark.parametrize("cut, seed", [(60, 0), (700, 1), (2000, 2)])
def test_no_feature_moves_when_the_future_changes(goog, cut, seed):
    changed = _scramble_future(goog, cut, seed)
    before, after = features(goog), features(changed)
    pd.testing.assert_frame_equal(before.iloc[:cut], after.iloc[:cut])
    assert not before.iloc[cut:].equals(after.iloc[cut:])  # the scramble did change the later rows
    pd.testing.assert_series_equal(volatility(goog["close"]).iloc[:cut], volatility(changed["close"]).iloc[:cut])


def test_no_feature_moves_when_the_future_is_cut_off(goog):
    full = features(goog)
    pd.testing.assert_frame_equal(features(goog.iloc[:500]), full.iloc[:500])


def test_features_are_the_documented_columns_and_full_after_50_bars(goog):
    X = features(goog)
    assert tuple(X.columns) == FEATURES and X.index.equals(goog.index)
    assert X.iloc[49:].notna().all().all() and X.iloc[48].isna().any()
    assert X["rsi_14"].iloc[49:].between(0, 100).all() and (X["atr_14"].iloc[49:] > 0).all()


def test_features_by_hand_on_one_bar(goog):
    X, close = features(goog), goog["close"]
    t = 300
    assert X["ret_5"].iloc[t] == pytest.approx(np.log(close.iloc[t] / close.iloc[t - 5]))
    assert X["ret_1_lag1"].iloc[t] == pytest.approx(np.log(close.iloc[t - 1] / close.iloc[t - 2]))
    assert X["range"].iloc[t] == pytest.approx((goog["high"].iloc[t] - goog["low"].iloc[t]) / close.iloc[t])
    r = np.diff(np.log(close.iloc[t - 14:t + 1].to_numpy()))
    assert X["rsi_14"].iloc[t] == pytest.approx(100 * r.clip(0).sum() / np.abs(r).sum())


def test_features_refuse_prices_without_the_ohlcv_columns(goog):
    with pytest.raises(ValueError, match=r"lacks the column\(s\) \['volume'\]; pass OHLCV with lower-case names"):
        features(goog.drop(columns="volume"))
    with pytest.raises(ValueError, match="rows must be in time order"):
        features(goog.iloc[::-1])
