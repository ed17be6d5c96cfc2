"""Shipped prices (no network), the symbols table and the labelled per-symbol inputs."""

import socket
import sys

import numpy as np
import pandas as pd
import pytest

from cvn_sklearn import datasets
from cvn_sklearn.datasets import (
    SYMBOLS,
    labelled_dataset,
    load_dataset,
    load_prices,
    periods_per_year,
    symbols,
)
from cvn_sklearn.model_selection import WalkForwardSplit

# what each package ships (checked against the installed wheels)
EXPECTED = {
    "sp500": ("arch", "daily", "1999-01-04", "2018-12-31", 5031),
    "nasdaq": ("arch", "daily", "1999-01-04", "2018-12-31", 5031),
    "goog": ("backtesting", "daily", "2004-08-19", "2013-03-01", 2148),
    "eurusd": ("backtesting", "hourly", "2017-04-19 09:00", "2018-02-07 15:00", 5000),
    "aapl": ("bokeh-sampledata", "daily", "2000-03-01", "2013-03-01", 3270),
    "msft": ("bokeh-sampledata", "daily", "2000-03-01", "2013-03-01", 3270),
    "ibm": ("bokeh-sampledata", "daily", "2000-03-01", "2013-03-01", 3270),
}


@pytest.fixture
def fresh_cache():
    datasets._load.cache_clear()
    yield
    datasets._load.cache_clear()


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_load_prices_is_clean_ohlcv_indexed_by_time(symbol):
    prices = load_prices(symbol)
    package, frequency, first, last, rows = EXPECTED[symbol]
    assert list(prices.columns) == ["open", "high", "low", "close", "volume"]
    assert (prices.dtypes == float).all() and isinstance(prices.index, pd.DatetimeIndex)
    assert prices.index.is_monotonic_increasing and prices.index.is_unique
    assert (prices.index[0], prices.index[-1], len(prices)) == (pd.Timestamp(first), pd.Timestamp(last), rows)
    assert prices.notna().all().all() and (prices[["open", "high", "low", "close"]] > 0).all().all()
    body = prices[["open", "close"]]
    assert (prices["high"] >= body.max(axis=1)).all() and (prices["low"] <= body.min(axis=1)).all()


def test_symbols_lists_every_symbol_with_package_frequency_dates_and_rows():
    table = symbols().set_index("symbol")
    assert tuple(table.index) == SYMBOLS and table["installed"].all()
    for symbol, (package, frequency, first, last, rows) in EXPECTED.items():
        row = table.loc[symbol]
        assert (row["package"], row["frequency"], row["rows"]) == (package, frequency, rows)
        assert (row["first"], row["last"]) == (pd.Timestamp(first), pd.Timestamp(last))
        assert row["periods_per_year"] == periods_per_year(symbol) == (6240 if symbol == "eurusd" else 252)


@pytest.mark.parametrize("symbol", ["sp500", "nasdaq", "goog", "eurusd"])
def test_prices_read_from_the_package_files_are_the_packages_own_tables(symbol, fresh_cache):
    import importlib

    from cvn_sklearn.datasets import OHLCV, _SOURCES

    module = importlib.import_module(_SOURCES[symbol].module)  # the package's own loader, imports and all
    raw = module.load() if _SOURCES[symbol].package == "arch" else getattr(module, symbol.upper())
    expected = raw.rename(columns=str.lower)[OHLCV].astype(float)
    expected.index = pd.DatetimeIndex(expected.index, name="time")
    expected = expected.sort_index()
    pd.testing.assert_frame_equal(load_prices(symbol), expected[~expected.index.duplicated()])


def test_a_missing_data_package_found_without_import_says_what_to_install(fresh_cache, monkeypatch):
    monkeypatch.setitem(sys.modules, "backtesting", None)
    with pytest.raises(ImportError, match=r"'goog' prices ship with the 'backtesting' package, which is not installed"):
        load_prices("goog")


def test_bokeh_stocks_are_adjusted_for_splits():
    # unadjusted, AAPL falls 45% on 2000-06-21 and 50% on 2005-02-28 (2:1 splits), MSFT 48% on 2003-02-18
    jumps = {s: np.log(load_prices(s)["close"]).diff().abs() for s in ("aapl", "msft", "ibm")}
    assert jumps["aapl"][jumps["aapl"] > 0.25].index.strftime("%Y-%m-%d").tolist() == ["2000-09-29"]  # a real crash
    assert jumps["msft"].max() < 0.25 and jumps["ibm"].max() < 0.25


def test_load_prices_needs_no_network_and_returns_a_copy(fresh_cache, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("load_prices opened a network connection")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    for symbol in SYMBOLS:
        load_prices(symbol)
    first = load_prices("ibm")
    first.iloc[0, 0] = -1.0
    assert load_prices("ibm").iloc[0, 0] > 0


@pytest.mark.parametrize("call", [load_prices, periods_per_year, labelled_dataset])
def test_an_unknown_symbol_lists_the_known_ones(call):
    with pytest.raises(ValueError, match=r"Unknown symbol 'spx'; the prices shipped are: sp500, nasdaq, goog, eurusd, aapl, msft, ibm\."):
        call("spx")


def test_a_missing_package_says_what_to_install(fresh_cache, monkeypatch):
    monkeypatch.setitem(sys.modules, "bokeh_sampledata.stocks", None)  # import of it fails
    with pytest.raises(ImportError, match=r"'aapl' prices ship with the 'bokeh-sampledata' package, which is not installed: "
                                          r"pip install \"cvn_sklearn\[data\]\" \(or pip install bokeh-sampledata\)"):
        load_prices("aapl")
    table = symbols().set_index("symbol")
    assert not table.loc["aapl", "installed"] and pd.isna(table.loc["aapl", "rows"]) and table.loc["goog", "installed"]


def test_labelled_dataset_aligns_features_labels_returns_and_t1():
    data = labelled_dataset("ibm", max_holding=10)
    X, y, returns, t1 = data.X, data.y, data.returns, data.t1
    assert X.index.equals(y.index) and X.index.equals(returns.index) and X.index.equals(t1.index)
    assert X.notna().all().all() and set(y.unique()) == {0, 1} and data.cusum_metadata is None
    assert (t1 > X.index).all() and np.isfinite(returns).all() and (returns > -1).all()
    assert (returns[y == 1] > 0).all()  # an upper-barrier touch is a winning trade
    bars_held = pd.Series(np.arange(len(load_prices("ibm"))), index=load_prices("ibm").index)
    assert (bars_held[t1].to_numpy() - bars_held[X.index].to_numpy()).max() == 10


def test_labelled_dataset_with_cusum_labels_only_sampled_events():
    every = labelled_dataset("sp500")
    sampled = labelled_dataset("sp500", cusum=2.0)
    assert set(sampled.X.index) <= set(every.X.index) and 500 < len(sampled.X) < len(every.X) / 3
    meta = sampled.cusum_metadata
    assert (meta["threshold"], meta["sigma_mode"], meta["vol_span"]) == (2.0, "ewm", 50)
    assert meta["n_events"] >= len(sampled.X) and 0.005 < meta["sigma"] < 0.02


def test_labelled_dataset_t1_purges_walk_forward_training_rows():
    data = labelled_dataset("goog", max_holding=20)
    for train, test in WalkForwardSplit(n_splits=3).split(data.X, t1=data.t1):
        assert data.t1.iloc[train].max() < data.X.index[test[0]]


@pytest.mark.parametrize("kwargs, match", [
    ({"cusum": 500.0}, r"cusum=500.0 leaves no event; lower the threshold"),
    ({"cusum": 10.0}, r"leaves 45 labelled rows, fewer than min_rows=100; lower cusum"),
    ({"label": "sign"}, r"label must be 'triple_barrier' or 'forward_return', got 'sign'"),
])
def test_labelled_dataset_settings_that_leave_too_little_are_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        labelled_dataset("goog", **kwargs)


def test_load_dataset_is_the_forward_return_label_of_the_train_command():
    X, y, returns = load_dataset("goog")
    forward = labelled_dataset("goog", label="forward_return")
    assert X.equals(forward.X) and y.equals(forward.y) and np.allclose(returns, forward.returns)
    close = load_prices("goog")["close"]
    np.testing.assert_allclose(returns, (close.shift(-5) / close - 1).loc[X.index])
    assert (forward.t1 > X.index).all() and returns.name == "forward_return"
