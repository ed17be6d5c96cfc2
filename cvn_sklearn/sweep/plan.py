"""The sweep's plan: its cells (variant x symbol x fold), their keys, and which still need computing.

A *cell* is one variant on one symbol's one walk-forward fold. Its key hashes
everything its result depends on and everything its record shows (the
symbol's name, rows and bars per year, the variant's name, model and
parameters, the fold's position and rows, the training options and the
symbol's cost, library and code versions), so a cell found in the
:class:`~cvn_sklearn.sweep.store.CellStore` under its key, and verified there,
is read back, not recomputed. The cells to compute are
submitted costliest first; a stacker's base models become jobs of their own,
run once per (symbol, fold).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple, Optional

import numpy as np
import pandas as pd

from cvn_sklearn._disk import content_key, fingerprint as _fingerprint, library_versions as _versions, plain
from cvn_sklearn.cost import fit_cost
from cvn_sklearn.model_selection import Fold
from cvn_sklearn.registry import registry
from cvn_sklearn.sweep.config import ScreenConfig, Variant
from cvn_sklearn.sweep.store import CellStore
from cvn_sklearn.threads import pinned_params

__all__ = ["BaseJob", "Cell", "Plan", "SymbolData", "cell_key", "check_plan_inputs", "fingerprint", "plan_cells"]

_LIBRARIES = ("cvn_sklearn", "numpy", "scikit-learn", "xgboost", "lightgbm", "catboost")


class SymbolData(NamedTuple):
    """One symbol's rows in time order: features, labels, per-row trade returns, label end times.

    ``cusum_metadata`` (the CUSUM filter's scalars, when the rows are CUSUM
    events) reaches every cell's ``TrainedArtifact.cusum_metadata``.
    ``close``: the symbol's close prices on its bar calendar (a Series indexed
    by bar time, holding every row's time and ``t1``); with them the trades
    are marked to market bar by bar, without them each trade's return is
    realised on its exit bar, on the calendar of the rows' times and ``t1``
    (:func:`cvn_sklearn.trading.positions`). A trade is entered at its row's
    time: the row index of ``X`` (its row number for arrays).
    """

    X: Any
    y: Any
    returns: Any
    t1: Any = None
    periods_per_year: float = 252.0
    cusum_metadata: Any = None
    close: Any = None

    def times(self):
        """Each row's bar time: the index of ``X`` (a DataFrame or Series), else its row number."""
        return self.X.index if isinstance(self.X, (pd.DataFrame, pd.Series)) else pd.RangeIndex(len(self.X))


class Cell(NamedTuple):
    """One cell: a variant on one symbol's one fold, and the key it is stored under.

    ``data`` is the symbol's :class:`SymbolData`, attached by the sweep's
    fan-out only, so each cell's task carries its own symbol's rows and no
    other symbol's. ``started`` is when the cell's first node started
    (``perf_counter``, set in the cell's task; its ``seconds`` run from it).
    """

    key: str
    variant: Variant
    symbol: str
    fold: Fold
    cost: float = 0.0
    data: Optional[SymbolData] = None
    started: Optional[float] = None

    def __repr__(self) -> str:
        # short: Hamilton formats the fanned-out items into a log message whether or not it is logged
        return f"Cell({self.variant.name!r}, {self.symbol!r}, fold={self.fold.index}, key={self.key[:12]!r})"


def fingerprint(data: SymbolData) -> str:
    """The content fingerprint of a symbol's rows (features, labels, returns, label end times, index, prices)."""
    prices = () if data.close is None else (data.close,)
    return _fingerprint(data.X, data.y, data.returns, data.t1, *prices)  # cusum_metadata describes X; it adds nothing


def cell_key(data_fingerprint: str, variant: Variant, fold: Fold, options: dict, code_version: str, *,
             symbol: str) -> str:
    """The key of a cell: everything its result depends on, and what its record shows.

    The symbol's name and data fingerprint, the variant's name, model and
    parameters, the fold's position and rows, the training options (with the
    symbol's cost and bars per year: ``options``), library and code versions.
    Names are part of it: two variants with the same model and parameters but
    different names are two cells, each shown under its own name.
    """
    return _cell_key(_symbol_part(data_fingerprint, symbol, options, code_version), _variant_part(variant),
                     _fold_part(fold))


def _symbol_part(data_fingerprint: str, symbol: str, options: dict, code_version: str) -> str:
    """The fingerprint of what every cell of a symbol shares in its key (computed once per symbol)."""
    return _fingerprint({"data": data_fingerprint, "symbol": symbol, "options": options,
                           "libraries": library_versions(), "code": code_version})


def _fold_part(fold: Fold) -> str:
    """The fingerprint of a fold's position and rows (computed once per fold, not once per variant)."""
    return _fingerprint([fold.index, *(np.asarray(part, dtype=np.int64) for part in fold[1:])])


def _variant_part(variant: Variant) -> str:
    """The fingerprint of a variant's name, model and parameters (computed once per variant, not once per cell)."""
    return _fingerprint({"variant": variant.name, "model": variant.model, "params": variant.params})


def _cell_key(symbol_part: str, variant_part: str, fold_part: str) -> str:
    """:func:`cell_key` from its symbol's, its variant's and its fold's parts."""
    return content_key({"symbol": symbol_part, "variant": variant_part, "fold": fold_part})


def key_options(config: ScreenConfig) -> dict:
    """The config's part of every cell's key: its training options, ``break_even`` only when ``sizing`` reads it.

    Binary sizing never reads ``break_even``, so it changes no cell; where the
    sweep runs and logs (executor, scheduler, workers, folder, MLflow) and
    ``retry_failed`` change none either and are not part of it. Each cell adds
    its symbol's cost and bars per year (:func:`plan_cells`).
    """
    options = config.training_options()
    if config.sizing != "probability":
        options.pop("break_even", None)
    return options


def library_versions() -> dict:
    """Versions of cvn_sklearn and the libraries a cell's result depends on (read once per process)."""
    return _versions(_LIBRARIES)


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
    """``params`` with every fit on one thread (:func:`~cvn_sklearn.threads.pinned_params`); a stacker's ``cache`` the OOS store."""
    params = pinned_params(model_name, params, 1)
    if registry.entry(model_name).kind == "ensemble":
        params.setdefault("cache", oos_folder)
    return params


def estimated_cost(cell: Cell, n_features: int) -> float:
    """A rough estimate of a cell's work: its model's declared ``fit_cost`` (:func:`cvn_sklearn.cost.fit_cost`) on the cell's fit rows (0 if it cannot be told).

    The sweep submits its cells costliest first (longest-processing-time-first
    scheduling): with cells of unequal length, the long ones then do not end
    up last on one worker while the others sit idle. It orders work only. A
    model without ``fit_cost`` (an ensemble, whose base models the sweep fits
    beforehand) counts one pass over the rows. ``estimated_costs`` does
    the same for many cells, reading each variant's parameters once.
    """
    return estimated_costs([cell], {cell.symbol: n_features})[cell.key]


def estimated_costs(cells: list, n_features: dict) -> dict[str, float]:
    """``estimated_cost`` of each cell, by key; ``n_features`` maps each symbol to its number of features.

    Each variant's estimator is built and its parameters read once, not once
    per cell (about 0.1 ms each: a second at 10,000 cells).
    """
    variants, costs = {}, {}
    for cell in cells:
        variant = cell.variant
        if id(variant) not in variants:  # the variants outlive this call: their ids stay theirs
            try:
                estimator = registry[variant.model](**variant.params)
                variants[id(variant)] = estimator, estimator.get_params(deep=False)
            except Exception:  # noqa: BLE001 - a variant whose parameters break the estimate fails in its cell
                variants[id(variant)] = None
        try:
            estimator, params = variants[id(variant)]
            costs[cell.key] = fit_cost(estimator, len(cell.fold.fit), n_features[cell.symbol], params=params)
        except Exception:  # noqa: BLE001 - as above; also a declaration naming a parameter the model lacks
            costs[cell.key] = 0.0
    return costs


def stacker_base_jobs(cell: Cell, oos_folder: str) -> list[BaseJob]:
    """The base-model jobs a stacker cell needs: one per base model, on the cell's fit rows."""
    params = single_threaded(cell.variant.model, cell.variant.params, oos_folder)
    stacker = registry[cell.variant.model](**params)
    return [
        BaseJob(cell.symbol, cell.fold.fit, estimator, stacker.cv, oos_folder)
        for _, estimator in params["base_models"]
    ]



class Plan(NamedTuple):
    """What a sweep runs: every cell, the ones read back from the store, the ones to compute, the base-model jobs.

    ``stored`` maps the key of each cached cell to its verified ``(record,
    arrays)``, read once by :func:`plan_cells` (the tables are built from them);
    ``costs`` the key of each cell to compute to its estimated cost (``estimated_cost``).
    """

    cells: list
    cached: list
    todo: list
    base_jobs: list
    data: dict
    store: CellStore
    oos_folder: Path
    n_folds: int
    stored: dict
    costs: dict


def plan_cells(config: ScreenConfig, data, resolved: dict | None = None) -> Plan:
    """The cells of ``config`` on ``data``, split into stored ones and ones still to compute.

    ``resolved`` maps a symbol to the ``(buy label, folds)`` that
    :func:`check_plan_inputs` derived from the same rows (not derived again).

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

    resolved = resolved or {}
    data = _symbol_data(config, data)
    costs = {symbol: config.symbol_cost(symbol) for symbol in config.symbols}
    options, code = key_options(config), f"{cvn_sklearn.__version__}:{code_commit()}"
    settings = config.folds
    splitter = WalkForwardSplit(settings.n_splits, test_size=settings.test_size, max_train_size=settings.max_train_size,
                                gap=settings.gap, embargo=settings.embargo)
    cells, n_folds = [], 0
    variant_parts = [_variant_part(variant) for variant in config.variants]
    for symbol in config.symbols:
        rows = data[symbol]
        try:
            if symbol in resolved:  # checked by check_plan_inputs on these very rows: not derived twice
                buy, folds = resolved[symbol]
            else:
                check_aligned(f"symbol {symbol!r}", rows.X, y=rows.y, returns=rows.returns, t1=rows.t1)
                buy = buy_label(np.unique(np.asarray(rows.y)), config.pos_label)
                folds = walk_forward_folds(splitter, rows.X, rows.y, t1=rows.t1, val_size=settings.val_size,
                                           gap=settings.gap)
            buy = plain(buy)
        except ValueError as exc:
            raise ValueError(f"symbols: {symbol!r}: {exc} (config keys: folds, pos_label)") from None
        n_folds = max(n_folds, len(folds))
        key, cost = fingerprint(rows), costs[symbol]
        # the buy label as resolved (pos_label None or 1 on 0/1 labels: the same cells)
        symbol_options = {**options, "pos_label": buy, "cost": cost, "periods_per_year": float(rows.periods_per_year)}
        shared = _symbol_part(key, symbol, symbol_options, code)
        for fold in folds:
            part = _fold_part(fold)
            cells += [Cell(_cell_key(shared, variant_parts[i], part), v, symbol, fold, cost)
                      for i, v in enumerate(config.variants)]
    store = CellStore(config.folder)
    listed = store.keys()
    stored = {}
    for cell in cells:  # every cell read and verified once; a rejected one is reported and computed again
        found = store.get(cell.key) if cell.key in listed else None
        if found is not None and not (config.retry_failed and found[0]["status"] != "ok"):
            stored[cell.key] = found
    cached = [cell for cell in cells if cell.key in stored]
    done = {cell.key for cell in cached}
    todo = [cell for cell in cells if cell.key not in done]
    costs = estimated_costs(todo, {symbol: np.shape(rows.X)[1] for symbol, rows in data.items()})
    todo.sort(key=lambda cell: -costs[cell.key])  # costliest first, else in order
    oos_folder = Path(config.folder, "oos").resolve()
    jobs = {}
    for cell in todo:
        if registry.entry(cell.variant.model).kind == "ensemble":
            for job in stacker_base_jobs(cell, str(oos_folder)):
                jobs.setdefault((cell.symbol, cell.fold.index, repr(job.estimator)), job)
    return Plan(cells, cached, todo, list(jobs.values()), data, store, oos_folder, n_folds, stored, costs)


def _symbol_data(config: ScreenConfig, data) -> dict:
    """Each symbol's :class:`SymbolData`: given, or the shipped prices labelled as ``config.label`` says."""
    if data is None:
        data = {}
        for symbol in config.symbols:
            try:
                data[symbol] = _shipped_rows(config, symbol)
            except ValueError as exc:
                raise ValueError(f"symbols: {symbol!r}: {exc} (config keys: symbols, label)") from None
    missing = [symbol for symbol in config.symbols if symbol not in data]
    if missing:
        raise ValueError(f"symbols: no data for {missing}; the data given holds {sorted(data)}. Add them or drop them.")
    return {symbol: SymbolData(*data[symbol]) for symbol in config.symbols}


def _shipped_rows(config: ScreenConfig, symbol: str) -> SymbolData:
    """A shipped symbol's rows, labelled as ``config.label`` says, with its bars per year and close prices."""
    from cvn_sklearn.datasets import labelled_dataset, load_prices, periods_per_year

    label = config.label
    rows = labelled_dataset(symbol, label=label.kind, cusum=label.cusum, pt_sl=label.pt_sl, vol_span=label.vol_span,
                            max_holding=label.max_holding, vertical=label.vertical, horizon=label.horizon, k=label.k)
    return SymbolData(rows.X, rows.y, rows.returns, rows.t1, periods_per_year(symbol), rows.cusum_metadata,
                      load_prices(symbol)["close"])


def check_plan_inputs(config: ScreenConfig, data=None, skip=frozenset(), resolved=None) -> tuple[dict, list]:
    """Every problem of the sweep's symbols and their rows, found before any cell runs; and the rows it loaded.

    Checked, each problem a :class:`~cvn_sklearn.sweep.config.Problem` naming
    the config key to change: a symbol that is not shipped (``data=None``) or
    not in ``data``; a symbol of your own without a cost per trade; labels
    that leave a symbol no rows (``label``); misaligned rows; a buy label
    the labels do not hold (``pos_label``); walk-forward folds the rows cannot
    make (``folds.n_splits``, ``folds.test_size`` or ``folds``). Checks that
    depend on a key in ``skip`` (keys that failed validation) are skipped.

    Returns
    -------
    data : dict of str to SymbolData
        Each checked symbol's rows (the shipped prices labelled), to pass to
        :func:`plan_cells` so they are not loaded twice.
    problems : list of Problem

    Examples
    --------
    >>> from cvn_sklearn.sweep.config import ScreenConfig
    >>> config = ScreenConfig(variants=[{"name": "logreg", "model": "logreg"}], symbols=["sp50"])
    >>> _, problems = check_plan_inputs(config)
    >>> print(problems[0])  # doctest: +ELLIPSIS
    symbols: unknown symbol 'sp50' (did you mean 'sp500'?); the shipped symbols are [...]...
    """
    from cvn_sklearn._rows import check_aligned
    from cvn_sklearn.datasets import SYMBOLS
    from cvn_sklearn.metrics import buy_label
    from cvn_sklearn.model_selection import WalkForwardSplit, walk_forward_folds
    from cvn_sklearn.sweep.config import Problem, did_you_mean

    loaded, problems = {}, []
    if "symbols" in skip:
        return loaded, problems
    if data is None:
        absent = [symbol for symbol in config.symbols if symbol not in SYMBOLS]
        problems += [Problem("symbols", f"unknown symbol {symbol!r}{did_you_mean(symbol, SYMBOLS)}; the shipped symbols "
                                        f"are {list(SYMBOLS)} (rows of your own: screen(config, data=...) in Python)")
                     for symbol in absent]
    else:
        absent = [symbol for symbol in config.symbols if symbol not in data]
        if absent:
            problems.append(Problem("symbols", f"no data for {absent}; the data given holds {sorted(data)}. Add them "
                                               "or drop them."))
    symbols = [symbol for symbol in config.symbols if symbol not in absent]
    if not skip & {"cost", "costs"}:
        for symbol in symbols:
            try:
                config.symbol_cost(symbol)
            except ValueError as exc:
                problems.append(Problem("costs", str(exc).removeprefix("symbols: ")))
    if skip & {"folds", "label", "pos_label"}:
        return loaded, problems
    settings = config.folds
    splitter = WalkForwardSplit(settings.n_splits, test_size=settings.test_size, max_train_size=settings.max_train_size,
                                gap=settings.gap, embargo=settings.embargo)
    for symbol in symbols:
        try:
            rows = _shipped_rows(config, symbol) if data is None else SymbolData(*data[symbol])
        except ValueError as exc:
            problems.append(Problem("label", f"symbol {symbol!r}: {' '.join(str(exc).split())}"))
            continue
        loaded[symbol] = rows
        try:
            check_aligned(f"symbol {symbol!r}", rows.X, y=rows.y, returns=rows.returns, t1=rows.t1)
        except ValueError as exc:
            problems.append(Problem("symbols", " ".join(str(exc).split())))
            continue
        try:
            buy = buy_label(np.unique(np.asarray(rows.y)), config.pos_label)
        except ValueError as exc:
            problems.append(Problem("pos_label", f"symbol {symbol!r}: {' '.join(str(exc).split())}"))
            continue
        try:
            folds = walk_forward_folds(splitter, rows.X, rows.y, t1=rows.t1, val_size=settings.val_size, gap=settings.gap)
            if resolved is not None:  # what plan_cells would derive again: the buy label and the folds
                resolved[symbol] = (buy, folds)
        except ValueError as exc:
            message = " ".join(str(exc).split())
            key = ("folds" if not message.startswith("Cannot make")
                   else "folds.test_size" if settings.test_size is not None else "folds.n_splits")
            problems.append(Problem(key, f"symbol {symbol!r} has {len(rows.y)} rows: {message}"))
    return loaded, problems
