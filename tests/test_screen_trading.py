"""The sweep's trading figures: net of each symbol's cost, on its bar calendar, in one unit, no trade without an edge."""

import numpy as np
import pandas as pd
import pytest

from cvn_sklearn.sweep import SymbolData, screen
from cvn_sklearn.sweep.store import CellStore
from cvn_sklearn.trading import positions


def _planted(seed, n=900, freq="D", per_year=252, hold=5):
    """Rows whose label depends on |f0| (a tree sees it, a linear model cannot); trades held ``hold`` bars."""
    rng = np.random.RandomState(seed)
    bars = pd.date_range("2015-01-05", periods=n + hold, freq=freq)
    X = pd.DataFrame(rng.normal(size=(n, 3)), columns=["f0", "f1", "f2"], index=bars[:n])
    y = pd.Series((rng.random_sample(n) < np.where(np.abs(X["f0"]) < 0.7, 0.8, 0.15)).astype(int), index=X.index)
    returns = pd.Series(np.where(y == 1, 0.01, -0.01) + rng.normal(0, 0.002, n), index=X.index)
    t1 = pd.Series(bars[hold:hold + n], index=X.index)
    return SymbolData(X, y, returns, t1, per_year)


VARIANTS = [
    {"name": "linear", "model": "logreg"},
    {"name": "forest", "model": "random_forest", "params": {"n_estimators": 40, "min_samples_leaf": 20, "random_state": 0}},
]


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sweep")
    config = {"variants": VARIANTS, "symbols": ["daily", "hourly"], "folds": {"n_splits": 3},
              "calibration": "sigmoid", "folder": str(folder), "mlflow": False, "cost": 0.001,
              "costs": {"hourly": 0.0002}}
    data = {"daily": _planted(1), "hourly": _planted(2, freq="h", per_year=6240)}
    return screen(config, data=data), data, folder


def test_the_planted_signal_trades_and_ranks_first_the_blind_model_does_not_trade(swept):
    result, _, _ = swept
    assert result.ranking.index[0] == "forest"
    forest, linear = result.ranking.loc["forest"], result.ranking.loc["linear"]
    assert forest["trades"] > 100 and forest["psr"] > 0.95 and forest["no_edge_cells"] == 0
    # linear never trades, so forest is the one Sharpe ratio of N = 2 trials: their variance is unknown and DSR is not
    # computed (NaN with the reason), not silently the PSR (docs/ranking.md)
    assert np.isnan(forest["dsr"]) and "1 of N = 2 trials has a Sharpe ratio" in forest["dsr_note"]
    # |f0| is invisible to a linear model: its validation AUC shows no edge, so it takes (almost) no trade
    cells = result.cells.set_index("variant")
    assert cells.loc["linear", "no_edge"].mean() >= 0.5
    assert (cells.loc["linear"].query("no_edge")["n_trades"] == 0).all()
    assert (cells.loc["linear"].query("no_edge")["threshold"] > 1).all()
    assert linear["trades"] < forest["trades"] / 5


def test_each_symbol_pays_its_own_cost_and_gross_is_kept_beside_net(swept):
    result, _, _ = swept
    cells = result.cells
    assert cells.groupby("symbol")["cost"].first().to_dict() == {"daily": 0.001, "hourly": 0.0002}
    forest = cells.query("variant == 'forest' and n_trades > 0")
    assert (forest["avg_return_gross"] - forest["avg_return"]).round(12).eq(forest["cost"]).all()
    assert (forest["sharpe_ann"] < forest["sharpe_ann_gross"]).all()
    gap = result.returns_gross["forest"] - result.returns["forest"]
    assert (gap >= -1e-15).all() and gap.groupby(level="symbol").sum().gt(0).all()
    ranked = result.ranking.dropna(subset=["sharpe_ann", "sharpe_ann_gross"])
    assert len(ranked) and (ranked["sharpe_ann"] < ranked["sharpe_ann_gross"]).all()


def test_a_symbols_series_is_its_folds_trades_held_on_its_bars(swept):
    result, data, folder = swept
    store = CellStore(folder)
    cells = result.cells.query("variant == 'forest' and symbol == 'daily'").sort_values("fold")
    arrays = [store.get(key)[1] for key in cells["key"]]
    rows = np.concatenate([a["index"] for a in arrays])
    symbol = data["daily"]
    held = positions(np.concatenate([a["signal"] for a in arrays]), symbol.returns.iloc[rows], times=symbol.X.index[rows],
                     t1=symbol.t1.iloc[rows], cost=0.001)
    series = result.returns.xs("daily", level="symbol")["forest"]
    # realised on the exit bar (no close prices): the series is the trades' net returns on their exit bars
    pd.testing.assert_series_equal(series, held.bars["net"].reindex(series.index), check_names=False)
    assert series.sum() == pytest.approx(held.trades["net"].sum())
    assert len(held.trades) < held.n_signals  # one at a time: the signals while a 5-bar trade is open are no trades
    assert result.ranking.loc["forest", "trades"] > len(held.trades)  # and the hourly symbol's


def test_an_hourly_and_a_daily_symbol_are_ranked_on_one_daily_calendar_with_its_T(swept):
    result, _, _ = swept
    assert result.calendar == "days" and result.periods_per_year == 252
    days = set()
    for symbol in ("daily", "hourly"):
        days |= set(result.returns.xs(symbol, level="symbol").index.normalize())
    assert list(result.pooled.index) == sorted(days)
    assert result.ranking["T"].dropna().unique().tolist() == [len(days)]


def test_probability_sizing_trades_smaller_positions(tmp_path, swept):
    _, data, _ = swept
    config = {"variants": VARIANTS[1:], "symbols": ["daily"], "folds": {"n_splits": 3}, "calibration": "sigmoid",
              "mlflow": False, "cost": 0.001}
    binary = screen({**config, "folder": str(tmp_path / "binary")}, data={"daily": data["daily"]})
    sized = screen({**config, "folder": str(tmp_path / "sized"), "sizing": "probability"}, data={"daily": data["daily"]})
    b, s = binary.returns["forest"], sized.returns["forest"]
    assert (s.abs() <= b.abs() + 1e-15).all() and (s != b).any()
    assert sized.cells["key"].isin(binary.cells["key"]).sum() == 0  # the sizing rule is part of a cell's key


def test_a_symbol_of_your_own_needs_a_cost(tmp_path):
    config = {"variants": VARIANTS[:1], "symbols": ["mine"], "folder": str(tmp_path), "mlflow": False}
    with pytest.raises(ValueError, match=r"'mine' has no cost per trade.*cost: 0 screens gross"):
        screen(config, data={"mine": _planted(3)})
    assert not any(tmp_path.iterdir())  # refused before anything ran


def test_equal_weight_takes_every_signal_one_at_a_time_skips_those_while_a_position_is_open(tmp_path, swept):
    _, data, _ = swept
    config = {"variants": VARIANTS[1:], "symbols": ["daily"], "folds": {"n_splits": 3}, "calibration": "sigmoid",
              "mlflow": False, "cost": 0.001}
    one = screen({**config, "folder": str(tmp_path / "one")}, data={"daily": data["daily"]})
    split = screen({**config, "folder": str(tmp_path / "split"), "positions": "equal_weight"}, data={"daily": data["daily"]})
    assert (split.cells["n_trades"] == split.cells["n_signals"]).all()
    assert (one.cells["n_trades"] < one.cells["n_signals"]).all()
    assert split.ranking.loc["forest", "trades"] > one.ranking.loc["forest", "trades"]
    assert (one.cells["threshold"].to_numpy() == split.cells["threshold"].to_numpy()).all()  # same fits, other holding
