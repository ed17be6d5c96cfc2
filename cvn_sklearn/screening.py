"""The screening sweep's contracts: its config, its cells, the store that keeps them, and its result.

A sweep runs every variant (a registry model or ensemble with parameters and
a display name) on every symbol's every walk-forward fold; one such run is a
*cell*. :class:`ScreenConfig` declares the sweep (validated up front with
pydantic), :class:`CellStore` keeps each finished cell on disk as soon as it
finishes (so a killed sweep resumes without redoing it), and
:class:`ScreenResult` is what :func:`cvn_sklearn.harness.screen` returns.
The engine is :mod:`cvn_sklearn.dags.screen`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Literal, NamedTuple, Optional

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from cvn_sklearn.cost import fit_cost
from cvn_sklearn.model_selection import Fold
from cvn_sklearn.registry import registry

__all__ = [
    "CellStore",
    "FoldSettings",
    "LabelSettings",
    "Plan",
    "ScreenConfig",
    "ScreenResult",
    "SymbolData",
    "Variant",
]

_THREAD_PARAMETERS = ("n_jobs", "thread_count")
_LIBRARIES = ("cvn_sklearn", "numpy", "scikit-learn", "xgboost", "lightgbm", "catboost")


class Variant(BaseModel):
    """One variant of the sweep: a registry entry, its parameters, and the name it is ranked under.

    Examples
    --------
    >>> Variant(name="lightgbm_depth3", model="lightgbm", params={"max_depth": 3}).model
    'lightgbm'
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, description="Display name, unique in the sweep (e.g. 'lightgbm_depth3').")
    model: str = Field(min_length=1, description="A registry name: a model or an ensemble.")
    params: dict[str, Any] = Field(default_factory=dict, description="Constructor parameters, by native name.")

    @field_validator("model")
    @classmethod
    def _registered(cls, model: str) -> str:
        if model not in registry:
            try:
                registry.entry(model)
            except KeyError as exc:  # the registry's message: close matches and the known names
                raise ValueError(exc.args[0]) from None
        return model


class FoldSettings(BaseModel):
    """Walk-forward folds of every symbol (:class:`~cvn_sklearn.model_selection.WalkForwardSplit`) and their val rows."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    n_splits: int = Field(default=4, ge=1, description="Test blocks per symbol.")
    test_size: int | None = Field(default=None, ge=1, description="Rows per test block (default: n // (n_splits + 1)).")
    gap: int = Field(default=0, ge=0, description="Rows purged before each test block and before each val block.")
    embargo: int = Field(default=0, ge=0, description="Rows dropped after each earlier test block.")
    max_train_size: int | None = Field(default=None, ge=1, description="Rolling window length (default: expanding).")
    val_size: float = Field(default=0.2, gt=0, lt=1, description="Share of each training window for calibration and θ.")


class LabelSettings(BaseModel):
    """How each symbol's rows are labelled when the sweep loads them (:func:`cvn_sklearn.datasets.labelled_dataset`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["triple_barrier", "forward_return"] = Field(default="triple_barrier", description="The label.")
    cusum: float | None = Field(default=None, gt=0, description="CUSUM event threshold in volatilities; null: every bar.")
    pt_sl: tuple[float, float] = Field(default=(1.0, 1.0), description="Profit-taking and stop-loss multiples.")
    max_holding: int = Field(default=10, ge=1, description="Bars to the vertical barrier.")
    vol_span: int = Field(default=50, ge=2, description="Span of the volatility estimate (bars).")
    vertical: Literal["zero", "sign"] = Field(default="zero", description="Label when the vertical barrier comes first.")
    horizon: int = Field(default=5, ge=1, description="Bars of the forward-return label.")
    k: float = Field(default=0.5, gt=0, description="Volatility multiple of the forward-return label.")


class ScreenConfig(BaseModel):
    """What a screening sweep runs, and where it keeps what it finds.

    Examples
    --------
    >>> config = ScreenConfig(variants=[{"name": "logreg", "model": "logreg"}], symbols=["sp500"])
    >>> config.folds.n_splits, config.executor, config.calibration
    (4, 'local', 'isotonic')
    >>> ScreenConfig(variants=[{"name": "x", "model": "lightgbn"}], symbols=["sp500"])
    Traceback (most recent call last):
    ...
    pydantic_core._pydantic_core.ValidationError: 1 validation error for ScreenConfig
    ...
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    variants: list[Variant] = Field(min_length=1, description="The variants to rank.")
    symbols: list[str] = Field(min_length=1, description="Symbols (keys of the data given to screen()).")
    folds: FoldSettings = Field(default_factory=FoldSettings)
    label: LabelSettings = Field(default_factory=LabelSettings, description="Labels of the shipped prices.")
    calibration: str | None = Field(default="isotonic", description="Calibration method; null keeps raw probabilities.")
    objective: str | None = Field(default="f1", description="What θ maximises; null uses θ = 0.5.")
    constraints: dict[str, Any] = Field(default_factory=dict, description="θ constraints (min_positives, ...).")
    pos_label: Any = Field(default=None, description="The buy label (required for labels other than 0/1, -1/1, bool).")
    executor: Literal["local", "dask"] = Field(default="local", description="Where the cells run.")
    scheduler: str | None = Field(default=None, description="tcp://host:port of a running Dask scheduler.")
    n_workers: int = Field(default=2, ge=1, description="Workers of the LocalCluster started for executor='dask'.")
    folder: Path = Field(default=Path("screen"), description="The sweep's folder: cell store, OOS store, results.")
    mlflow: bool = Field(default=True, description="Log a parent run and a child run per cell.")
    tracking_uri: str | None = Field(default=None, description="MLflow store (default: sqlite:///mlflow.db here).")
    experiment: str = Field(default="cvn-sklearn-screen", min_length=1, description="MLflow experiment.")
    retry_failed: bool = Field(default=False, description="Run the cells that failed before again.")

    @field_validator("variants")
    @classmethod
    def _unique_names(cls, variants: list[Variant]) -> list[Variant]:
        names = [variant.name for variant in variants]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"variant names must be unique; repeated: {repeated}. Give each variant its own name.")
        return variants

    @field_validator("symbols")
    @classmethod
    def _unique_symbols(cls, symbols: list[str]) -> list[str]:
        if len(set(symbols)) != len(symbols):
            raise ValueError(f"symbols must be unique, got {symbols}.")
        return symbols

    @model_validator(mode="after")
    def _options(self) -> ScreenConfig:
        from cvn_sklearn.threshold import THETA_CONSTRAINTS

        unknown = sorted(set(self.constraints) - set(THETA_CONSTRAINTS))
        if unknown:
            raise ValueError(f"constraints: unknown {unknown}; the known ones are {list(THETA_CONSTRAINTS)}.")
        if self.scheduler is not None and self.executor != "dask":
            raise ValueError("scheduler is set but executor is 'local'; set executor: dask to use it.")
        return self

    def training_options(self) -> dict:
        """The options every cell's training shares (part of each cell's key)."""
        return {
            "calibration": self.calibration,
            "objective": self.objective,
            "constraints": dict(self.constraints),
            "pos_label": self.pos_label,
            "val_size": self.folds.val_size,
            "gap": self.folds.gap,
        }


class SymbolData(NamedTuple):
    """One symbol's rows in time order: features, labels, per-row trade returns, label end times.

    ``cusum_metadata`` (the CUSUM filter's scalars, when the rows are CUSUM
    events) reaches every cell's ``TrainedArtifact.cusum_metadata``.
    """

    X: Any
    y: Any
    returns: Any
    t1: Any = None
    periods_per_year: float = 252.0
    cusum_metadata: Any = None


class Cell(NamedTuple):
    """One cell: a variant on one symbol's one fold, and the key it is stored under.

    ``data`` is the symbol's :class:`SymbolData`, attached by the sweep's
    fan-out only, so each cell's task carries its own symbol's rows and no
    other symbol's.
    """

    key: str
    variant: Variant
    symbol: str
    fold: Fold
    data: Optional[SymbolData] = None

    def __repr__(self) -> str:
        # short: Hamilton formats the fanned-out items into a log message whether or not it is logged
        return f"Cell({self.variant.name!r}, {self.symbol!r}, fold={self.fold.index}, key={self.key[:12]!r})"


def fingerprint(data: SymbolData) -> str:
    """SHA-256 of a symbol's rows (features, labels, returns, label end times, index)."""
    digest = hashlib.sha256()
    for part in (data.X, data.y, data.returns, data.t1):  # cusum_metadata describes X; it adds nothing
        if part is None:
            digest.update(b"none")
            continue
        frame = part if isinstance(part, (pd.DataFrame, pd.Series)) else pd.DataFrame(np.asarray(part))
        digest.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
        digest.update(repr(list(frame.columns) if isinstance(frame, pd.DataFrame) else frame.name).encode())
    return digest.hexdigest()


def cell_key(data_fingerprint: str, variant: Variant, fold: Fold, options: dict, code_version: str) -> str:
    """The key of a cell: data, variant parameters, the fold's rows, training options, library and code versions."""
    rows = hashlib.sha256(b"".join(np.asarray(part, dtype=np.int64).tobytes() + b"|" for part in fold[1:]))
    payload = {
        "data": data_fingerprint,
        "model": variant.model,
        "params": variant.params,
        "fold": rows.hexdigest(),
        "options": options,
        "libraries": library_versions(),
        "code": code_version,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=repr).encode()).hexdigest()[:32]


@functools.cache
def library_versions() -> dict[str, str]:
    """Versions of cvn_sklearn and the libraries a cell's result depends on (read once per process)."""
    found = {}
    for name in _LIBRARIES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    return found


class BaseJob(NamedTuple):
    """One base model of the stackers, on one symbol's one fold (``data``: as :class:`Cell`'s)."""

    symbol: str
    rows: np.ndarray
    estimator: Any
    cv: Any
    cache: str
    data: Optional[SymbolData] = None

    def __repr__(self) -> str:
        return f"BaseJob({self.estimator!r}, {self.symbol!r}, rows={len(self.rows)})"


def single_threaded(model_name: str, params: dict, oos_folder: str) -> dict:
    """``params`` with every fit pinned to one thread; a stacker's base models too, and its ``cache`` the OOS store.

    Oversubscribed OpenMP (several cells' boosters each taking every core) made
    one XGBoost fit 35x slower; so the models' own thread parameters are set to
    1 unless the variant sets them.
    """
    entry = registry.entry(model_name)
    cls = registry[model_name]
    params = dict(params)
    if entry.kind == "ensemble":
        bases = params.get("base_models") or list(cls._cvn_base_models)
        params["base_models"] = [_pinned_base(base) for base in bases]
        params.setdefault("cache", oos_folder)
        return params
    for name in _THREAD_PARAMETERS:
        if name in cls().get_params() and name not in params:
            params[name] = 1
    return params


def _pinned_base(base):
    """A stacker's base model as ``(name, one-threaded estimator)``."""
    if isinstance(base, str):
        return base, registry[base](**single_threaded(base, {}, ""))
    return base


def estimated_cost(cell: Cell, n_features: int) -> float:
    """A rough estimate of a cell's work: its model's ``fit_cost`` on the cell's fit rows (0 if it cannot be told).

    The sweep submits its cells costliest first (longest-processing-time-first
    scheduling): with cells of unequal length, the long ones then do not end
    up last on one worker while the others sit idle. It orders work only. A
    model without ``fit_cost`` (an ensemble, whose base models the sweep fits
    beforehand) counts one pass over the rows.
    """
    try:
        return fit_cost(registry[cell.variant.model](**cell.variant.params), len(cell.fold.fit), n_features)
    except Exception:  # noqa: BLE001 - a variant whose parameters break the estimate fails in its cell, with its error
        return 0.0


def stacker_base_jobs(cell: Cell, oos_folder: str) -> list[BaseJob]:
    """The base-model jobs a stacker cell needs: one per base model, on the cell's fit rows."""
    params = single_threaded(cell.variant.model, cell.variant.params, oos_folder)
    stacker = registry[cell.variant.model](**params)
    return [
        BaseJob(cell.symbol, cell.fold.fit, estimator, stacker.cv, oos_folder)
        for _, estimator in params["base_models"]
    ]


_SCALARS = "scalars"
_ARRAYS = ("index", "signal", "returns")


class CellStore:
    """Finished cells on disk, one file per cell, written atomically as each cell finishes.

    A cell file is ``<folder>/cells/<key>.npz``: its scalar fields as JSON and
    the test block's index, buy signal and trade returns as arrays, read back
    with ``allow_pickle=False`` (nothing in the store decides which code runs).
    Several processes (Dask workers) may write to one store; a file appears
    whole or not at all.

    Parameters
    ----------
    folder : str or Path
        The sweep's folder.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     store = CellStore(folder)
    ...     store.put({"key": "abc", "status": "ok"}, index=[0, 1], signal=[1, 0], returns=[0.01, -0.02])
    ...     record, arrays = store.get("abc")
    >>> record["status"], arrays["signal"].tolist()
    ('ok', [1, 0])
    """

    def __init__(self, folder):
        self.folder = Path(folder, "cells")

    def put(self, record: dict, *, index, signal, returns) -> None:
        """Write one cell: ``record`` (JSON-able scalars, with ``"key"``) and its test-block arrays."""
        self.folder.mkdir(parents=True, exist_ok=True)
        arrays = {
            _SCALARS: np.array(json.dumps(record, default=_plain)),
            "index": np.asarray(index, dtype=np.int64),
            "signal": np.asarray(signal, dtype=np.int8),
            "returns": np.asarray(returns, dtype=np.float64),
        }
        handle, temporary = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as file:
                np.savez(file, **arrays)
            os.replace(temporary, self._path(record["key"]))
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def get(self, key: str):
        """``(record, arrays)`` of a stored cell, or ``None``."""
        path = self._path(key)
        if not path.is_file():
            return None
        with np.load(path, allow_pickle=False) as stored:
            return json.loads(str(stored[_SCALARS])), {name: stored[name] for name in _ARRAYS}

    def keys(self) -> set[str]:
        """Keys of every stored cell."""
        return {path.stem for path in self.folder.glob("*.npz")} if self.folder.is_dir() else set()

    def _path(self, key: str) -> Path:
        return self.folder / f"{key}.npz"


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    return repr(value)


@dataclass(frozen=True)
class ScreenResult:
    """What :func:`cvn_sklearn.harness.screen` returns (also written to the sweep's folder).

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


class Plan(NamedTuple):
    """What a sweep runs: every cell, the ones read back from the store, the ones to compute, the base-model jobs."""

    cells: list
    cached: list
    todo: list
    base_jobs: list
    data: dict
    store: CellStore
    oos_folder: Path
    n_folds: int


def plan_cells(config: ScreenConfig, data) -> Plan:
    """The cells of ``config`` on ``data``, split into stored ones and ones still to compute.

    Raises
    ------
    ValueError
        Naming the symbol (and the config key) for a missing symbol, misaligned
        rows, an unknown buy label, or too few rows for the folds.
    """
    import cvn_sklearn
    from cvn_sklearn._rows import check_aligned
    from cvn_sklearn.contracts import code_commit
    from cvn_sklearn.metrics import buy_label
    from cvn_sklearn.model_selection import WalkForwardSplit, walk_forward_folds

    data = _symbol_data(config, data)
    options, code = config.training_options(), f"{cvn_sklearn.__version__}:{code_commit()}"
    settings = config.folds
    splitter = WalkForwardSplit(settings.n_splits, test_size=settings.test_size, max_train_size=settings.max_train_size,
                                gap=settings.gap, embargo=settings.embargo)
    cells, n_folds = [], 0
    for symbol in config.symbols:
        rows = data[symbol]
        try:
            check_aligned(f"symbol {symbol!r}", rows.X, y=rows.y, returns=rows.returns, t1=rows.t1)
            buy_label(np.unique(np.asarray(rows.y)), config.pos_label)
            folds = walk_forward_folds(splitter, rows.X, rows.y, t1=rows.t1, val_size=settings.val_size, gap=settings.gap)
        except ValueError as exc:
            raise ValueError(f"symbols: {symbol!r}: {exc} (config keys: folds, pos_label)") from None
        n_folds = max(n_folds, len(folds))
        key = fingerprint(rows)
        cells += [Cell(cell_key(key, v, fold, options, code), v, symbol, fold) for fold in folds for v in config.variants]
    store = CellStore(config.folder)
    stored = store.keys()
    cached = [cell for cell in cells if cell.key in stored and not (config.retry_failed and _failed(store, cell))]
    done = {cell.key for cell in cached}
    todo = [cell for cell in cells if cell.key not in done]
    todo.sort(key=lambda cell: -estimated_cost(cell, np.shape(data[cell.symbol].X)[1]))  # costliest first, else in order
    oos_folder = Path(config.folder, "oos").resolve()
    jobs = {}
    for cell in todo:
        if registry.entry(cell.variant.model).kind == "ensemble":
            for job in stacker_base_jobs(cell, str(oos_folder)):
                jobs.setdefault((cell.symbol, cell.fold.index, repr(job.estimator)), job)
    return Plan(cells, cached, todo, list(jobs.values()), data, store, oos_folder, n_folds)


def _failed(store: CellStore, cell: Cell) -> bool:
    return store.get(cell.key)[0]["status"] != "ok"


def _symbol_data(config: ScreenConfig, data) -> dict:
    """Each symbol's :class:`SymbolData`: given, or the shipped prices labelled as ``config.label`` says."""
    if data is None:
        from cvn_sklearn.datasets import labelled_dataset, periods_per_year

        data, label = {}, config.label
        for symbol in config.symbols:
            try:
                rows = labelled_dataset(symbol, label=label.kind, cusum=label.cusum, pt_sl=label.pt_sl,
                                        vol_span=label.vol_span, max_holding=label.max_holding,
                                        vertical=label.vertical, horizon=label.horizon, k=label.k)
            except ValueError as exc:
                raise ValueError(f"symbols: {symbol!r}: {exc} (config keys: symbols, label)") from None
            data[symbol] = SymbolData(rows.X, rows.y, rows.returns, rows.t1, periods_per_year(symbol), rows.cusum_metadata)
    missing = [symbol for symbol in config.symbols if symbol not in data]
    if missing:
        raise ValueError(f"symbols: no data for {missing}; the data given holds {sorted(data)}. Add them or drop them.")
    return {symbol: SymbolData(*data[symbol]) for symbol in config.symbols}


def screen_result(config: ScreenConfig, plan: Plan) -> ScreenResult:
    """Read every cell of ``plan`` back from the store; build, write and return the sweep's tables.

    When every cell came from the store and the folder holds the tables of
    exactly these cells (``tables.json``), the tables are read back instead.
    """
    folder = Path(config.folder)
    tables_key = hashlib.sha256(json.dumps([[c.key, c.variant.name] for c in plan.cells]).encode()).hexdigest()
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
