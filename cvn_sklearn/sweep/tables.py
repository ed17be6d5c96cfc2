"""The sweep's result: one row per cell, the per-variant table, the ranking and the PBO, built from the cells.

:func:`screen_result` builds them from the cells, every time (a finished sweep
run again too), and writes them to the sweep's folder (Parquet and CSV); it
never reads tables back. The ranking corrects for the number of variants tried
(:mod:`cvn_sklearn.ranking`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cvn_sklearn.sweep.config import ScreenConfig
from cvn_sklearn.sweep.plan import Plan
from cvn_sklearn.trading import pool

__all__ = ["ScreenResult", "screen_result"]


@dataclass(frozen=True)
class ScreenResult:
    """What :func:`cvn_sklearn.sweep.run.screen` returns (also written to the sweep's folder).

    Every trading figure is net of the symbols' costs per trade, with the
    gross one beside it (``*_gross``); every Sharpe and Sortino ratio is
    annualised (``*_ann``): a cell's with its symbol's bars per year, the
    ranking's with ``periods_per_year`` of the pooled calendar.

    Attributes
    ----------
    cells : DataFrame
        One row per cell: variant, model, symbol, fold, cost, status,
        error_type, error, cached, seconds, threshold, no_edge, the test
        metrics, the trading figures of its test block (trades, win rate,
        ``sharpe_ann``, ``sortino_ann``, drawdown, net and gross, ``n_bars``,
        ``periods_per_year``), and the rows of each stage.
    by_variant : DataFrame
        Per variant and fold (and ``fold == "all"``), over symbols: average
        trades, average, min and max annualised Sortino, average win rate,
        cells without an edge, failed cells.
    ranking : DataFrame
        Per variant, best first, on the pooled series: trades, win rate,
        annualised Sharpe and Sortino (net and gross), maximum drawdown, the
        probabilistic and the deflated Sharpe ratio (N = the number of
        variants) and ``T``, the periods they were computed on; cells without
        an edge, failed cells.
    pbo : float
        Probability of backtest overfitting of the sweep (CSCV over the
        variants' pooled net returns); NaN when it cannot be computed (fewer
        than 2 variants, or too few periods).
    returns, returns_gross : DataFrame
        Per symbol and bar (index ``(symbol, time)``) of the test windows, each
        variant's strategy return, net and gross of costs
        (:func:`cvn_sklearn.trading.positions`; NaN in a failed cell's window).
    pooled, pooled_gross : DataFrame
        Each variant's returns on the one calendar of the ranking and the PBO
        (:func:`cvn_sklearn.trading.pool`); a variant with a failed cell is
        NaN (not ranked).
    periods_per_year : float
        Periods per year of the pooled calendar.
    calendar : str
        ``"bars"`` (every symbol has the same bars per year) or ``"days"``.
    folder : Path
        The sweep's folder (``cells``, ``by_variant``, ``ranking`` as Parquet
        and CSV, the return tables as Parquet, the cell store).
    parent_run_id : str or None
        The sweep's MLflow parent run, when logged.
    """

    cells: pd.DataFrame
    by_variant: pd.DataFrame
    ranking: pd.DataFrame
    pbo: float
    returns: pd.DataFrame
    returns_gross: pd.DataFrame
    pooled: pd.DataFrame
    pooled_gross: pd.DataFrame
    periods_per_year: float
    calendar: str
    folder: Path
    parent_run_id: str | None = None


_FRAMES = ("returns", "returns_gross", "pooled", "pooled_gross")


def screen_result(config: ScreenConfig, plan: Plan) -> ScreenResult:
    """Build the sweep's tables from every cell of ``plan``; write and return them.

    The cached cells are the ones :func:`~cvn_sklearn.sweep.plan.plan_cells`
    read and verified (``plan.stored``); the cells just computed are read from
    the store. The tables are always built from the cells, never read back
    from the folder (a file there may be stale or altered).

    Raises
    ------
    RuntimeError
        If a cell just computed is missing from the store, or its file is
        rejected (naming the file).
    """
    folder = Path(config.folder)
    records, arrays = [], {}
    for cell in plan.cells:
        found = plan.stored.get(cell.key)
        cached = found is not None
        if found is None:
            found = plan.store.get(cell.key)
        if found is None:
            raise RuntimeError(f"The cell {cell!r} was computed but its file {plan.store.path(cell.key)} is missing or "
                               "was rejected (see the store_file_rejected event); run the sweep again.")
        record, arrays[cell.key] = found
        records.append({**record, "cached": cached})
    cells = pd.DataFrame(records)
    names = [v.name for v in config.variants]
    failed = set(cells.loc[cells["status"] != "ok", "key"])
    held = {symbol: _symbol_positions(config, plan, symbol, arrays, failed) for symbol in config.symbols}
    frames = {kind: pd.concat({symbol: held[symbol][kind] for symbol in config.symbols}, names=["symbol", "time"])
              for kind in ("net", "gross")}
    per_year = {symbol: plan.data[symbol].periods_per_year for symbol in config.symbols}
    with_failures = set(cells.loc[cells["status"] != "ok", "variant"])
    complete = [name for name in names if name not in with_failures]
    pooled = {}
    for kind in ("net", "gross"):
        pooled[kind], pooled_per_year, calendar = pool({s: held[s][kind] for s in config.symbols}, per_year)
        pooled[kind] = pooled[kind].reindex(columns=names)
        pooled[kind].loc[:, [n for n in names if n not in complete]] = np.nan
    trades = sum(held[symbol]["trades"] for symbol in config.symbols)
    wins = sum(held[symbol]["wins"] for symbol in config.symbols)
    by_variant = _by_variant(cells)
    ranking, pbo = _ranking(cells, pooled, complete, trades, wins, pooled_per_year, config)
    result = ScreenResult(cells, by_variant, ranking, pbo, frames["net"], frames["gross"], pooled["net"],
                          pooled["gross"], float(pooled_per_year), calendar, folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, table in (("cells", cells), ("by_variant", by_variant), ("ranking", ranking)):
        table.to_parquet(folder / f"{name}.parquet")
        table.to_csv(folder / f"{name}.csv", index=name == "ranking")
    for name in _FRAMES:
        getattr(result, name).to_parquet(folder / f"{name}.parquet")
    return result


def _symbol_positions(config: ScreenConfig, plan: Plan, symbol: str, arrays: dict, failed: set) -> dict:
    """One symbol's per-bar net and gross returns of every variant over its folds' test windows, trades and wins.

    Each variant's folds are one strategy run through time (a position open
    at the end of a fold's test block blocks entries in the next under
    ``one_at_a_time``); the bars kept are each fold's window, from its first
    test row to its last row's exit, whatever the signal, so every variant has
    the same bars. A failed cell's window is NaN.
    """
    from cvn_sklearn._rows import take_rows
    from cvn_sklearn.trading import bet_size, positions

    data = plan.data[symbol]
    rules = config.trading_rules()
    times = data.times()
    symbol_cells = [cell for cell in plan.cells if cell.symbol == symbol]
    folds = {cell.fold.index: cell.fold for cell in symbol_cells}
    rows = np.concatenate([fold.test for fold in folds.values()])
    ends = times[rows] if data.t1 is None else pd.Index(take_rows(data.t1, rows))
    windows = [(times[fold.test[0]], ends[np.isin(rows, fold.test)].max()) for fold in folds.values()]
    out = {"net": {}, "gross": {}, "trades": {}, "wins": {}}
    variant_cells = {}  # each variant's cells by fold, grouped once (not one pass over the symbol's cells per variant)
    for cell in symbol_cells:
        variant_cells.setdefault(cell.variant.name, {})[cell.fold.index] = cell
    for variant in config.variants:
        mine = variant_cells[variant.name]
        parts = [arrays[mine[index].key] for index in folds]
        signal = np.concatenate([part["signal"] for part in parts])
        proba = np.concatenate([part["proba"] for part in parts])
        size = None
        if rules["sizing"] == "probability":
            size = np.where(signal == 1, bet_size(np.nan_to_num(proba, nan=0.0), break_even=rules["break_even"]), 0.0)
        result = positions(signal, np.concatenate([part["returns"] for part in parts]), times=times[rows],
                           t1=None if data.t1 is None else ends, close=data.close, cost=mine[next(iter(folds))].cost,
                           rule=rules["rule"], size=size)
        bars = result.bars
        keep = np.zeros(len(bars), dtype=bool)
        for (first, last), index in zip(windows, folds):
            inside = (bars.index >= first) & (bars.index <= last)
            keep |= inside
            if mine[index].key in failed:
                bars.loc[inside, ["net", "gross"]] = np.nan
        out["net"][variant.name], out["gross"][variant.name] = bars.loc[keep, "net"], bars.loc[keep, "gross"]
        out["trades"][variant.name] = len(result.trades)
        out["wins"][variant.name] = int((result.trades["net"] > 0).sum())
    for kind in ("net", "gross"):
        out[kind] = pd.DataFrame(out[kind])
        out[kind].columns.name = "variant"
    out["trades"], out["wins"] = pd.Series(out["trades"]), pd.Series(out["wins"])
    return out


def annualised_names(figures: dict) -> dict:
    """Trading figures with Sharpe and Sortino named as what they are: annualised (``sharpe_ann``, ``sortino_ann_gross``)."""
    return {_ANNUALISED.get(name, name): value for name, value in figures.items()}


_ANNUALISED = {"sharpe": "sharpe_ann", "sortino": "sortino_ann", "sharpe_gross": "sharpe_ann_gross",
               "sortino_gross": "sortino_ann_gross"}


def _by_variant(cells: pd.DataFrame) -> pd.DataFrame:
    """The original runner's table: per variant and fold (and overall), trades, Sortino, win rate, no edge, failures."""
    frame = cells.assign(failed=cells["status"] != "ok")
    figures = ["n_trades", "sortino_ann", "win_rate"]
    for column in [*figures, "no_edge"]:
        if column not in frame:
            frame[column] = np.nan if column != "no_edge" else False
    frame["no_edge"] = frame["no_edge"].fillna(False).astype(bool)
    frame.loc[frame["failed"], figures] = np.nan  # failed cells: counted, not averaged

    def table(keys):  # each statistic on its own column: twice as fast as .agg of a list, same table
        groups = frame.groupby(keys, sort=True)
        sortino = groups["sortino_ann"]
        return pd.DataFrame({
            "avg_trades": groups["n_trades"].mean(), "avg_sortino_ann": sortino.mean(),
            "min_sortino_ann": sortino.min(), "max_sortino_ann": sortino.max(),
            "avg_win_rate": groups["win_rate"].mean(), "no_edge_cells": groups["no_edge"].sum().astype(int),
            "failed_cells": groups["failed"].sum().astype(int),
        }).reset_index()

    per_fold = table(["variant", "fold"]).astype({"fold": str})
    overall = table(["variant"]).assign(fold="all")
    return pd.concat([per_fold, overall], ignore_index=True)[["variant", "fold", *per_fold.columns[2:]]]


def _ranking(cells, pooled, complete, trades, wins, periods_per_year, config) -> tuple[pd.DataFrame, float]:
    """Per variant, on the pooled series: trades, win rate, annualised Sharpe/Sortino net and gross, PSR, DSR, T; the PBO.

    ``N`` of the DSR is every variant of the config: those with a failed cell
    (not ranked) and those that never traded (no Sharpe ratio) count as
    trials. ``dsr_note`` says why a variant's DSR is NaN (a failed cell, no
    trade, or a Sharpe variance of the trials that cannot be estimated: fewer
    than 2 variants with a Sharpe ratio) or, when some variants have none,
    from how many of the ``N`` trials the variance was estimated
    (:func:`cvn_sklearn.ranking.rank_variants`); missing when there is
    nothing to say.
    """
    from cvn_sklearn.ranking import rank_variants

    names = list(pooled["net"].columns)
    n_trials = len(config.variants)
    failed = cells.assign(failed=cells["status"] != "ok").groupby("variant")["failed"].sum()
    no_edge = cells.get("no_edge", pd.Series(False, index=cells.index)).fillna(False).astype(bool)
    no_edge = cells.assign(no_edge=no_edge).groupby("variant")["no_edge"].sum()
    table, pbo = pd.DataFrame(index=pd.Index([], name="variant")), float("nan")
    notes = pd.Series(dtype=object)
    if complete:
        values = pooled["net"][complete].dropna(how="all")
        n_periods = len(values)
        partitions = min(16, n_periods // 2 - (n_periods // 2) % 2) if len(complete) > 1 else None
        ranked = rank_variants(values, periods_per_year=periods_per_year, n_trials=n_trials,
                               n_partitions=partitions if partitions and partitions >= 2 else None)
        gross = rank_variants(pooled["gross"][complete].dropna(how="all"), periods_per_year=periods_per_year,
                              n_trials=n_trials, n_partitions=None).table
        table = ranked.table.rename(columns={"sharpe": "sharpe_ann", "sortino": "sortino_ann", "n_periods": "T"})
        notes = table["dsr_note"]
        table["sharpe_ann_gross"] = gross["sharpe"].reindex(table.index)
        table["sortino_ann_gross"] = gross["sortino"].reindex(table.index)
        table = table[["sharpe_ann", "sharpe_ann_gross", "sortino_ann", "sortino_ann_gross", "max_drawdown", "psr",
                       "dsr", "T"]]
        pbo = float("nan") if ranked.pbo is None else ranked.pbo.pbo
    table = table.reindex([*table.index, *[n for n in names if n not in table.index]])
    table.index.name = "variant"
    table.insert(0, "trades", trades.reindex(table.index).fillna(0).astype(int))
    table.insert(1, "win_rate", (wins / trades.replace(0, np.nan)).reindex(table.index))
    if "T" in table:
        table["T"] = table["T"].astype("Int64")
    table["no_edge_cells"] = no_edge.reindex(table.index).fillna(0).astype(int)
    table["failed_cells"] = failed.reindex(table.index).fillna(0).astype(int)
    table["dsr_note"] = pd.Series([
        notes.get(name) if name in complete
        else f"not ranked: {table.loc[name, 'failed_cells']} failed cell(s) (a trial: counted in N = {n_trials})"
        for name in table.index
    ], index=table.index, dtype="str")
    return table, pbo
