"""The sweep's result: one row per cell, the per-variant table, the ranking and the PBO, read from the cell store.

:func:`screen_result` builds them from the stored cells, writes them to the
sweep's folder (Parquet and CSV), and reads them back when a finished sweep is
run again. The ranking corrects for the number of variants tried
(:mod:`cvn_sklearn.ranking`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cvn_sklearn._disk import fingerprint
from cvn_sklearn.sweep.config import ScreenConfig
from cvn_sklearn.sweep.plan import Plan

__all__ = ["ScreenResult", "screen_result"]


@dataclass(frozen=True)
class ScreenResult:
    """What :func:`cvn_sklearn.sweep.run.screen` returns (also written to the sweep's folder).

    Attributes
    ----------
    cells : DataFrame
        One row per cell: variant, model, symbol, fold, status, error_type,
        error, cached, seconds, threshold, the test metrics, the trading
        metrics, and the rows of each stage.
    by_variant : DataFrame
        Per variant and fold (and ``fold == "all"``): average trades, average,
        min and max Sortino, average win rate, over symbols; failed cells counted.
    ranking : DataFrame
        Per variant, best first: pooled out-of-sample Sharpe and Sortino,
        trades, win rate, the probabilistic and the deflated Sharpe ratio (N =
        the number of variants), failed cells.
    pbo : float
        Probability of backtest overfitting of the sweep (CSCV over the
        variants' per-period out-of-sample returns); NaN when it cannot be
        computed (fewer than 2 variants, or too few periods).
    returns : DataFrame
        Per-period out-of-sample strategy returns (signal x trade return) of
        each variant, indexed by (symbol, fold, row): what the equity curves,
        the ranking and the PBO are computed from.
    folder : Path
        The sweep's folder (``cells.parquet``/``.csv``, ``by_variant``,
        ``ranking``, ``returns.parquet``, the cell store).
    parent_run_id : str or None
        The sweep's MLflow parent run, when logged.
    """

    cells: pd.DataFrame
    by_variant: pd.DataFrame
    ranking: pd.DataFrame
    pbo: float
    returns: pd.DataFrame
    folder: Path
    parent_run_id: str | None = None


def screen_result(config: ScreenConfig, plan: Plan) -> ScreenResult:
    """Read every cell of ``plan`` back from the store; build, write and return the sweep's tables.

    When every cell came from the store and the folder holds the tables of
    exactly these cells (``tables.json``), the tables are read back instead.
    """
    folder = Path(config.folder)
    tables_key = fingerprint([[c.key, c.variant.name] for c in plan.cells])
    marker = folder / "tables.json"
    if not plan.todo and marker.is_file() and json.loads(marker.read_text()).get("key") == tables_key:
        return _read_tables(folder, {cell.key for cell in plan.cached})
    cached = {cell.key for cell in plan.cached}
    records, parts = [], []
    for cell in plan.cells:
        record, arrays = plan.store.get(cell.key)
        records.append({**record, "cached": cell.key in cached})
        strategy = np.where(arrays["signal"] == 1, arrays["returns"], 0.0) if record["status"] == "ok" else np.nan
        parts.append((cell, arrays, strategy))
    long = pd.DataFrame({
        "symbol": np.concatenate([[c.symbol] * len(a["index"]) for c, a, _ in parts]),
        "fold": np.concatenate([np.full(len(a["index"]), c.fold.index) for c, a, _ in parts]),
        "row": np.concatenate([a["index"] for _, a, _ in parts]),
        "variant": np.concatenate([[c.variant.name] * len(a["index"]) for c, a, _ in parts]),
        "return": np.concatenate([np.broadcast_to(r, len(a["index"])) for _, a, r in parts]),
        "trade": np.concatenate([a["signal"] for _, a, _ in parts]),
        "win": np.concatenate([(a["signal"] == 1) & (a["returns"] > 0) for _, a, _ in parts]),
    })
    cells = pd.DataFrame(records)
    returns = long.set_index(["symbol", "fold", "row", "variant"])["return"].unstack("variant")
    returns = returns.reindex(columns=[v.name for v in config.variants]).sort_index()
    returns.columns.name = "variant"
    by_variant = _by_variant(cells)
    per_year = {plan.data[symbol].periods_per_year for symbol in config.symbols}
    ranking, pbo = _ranking(cells, long, returns, per_year.pop() if len(per_year) == 1 else 1.0, config)
    folder.mkdir(parents=True, exist_ok=True)
    for name, table in (("cells", cells), ("by_variant", by_variant), ("ranking", ranking)):
        table.to_parquet(folder / f"{name}.parquet")
        table.to_csv(folder / f"{name}.csv", index=name == "ranking")
    returns.to_parquet(folder / "returns.parquet")
    marker.write_text(json.dumps({"key": tables_key, "pbo": pbo}))
    return ScreenResult(cells, by_variant, ranking, pbo, returns, folder)


def _read_tables(folder: Path, cached: set) -> ScreenResult:
    """The tables a finished sweep wrote, every cell now marked cached."""
    cells = pd.read_parquet(folder / "cells.parquet")
    cells["cached"] = cells["key"].isin(cached)
    pbo = json.loads((folder / "tables.json").read_text())["pbo"]
    return ScreenResult(cells, pd.read_parquet(folder / "by_variant.parquet"), pd.read_parquet(folder / "ranking.parquet"),
                        float("nan") if pbo is None else float(pbo), pd.read_parquet(folder / "returns.parquet"), folder)


def _by_variant(cells: pd.DataFrame) -> pd.DataFrame:
    """The original runner's table: per variant and fold (and overall), trades, Sortino, win rate, failures."""
    frame = cells.assign(failed=cells["status"] != "ok")
    for column in ("n_trades", "sortino", "win_rate"):
        if column not in frame:
            frame[column] = np.nan
    frame.loc[frame["failed"], ["n_trades", "sortino", "win_rate"]] = np.nan  # failed cells: counted, not averaged

    def table(keys):
        stats = frame.groupby(keys, sort=True)[["n_trades", "sortino", "win_rate", "failed"]].agg(["mean", "min", "max", "sum"])
        return pd.DataFrame({
            "avg_trades": stats[("n_trades", "mean")], "avg_sortino": stats[("sortino", "mean")],
            "min_sortino": stats[("sortino", "min")], "max_sortino": stats[("sortino", "max")],
            "avg_win_rate": stats[("win_rate", "mean")], "failed_cells": stats[("failed", "sum")].astype(int),
        }).reset_index()

    per_fold = table(["variant", "fold"]).astype({"fold": str})
    overall = table(["variant"]).assign(fold="all")
    return pd.concat([per_fold, overall], ignore_index=True)[["variant", "fold", *per_fold.columns[2:]]]


def _ranking(cells, long, returns, periods_per_year, config) -> tuple[pd.DataFrame, float]:
    """Per variant: pooled OOS Sharpe, Sortino, PSR, DSR (N = variants), trades, win rate, failures; and the PBO."""
    from cvn_sklearn.ranking import rank_variants

    failed = cells.assign(failed=cells["status"] != "ok").groupby("variant")["failed"].sum()
    trades = long.groupby("variant")["trade"].sum()
    wins = long.groupby("variant")["win"].sum()
    complete = [name for name in returns.columns if failed.get(name, 0) == 0]
    table, pbo = pd.DataFrame(index=pd.Index([], name="variant")), float("nan")
    if complete:
        values = returns[complete]
        n_periods = len(values)
        partitions = min(16, n_periods // 2 - (n_periods // 2) % 2) if len(complete) > 1 else None
        ranked = rank_variants(values, periods_per_year=periods_per_year, n_trials=len(config.variants),
                               n_partitions=partitions if partitions and partitions >= 2 else None)
        table = ranked.table[["sharpe", "sortino", "psr", "dsr", "max_drawdown"]]
        pbo = float("nan") if ranked.pbo is None else ranked.pbo.pbo
    table = table.reindex([*table.index, *[n for n in returns.columns if n not in table.index]])
    table.index.name = "variant"
    table.insert(0, "trades", trades.reindex(table.index).fillna(0).astype(int))
    table.insert(1, "win_rate", (wins / trades.replace(0, np.nan)).reindex(table.index))
    table["failed_cells"] = failed.reindex(table.index).fillna(0).astype(int)
    return table, pbo
