"""The screening sweep: variants x symbols x walk-forward folds, each cell a ``fixed_params`` run.

The DAG::

    base_jobs, symbol_data -> base_job (Parallelizable) -> base_oos -> base_oos_done (Collect)
    cells_todo, base_oos_done, symbol_data -> cell_todo (Parallelizable) -> cell (its clock started)
        -> cell_datasets, cell_model_name, cell_hpo_params, cell_context
        -> cell_artifact (@subdag fixed_params: artifact, test signal) -> cell_record -> cell_records (Collect)

* The fan-outs attach each job's and cell's own symbol's rows to it
  (``data``), and no node after them reads ``symbol_data``: a task sent to a
  Dask worker carries one symbol's rows, not every symbol's.

* ``base_oos``: one node per (symbol, fold, base model of a stacker): the base
  model's out-of-sample predictions on the stacker's folds of the cell's fit
  rows, and its refit, put in the sweep's OOS store
  (:func:`~cvn_sklearn.stacking.precompute_base_model`), so every stacker of
  that (symbol, fold) fits none of them again.
* ``cell_artifact``: the whole :mod:`~cvn_sklearn.dags.fixed_params` DAG as a
  ``@subdag`` (the harness's row policy: fit rows, then calibration and θ on
  the end of the fold's training window, the test block only scored).
* ``cell_record``: what the sweep keeps of a cell (no estimator): the test
  metrics, θ, the rows of each stage, the trading metrics, the reliability
  bins and θ curve of the validation rows and of the test block (for the
  report), the test block's signal and returns, seconds, status. The ``CellRecorder`` hook writes it
  to the cell store where the cell ran, as it finishes (a local run, a few
  quick cells at a time: ``CellRecorder.grouped``); ``CellReturned`` emits
  ``cell_complete`` in the driver's process.

A cell that fails does not stop the sweep: ``CatchCellFailures`` turns
the exception of any ``cell_*`` node into a ``Failed`` value that the
cell's later nodes pass on, and ``cell_record`` records it (status
``"failed"``, error type and message, the message scrubbed of secrets). Every fit runs on one thread
(:mod:`cvn_sklearn.threads`): the models' own thread parameters
(``cell_hpo_params``, a stacker's base models too), BLAS and OpenMP capped
at one thread around the base models' fits and around the whole local run,
and Dask's workers start with ``OMP_NUM_THREADS=1`` (its default
``distributed.nanny.pre-spawn-environ``), so cells running in parallel do not
oversubscribe the cores.
"""

import contextlib
import contextvars
import functools
from time import perf_counter
from typing import Any, NamedTuple, Optional

import numpy as np
from hamilton.function_modifiers import source, subdag, tag
from hamilton.htypes import Collect, Parallelizable
from hamilton.lifecycle import TaskReturnHook
from hamilton.lifecycle.base import BaseDoNodeExecute, BasePostNodeExecute
from hamilton.node import NodeType

from cvn_sklearn.contracts import Datasets, ReliabilityBins, TrainedArtifact, take_rows
from cvn_sklearn.dags import fixed_params
from cvn_sklearn.events import emit, model_type
from cvn_sklearn.scrubbing import scrub_text, secret_strings
from cvn_sklearn.sweep.plan import BaseJob, Cell, SymbolData, single_threaded
from cvn_sklearn.sweep.store import CellStore, cell_rows
from cvn_sklearn.sweep.tables import annualised_names
from cvn_sklearn.threads import limited_threads
from cvn_sklearn.threshold import objective_at
from cvn_sklearn.stacking import precompute_base_model
from cvn_sklearn.trading import bet_size, trading_metrics

# Hamilton makes a node of every public function of this module; the API is none of them
# (the module docstring describes the DAG).
__all__ = []

_ACCEPTS_FAILURE = "cvn_sklearn.accepts_failure"
LIFECYCLE_ADAPTERS = ("CatchCellFailures", "CellRecorder", "CellReturned")
"""The lifecycle adapters :func:`cvn_sklearn.dags.cached_driver` adds to a driver of this module."""


class CellFit(NamedTuple):
    """What a cell's training gives: its artifact, the buy signal of its test rows (0/1), their P(buy), the buy label."""

    artifact: TrainedArtifact
    signal_test: np.ndarray
    proba_test: np.ndarray
    buy: Any


class Failed(NamedTuple):
    """A cell's failure, passed on by the cell's later nodes: the exception's type and message."""

    error_type: str
    message: str


_FAN = (NodeType.EXPAND, NodeType.COLLECT)
"""The roles of the fan-out and fan-in nodes, which run as any node outside a cell."""


class CatchCellFailures(BaseDoNodeExecute):
    """Runs the nodes; a ``cell_*`` node that raises returns ``Failed``, which the cell's later nodes pass on.

    Nodes tagged ``cvn_sklearn.accepts_failure`` (``cell_record``) receive the
    ``Failed`` value instead, to record it. Nodes outside the cells (the
    fan-out, the base models, the fan-in) raise as usual. Hamilton's
    base-level ``do_node_execute``, given the node itself: nothing is built
    for a node but its call.
    """

    def do_node_execute(self, *, node_, kwargs: dict, **future_kwargs: Any) -> Any:
        """Execute one node; see the class docstring."""
        if node_.node_role in _FAN or not node_.name.startswith("cell_"):
            return node_.callable(**kwargs)
        failed = next((value for value in kwargs.values() if isinstance(value, Failed)), None)
        if failed is not None and node_.tags.get(_ACCEPTS_FAILURE) != "true":
            return failed
        try:
            return node_.callable(**kwargs)
        except Exception as exc:  # noqa: BLE001 - a failing cell is recorded, the sweep goes on
            return Failed(type(exc).__name__, str(exc))


GROUP_SECONDS = 0.5
"""Most compute time (the cells' own ``seconds``) a local sweep holds finished but unwritten (see :meth:`CellRecorder.grouped`)."""

GROUP_CELLS = 256
"""Most finished cells a local sweep holds unwritten, however quick (see :meth:`CellRecorder.grouped`)."""

_GROUP = contextvars.ContextVar("cvn_sklearn_cell_group", default=None)


class CellRecorder(BasePostNodeExecute):
    """Writes each cell's record to the cell store once ``cell_record`` is built (where the cell runs).

    Each cell is written as it finishes, unless the run is inside
    :meth:`grouped`: then quick cells are written a few at a time.
    """

    @staticmethod
    @contextlib.contextmanager
    def grouped(seconds: float = GROUP_SECONDS, cells: int = GROUP_CELLS):
        """During the block, hold the finished cells of this context and write them together (group commit).

        The cells held are written in one append
        (:meth:`~cvn_sklearn.sweep.store.CellStore.put_many`) as soon as
        they took ``seconds`` of compute between them (a cell that took
        that long is written at once, with any held before it) or number
        ``cells``, and whatever is held when the block ends, by an error or
        Ctrl-C too. A process killed outright (SIGKILL, a power cut) loses at
        most the cells held: less than ``seconds`` of compute, computed again
        on the next run. Written on its own, a tiny cell's write took
        0.2 ms, most of it waiting on the caches its fit had filled with
        other things; written with the others of its group, 0.07 ms.

        The local sweep runs its cells in the block
        (:func:`cvn_sklearn.sweep.run.screen`). Nodes run elsewhere (a Dask
        worker, another thread) are outside the block's context: each of
        their cells is written as it finishes.
        """
        group = _CellGroup(seconds, cells)
        token = _GROUP.set(group)
        try:
            yield
        except BaseException:
            with contextlib.suppress(Exception):  # keep what finished; the block's own error is the one raised
                group.write()
            raise
        else:
            group.write()
        finally:
            _GROUP.reset(token)

    def post_node_execute(self, *, node_, kwargs: dict, success: bool, result: Any, **future_kwargs: Any):
        """After ``cell_record``: store it, or hold it in the :meth:`grouped` block's group."""
        if success and node_.name == "cell_record":
            record, rows = result
            store, group = _cell_store(kwargs["cell_store_folder"]), _GROUP.get()
            if group is None:
                store.put_rows(record, rows)
            else:
                group.add(store, record, rows)


class _CellGroup:
    """The finished cells held by :meth:`CellRecorder.grouped`, and their compute time."""

    def __init__(self, seconds: float, cells: int):
        self.seconds, self.cells = seconds, cells
        self.held, self.held_seconds = [], 0.0

    def add(self, store: CellStore, record: dict, rows: np.ndarray) -> None:
        """Hold one cell; write every cell held once they took ``seconds`` or number ``cells``."""
        self.held.append((store, record, rows))
        self.held_seconds += record["seconds"]
        if self.held_seconds >= self.seconds or len(self.held) >= self.cells:
            self.write()

    def write(self) -> None:
        """Write the cells held (one append per store), and hold none."""
        held, self.held, self.held_seconds = self.held, [], 0.0
        stores = {}
        for store, record, rows in held:
            stores.setdefault(store, []).append((record, rows))
        for store, cells in stores.items():
            store.put_many(cells)


@functools.lru_cache(maxsize=8)
def _cell_store(folder: str) -> CellStore:
    """The cell store of a sweep's folder, built once per process (not once per cell: a Path and its hash each time)."""
    return CellStore(folder)


_ON_CELL = contextvars.ContextVar("cvn_sklearn_on_cell_returned", default=None)


class CellReturned(TaskReturnHook):
    """Emits ``cell_complete`` in the driver's process when a cell's task comes back (locally or from Dask).

    Then hands the cell's record and rows to the callback of :meth:`calling`, if any.
    """

    @staticmethod
    @contextlib.contextmanager
    def calling(callback):
        """Call ``callback(record, rows)`` in the driver's process as each cell's task comes back, during the block.

        The sweep's MLflow child runs are written this way
        (:class:`~cvn_sklearn.sweep.tracking.SweepRuns`), as the cells
        complete, locally or from Dask; ``None`` calls nothing.
        """
        token = _ON_CELL.set(callback)
        try:
            yield
        finally:
            _ON_CELL.reset(token)

    def run_after_task_return(self, *, result: Any, success: bool, **future_kwargs: Any):
        """After a task holding ``cell_record``: its ``cell_complete`` event; after one holding ``base_oos``, ``base_model_complete``."""
        if success and isinstance(result, dict) and isinstance(result.get("base_oos"), dict):
            emit("base_model_complete", **result["base_oos"])
        if not (success and isinstance(result, dict) and "cell_record" in result):
            return
        record, rows = result["cell_record"]
        emit(
            "cell_complete",
            variant=record["variant"],
            symbol=record["symbol"],
            fold=record["fold"],
            status=record["status"],
            cached=False,
            seconds=record["seconds"],
        )
        callback = _ON_CELL.get()
        if callback is not None:
            callback(record, rows)


def base_job(base_jobs: list, symbol_data: dict) -> Parallelizable[BaseJob]:
    """Fan out: one job per (symbol, fold, base model of the stackers), carrying its symbol's rows."""
    for job in base_jobs:
        yield job._replace(data=symbol_data[job.symbol])


def base_oos(base_job: BaseJob) -> dict:
    """The base model's OOS predictions and refit on the fold's fit rows, put in the OOS store; its model, symbol, seconds."""
    data, started = base_job.data, perf_counter()
    with limited_threads(1):
        precompute_base_model(
            base_job.estimator,
            take_rows(data.X, base_job.rows),
            take_rows(data.y, base_job.rows),
            cv=base_job.cv,
            cache=base_job.cache,
        )
    return {"model": model_type(base_job.estimator), "symbol": base_job.symbol, "seconds": perf_counter() - started}


def base_oos_done(base_oos: Collect[dict]) -> int:
    """Fan in: how many base-model jobs ran (the cells wait for them)."""
    return len(list(base_oos))


def cell_todo(cells_todo: list, base_oos_done: int, symbol_data: dict) -> Parallelizable[Cell]:
    """Fan out: one cell per variant, symbol and fold still to compute, carrying its symbol's rows (only those)."""
    for todo in cells_todo:
        yield todo._replace(data=symbol_data[todo.symbol])


def cell(cell_todo: Cell) -> Cell:
    """The cell, its clock started (``started``, ``perf_counter``).

    Every other node of the cell reads it, so it runs first whatever order
    Hamilton picks among them, and the cell's ``seconds`` count all of them.
    """
    return cell_todo._replace(started=perf_counter())


def cell_datasets(cell: Cell) -> Datasets:
    """The cell's fit rows (train), the end of its training window (val) and its test block (test)."""
    data: SymbolData = cell.data
    parts = (data.X, data.y, data.returns)
    fold = cell.fold
    train, val, test = (tuple(take_rows(values, rows) for values in parts) for rows in (fold.fit, fold.val, fold.test))
    return Datasets(train, val, test, periods_per_year=data.periods_per_year)


def cell_model_name(cell: Cell) -> str:
    """The registry name of the cell's variant."""
    return cell.variant.model


def cell_hpo_params(cell: Cell, oos_folder: str) -> dict:
    """The variant's parameters, each fit pinned to one thread, stackers reading the sweep's OOS store."""
    return single_threaded(cell.variant.model, cell.variant.params, oos_folder)


def cell_cusum(cell: Cell) -> Optional[dict]:
    """The CUSUM filter's scalars of the cell's symbol, if its rows are CUSUM events."""
    metadata = cell.data.cusum_metadata
    return None if metadata is None else dict(metadata)


def cell_constraints(cell: Cell, constraints: dict) -> dict:
    """The sweep's θ constraints with the cell's symbol's cost per trade (θ's return objectives and edge test net of it)."""
    return {**constraints, "cost": cell.cost}


def cell_context(cell: Cell) -> dict:
    """What the cell's events carry."""
    return {"variant": cell.variant.name, "symbol": cell.symbol, "fold": cell.fold.index}


@subdag(
    fixed_params,
    inputs={
        "datasets": source("cell_datasets"),
        "model_name": source("cell_model_name"),
        "hpo_params": source("cell_hpo_params"),
        "event_context": source("cell_context"),
        "cusum_metadata": source("cell_cusum"),
        "constraints": source("cell_constraints"),
    },
)
def cell_artifact(artifact: TrainedArtifact, buy_signal_test: np.ndarray, proba_test: np.ndarray, buy: Any) -> CellFit:
    """The cell's :class:`~cvn_sklearn.contracts.TrainedArtifact`, its test rows' signal and P(buy), from the ``fixed_params`` sub-DAG.

    The signal is :meth:`TrainedArtifact.predict <cvn_sklearn.contracts.TrainedArtifact.predict>`
    of the test block from the one prediction the sub-DAG made of it (meta-label included), not a second one.
    """
    return CellFit(artifact, buy_signal_test, proba_test, buy)


@tag(**{_ACCEPTS_FAILURE: "true"})
def cell_record(cell: Cell, cell_datasets: Any, cell_artifact: Any, cell_store_folder: str,
                trading_rules: dict) -> tuple:
    """``(record, rows)`` kept of the cell: scalars, and the test block's rows (:func:`~cvn_sklearn.sweep.store.cell_rows`).

    The rows are each test row's index, buy signal, P(buy) and trade return,
    packed into one array once, here: the cell store and the driver keep it as it is.

    The trading figures are the test block's trades on the symbol's bar
    calendar, net of the cell's cost per trade (gross beside them), Sharpe
    and Sortino annualised with the symbol's bars per year
    (:func:`cvn_sklearn.trading.trading_metrics` with ``trading_rules``).
    The test block's returns are the ones ``cell_datasets`` cut (cut again
    only when cutting them failed). A failed cell's error message is scrubbed
    here, before the cell store, the tables, MLflow and the report see it
    (:func:`~cvn_sklearn.scrubbing.scrub_text`, with the secret-looking values
    of the variant's parameters, which a message may quote without their name).
    """
    record = {
        "key": cell.key,
        "variant": cell.variant.name,
        "model": cell.variant.model,
        "symbol": cell.symbol,
        "fold": cell.fold.index,
        "cost": cell.cost,
    }
    test = cell.fold.test
    cut = cell_datasets.test.returns if isinstance(cell_datasets, Datasets) else take_rows(cell.data.returns, test)
    returns = np.asarray(cut, dtype=np.float64)
    if isinstance(cell_artifact, Failed):
        message = scrub_text(cell_artifact.message, values=secret_strings(cell.variant.params))
        record |= {"status": "failed", "error_type": cell_artifact.error_type, "error": message}
        signal, proba = np.zeros(len(test), dtype=np.int8), np.full(len(test), np.nan)
    else:
        record |= {"status": "ok", "error_type": None, "error": None, **_summary(cell_artifact.artifact)}
        signal, proba = cell_artifact.signal_test, np.asarray(cell_artifact.proba_test, dtype=np.float64)
        record |= annualised_names(_test_trading(cell.data, test, signal, proba, returns, cell.cost, trading_rules))
        record |= _out_of_sample(cell_artifact, cell_datasets.test.y, proba, returns, record.get("theta_thresholds"))
    rows = cell_rows(index=test, signal=signal, proba=proba, returns=returns)  # packed once: the store's and the driver's
    record["seconds"] = perf_counter() - cell.started
    return record, rows


def _test_trading(data: SymbolData, rows, signal, proba, returns, cost: float, rules: dict) -> dict:
    """The trading figures of a signal on ``rows`` of a symbol (see ``cell_record``)."""
    size = bet_size(proba, break_even=rules["break_even"]) if rules["sizing"] == "probability" else None
    t1 = None if data.t1 is None else take_rows(data.t1, rows)
    metrics = trading_metrics(signal, returns, periods_per_year=data.periods_per_year, cost=cost,
                              times=data.times()[rows], t1=t1, close=data.close, rule=rules["rule"], size=size)
    return metrics.to_dict()


def _out_of_sample(fit: CellFit, y_test, proba: np.ndarray, returns: np.ndarray, thresholds) -> dict:
    """The test block's reliability bins, and its θ curve at the validation curve's thresholds (a few numbers, no rows).

    The report draws them beside the validation ones the calibrator and θ
    were fitted on: out of sample, where a model's probabilities are tested.
    """
    is_buy = (np.asarray(y_test) == fit.buy).astype(np.int8)  # the label the sub-DAG derived, not derived again
    out = _bins("reliability_test", ReliabilityBins.of(is_buy, proba))
    owner = fit.artifact.estimator
    curve = getattr(owner, "theta_result_", None)
    if curve is not None and thresholds is not None and len(thresholds):
        scores, rates = objective_at(is_buy, proba, thresholds, objective=curve.objective, returns=returns,
                                     cost=getattr(owner, "cost", 0.0), beta=getattr(owner, "beta", 1.0), pos_label=1)
        out |= {"theta_test_scores": np.asarray(scores, dtype=np.float64),
                "theta_test_positive_rates": np.asarray(rates, dtype=np.float64)}
    return out


def _bins(prefix: str, bins: ReliabilityBins) -> dict:
    """A reliability diagram's counts, positives and mean P(buy) per bin, as arrays named ``<prefix>_count``, ...

    Arrays, not lists of Python numbers: a sweep keeps every cell's curves
    until its tables are built (the cell store writes their bytes).
    """
    return {f"{prefix}_count": np.asarray(bins.count), f"{prefix}_positives": np.asarray(bins.positives),
            f"{prefix}_mean_proba": np.asarray(bins.mean_proba, dtype=np.float64)}


def cell_records(cell_record: Collect[tuple]) -> int:
    """Fan in: how many cells ran (their records are in the cell store already)."""
    return len(list(cell_record))


def _summary(artifact: TrainedArtifact) -> dict:
    """The flat scalars a cell keeps of its artifact: θ, test metrics, trading metrics, rows per stage."""
    shape = artifact.dataset_shape
    summary = {"threshold": artifact.threshold, "training_time_sec": artifact.training_time_sec}
    summary |= {f"test_{k}": v for k, v in artifact.metrics_test.to_dict().items()}
    summary |= {k: v for k, v in shape.to_dict().items() if k.startswith("rows_")}
    summary |= _bins("reliability", artifact.reliability_val)
    curve = getattr(artifact.estimator, "theta_result_", None)
    summary["no_edge"] = bool(getattr(curve, "no_edge", False))
    if curve is not None:  # the θ curve, at most 60 points, for the report
        keep = np.unique(np.linspace(0, len(curve.thresholds) - 1, min(60, len(curve.thresholds))).astype(int))
        summary |= {"theta_thresholds": np.asarray(curve.thresholds[keep], dtype=np.float64),
                    "theta_scores": np.asarray(curve.scores[keep], dtype=np.float64),
                    "theta_positive_rates": np.asarray(curve.positive_rates[keep], dtype=np.float64)}
    return summary
