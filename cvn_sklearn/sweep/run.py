"""The sweep's entry point: plan the cells, run the ones not stored yet, build the tables, log and report.

:func:`screen` is what :func:`cvn_sklearn.harness.screen` and ``cvn-sklearn
screen``/``demo`` call. The cells run through the Hamilton DAG of
:mod:`cvn_sklearn.sweep.dag`, in this process or on Dask
(:mod:`cvn_sklearn.sweep.cluster`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from pathlib import Path
from time import perf_counter

from cvn_sklearn.dags import build_driver, cached_driver, fixed_params_config
from cvn_sklearn.events import emit
from cvn_sklearn.sweep.cluster import check_main_guard, choose_executor, dask_executor
from cvn_sklearn.sweep.config import ConfigError, Problem, ScreenConfig, check_config
from cvn_sklearn.sweep.dag import CellRecorder, CellReturned
from cvn_sklearn.sweep.plan import check_plan_inputs, plan_cells
from cvn_sklearn.sweep.tables import packed_record, screen_result, write_summary
from cvn_sklearn.sweep.tracking import SweepRuns, log_report
from cvn_sklearn.threads import limited_threads

__all__ = ["SWEEP_DAG", "check_inputs", "screen"]

SWEEP_DAG = ("cvn_sklearn.sweep.dag",)
"""The Hamilton module of the sweep's cells."""



def screen(config, data: Mapping | None = None, *, report=None, progress=False):
    """Run a screening sweep: every variant on every symbol's every walk-forward fold, ranked honestly.

    A cell is one variant on one symbol's one fold: a :func:`train_one` run
    with the harness's row policy inside the fold's training window (fit rows,
    then calibration and θ on the window's end after a purge gap; the test
    block only scored). Stackers consume their base models' out-of-sample
    predictions, computed once per (symbol, fold) as their own nodes and kept
    in the sweep's OOS store. The cells fan out with Hamilton's dynamic
    execution, in this process or on Dask (``executor="dask"`` starts a
    ``LocalCluster``, ``scheduler="tcp://..."`` connects to a running one;
    ``executor="auto"`` starts a cluster only for cells whose estimated time
    pays for it, :func:`~cvn_sklearn.sweep.cluster.choose_executor`), every
    fit on one thread. A running cluster's workers must share this process's
    folder and versions (docs/dask.md).

    Each finished cell is written to the sweep's cell store as it finishes,
    keyed by the symbol (name, data fingerprint, bars per year), the variant
    (name, model, parameters), the fold (position, rows), the training
    options and the symbol's cost, library versions and code version: a
    second run recomputes none of them, and a killed sweep, restarted,
    recomputes none of the cells it had written. A local run writes its quick
    cells a few at a time, holding at most half a second of their compute
    unwritten (``CellRecorder.grouped`` of :mod:`cvn_sklearn.sweep.dag`); an error
    or Ctrl-C writes what it holds first, so only a process killed outright
    computes those again. A stored cell is read
    back only once verified (its checksum, and its record's key matching its
    header's); a torn, corrupt or foreign one is reported
    (``store_file_rejected``) and computed again. The result tables are always built from the cells.
    A failing cell is recorded
    (status, error type and message) and the sweep goes on;
    ``retry_failed=True`` runs only those again.

    Results (also written as Parquet and CSV to ``config.folder``): one row
    per cell, the per-variant and per-fold table, and a ranking with the
    probabilistic and deflated Sharpe ratios (N = the number of variants) and
    the sweep's probability of backtest overfitting (:mod:`cvn_sklearn.ranking`).
    With ``config.mlflow``, one parent run per sweep and one child run per
    cell, written from this process only.

    Parameters
    ----------
    config : ScreenConfig or mapping
        The sweep (see :class:`~cvn_sklearn.sweep.config.ScreenConfig`); a
        mapping is validated into one.
    data : mapping of str to SymbolData, default=None
        Each symbol's rows: :class:`~cvn_sklearn.sweep.plan.SymbolData`
        ``(X, y, returns, t1=None, periods_per_year=252)`` or a tuple of
        those. ``None`` loads every symbol with
        :func:`cvn_sklearn.datasets.load_dataset`.

    report : str or Path, default=None
        Also write the sweep's self-contained HTML report here
        (:func:`~cvn_sklearn.sweep.report.write_report`), and attach it to the
        MLflow parent run.
    progress : bool or Progress, default=False
        ``True`` draws a progress bar on stderr while the sweep runs, when
        stderr is a terminal (:class:`~cvn_sklearn.sweep.progress.Progress`:
        cells done, cost-weighted ETA; one line when every cell comes from the
        store). A :class:`~cvn_sklearn.sweep.progress.Progress` is used as
        given (the command line's also keeps library warnings and logs out of
        stderr). ``False`` prints nothing.

    Returns
    -------
    ScreenResult

    Raises
    ------
    ConfigError
        A ``ValueError`` listing every problem of the config and inputs,
        found before any cell runs (:func:`check_inputs`): a malformed or
        misspelt key, an unknown symbol, model, base model, calibration
        method, θ objective or constraint, a symbol of your own without a
        cost, too few rows for the folds, a ``folder`` that is a file, a
        ``report`` in a folder that does not exist, an unusable MLflow
        ``tracking_uri``.
    RuntimeError
        For ``executor="dask"`` called, unguarded, from the top level of a
        script that the worker processes re-import
        (:func:`~cvn_sklearn.sweep.cluster.check_main_guard`).
    ConnectionError
        When ``scheduler`` is set and no Dask scheduler answers there.
    ValueError
        Also when the scheduler's workers run another Python or other library
        versions than this process (:func:`~cvn_sklearn.sweep.cluster.check_workers`).

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> from cvn_sklearn.sweep import SymbolData, screen
    >>> rng = np.random.RandomState(0)
    >>> def symbol(seed):
    ...     r = np.random.RandomState(seed); X = r.normal(size=(400, 3))
    ...     y = (X[:, 0] + r.normal(size=400) > 0.5).astype(int)
    ...     return SymbolData(X, y, np.where(y == 1, 0.01, -0.01) + r.normal(0, 0.005, 400))
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     result = screen({"variants": [{"name": "logreg", "model": "logreg"},
    ...                                   {"name": "logreg_weak", "model": "logreg", "params": {"C": 0.001}}],
    ...                      "symbols": ["a", "b"], "folds": {"n_splits": 2}, "calibration": "sigmoid",
    ...                      "folder": folder, "mlflow": False, "cost": 0.0005}, data={"a": symbol(1), "b": symbol(2)})
    >>> len(result.cells), sorted(result.ranking.index), set(result.cells.status)
    (8, ['logreg', 'logreg_weak'], {'ok'})
    """
    if progress is False or progress is None:
        return _screen(config, data, report, None)
    from cvn_sklearn.sweep.progress import Progress

    reporter = progress if isinstance(progress, Progress) else Progress()
    with reporter:
        return _screen(config, data, report, reporter)


def _screen(config, data, report, progress):
    """:func:`screen`'s work; ``progress`` (a :class:`Progress` already entered, or ``None``) is told the plan."""
    config, data, report, resolved = check_inputs(config, data, report)
    started = perf_counter()
    plan = plan_cells(config, data, resolved)
    executor = _executor(config, plan)
    if progress is not None:
        progress.plan(plan)
    emit("screen_started", n_cells=len(plan.cells), n_cached=len(plan.cached), n_variants=len(config.variants),
         n_symbols=len(config.symbols), n_folds=plan.n_folds, executor=executor)
    for cell in plan.cached:
        record = plan.stored[cell.key][0]
        emit("cell_complete", variant=cell.variant.name, symbol=cell.symbol, fold=cell.fold.index,
             status=record["status"], cached=True, seconds=0.0)
    runs = SweepRuns(config, plan) if config.mlflow else None  # the parent run, and the cached cells' child runs
    computed = {}  # each cell computed now: (record, rows) as its task returned them, once it is in the store
    layouts = {}  # the field names of each layout of record, shared by its records

    def returned(record: dict, rows) -> None:
        # packed: a fifth of a dict's memory; its curves are arrays already and its rows one array (sweep/dag.py)
        computed[record["key"]] = packed_record(record, layouts), rows
        if runs is not None:
            runs.cell(record)  # its child run, as it completes

    try:
        with CellReturned.calling(returned):
            if plan.todo:
                _run_cells(config, plan, executor)
        result = screen_result(config, plan, computed)
    except BaseException:
        if runs is not None:
            with contextlib.suppress(Exception):  # the sweep's own error is the one raised
                runs.fail()
        raise
    if runs is not None:
        result = runs.finish(result)
        write_summary(result)  # with the parent run's id, for ScreenResult.load
    if report is not None:
        from cvn_sklearn.sweep.report import write_report

        write_report(result, config, report)
        if result.parent_run_id is not None:
            log_report(config, result.parent_run_id, report)
    failed = int((result.cells["status"] != "ok").sum())
    emit("screen_complete", n_cells=len(plan.cells), n_cached=len(plan.cached), n_failed=failed,
         seconds=perf_counter() - started)
    return result


CELLS_PER_RUN = 64
"""Most cells one execution of the sweep's Hamilton driver runs (see :func:`_run_cells`).

Its bookkeeping per finished task also scans the queue of waiting tasks: 2,000 tiny cells spent
2.8 s outside their tasks in waves of 256, 2.2 s in waves of 128 and 2.0 s in waves of 64."""


def _run_cells(config: ScreenConfig, plan, executor: str) -> None:
    """Compute ``plan.todo`` through the sweep's DAG, in waves of :data:`CELLS_PER_RUN` cells (more on a big cluster).

    Each wave is one ``execute`` of the same driver. Hamilton's dynamic
    execution keeps every task of an ``execute`` in one pool, and each task
    that finishes scans that whole pool (``ExecutionState.update_task_state``):
    its bookkeeping grows with the square of the cells of one ``execute``
    (15 s of 2,000 cells in one run, 4 min of 10,000). Waves keep it linear in
    the cells. The base models of the stackers run in the first wave, before
    any cell of it; later waves read them from the OOS store. On Dask a wave
    holds at least 16 cells per worker, so the workers stay busy; the client
    and its workers stay up across the waves.
    """
    inputs = dict(
        base_jobs=plan.base_jobs, symbol_data=plan.data,
        cell_store_folder=str(config.folder), oos_folder=str(plan.oos_folder),
        calibration=config.calibration, objective=config.objective, constraints=dict(config.constraints),
        pos_label=config.pos_label, meta_label=None, meta_label_params={}, trading_rules=config.trading_rules(),
    )
    dag_config = fixed_params_config(config.calibration, config.objective)

    def waves(driver, size: int) -> None:
        for start in range(0, len(plan.todo), size):
            wave = {**inputs, "cells_todo": plan.todo[start:start + size]}
            if start:
                wave["base_jobs"] = []  # done in the first wave, kept in the OOS store
            driver.execute(["cell_records"], inputs=wave)

    if executor == "local":
        with limited_threads(1), CellRecorder.grouped():  # quick cells written a few at a time
            waves(cached_driver(SWEEP_DAG, dag_config, "local"), CELLS_PER_RUN)
        return
    with dask_executor(config.scheduler, config.n_workers, SWEEP_DAG, dag_config) as dask:
        waves(build_driver(SWEEP_DAG, dag_config, dask), max(CELLS_PER_RUN, 16 * len(dask.client.nthreads())))


def _executor(config: ScreenConfig, plan) -> str:
    """Where the cells run: ``auto`` resolved (:func:`~cvn_sklearn.sweep.cluster.choose_executor`), with its event.

    ``executor: dask`` on a sweep the rule would keep local runs on Dask as
    asked, and its ``executor_chosen`` event says why ``auto`` would not.
    """
    if config.executor == "local" or (config.executor == "dask" and config.scheduler is not None):
        return config.executor
    if not plan.todo:
        chosen, reason, seconds = "local", "every cell is stored: nothing to compute", 0.0
    else:
        chosen, reason, seconds = choose_executor(config, plan)
    if config.executor == "dask":
        if chosen == "dask" or not plan.todo:
            return "dask"
        chosen, reason = "dask", f"as asked, though executor: auto would run here: {reason}"
    emit("executor_chosen", requested=config.executor, executor=chosen, reason=reason, estimated_seconds=seconds)
    return chosen


def check_inputs(config, data: Mapping | None = None, report=None) -> tuple[ScreenConfig, dict, Path | None, dict]:
    """Check a sweep's config, data and report path before any cell runs; every problem at once.

    Returns
    -------
    config : ScreenConfig
    data : dict of str to SymbolData
        Each symbol's rows (the shipped prices labelled when ``data`` is ``None``).
    report : Path or None
        ``report`` with ``~`` expanded.
    resolved : dict of str to tuple
        Each symbol's buy label and walk-forward folds, as the checks derived
        them (:func:`~cvn_sklearn.sweep.plan.plan_cells` reuses them).

    Raises
    ------
    ConfigError
        Listing every problem (:func:`~cvn_sklearn.sweep.config.check_config`,
        :func:`~cvn_sklearn.sweep.plan.check_plan_inputs`, the report's folder).

    Examples
    --------
    >>> check_inputs({"variants": [{"name": "x", "model": "logreg"}], "symbols": ["sp500", "btc"],
    ...               "calibration": "platt"}, report="/no/such/folder/report.html")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    cvn_sklearn.sweep.config.ConfigError: 3 problems in the sweep's config:
      calibration: unknown calibration method 'platt'; the known ones are [...], or null
      symbols: unknown symbol 'btc'; the shipped symbols are [...] (rows of your own: screen(config, data=...) in Python)
      report: the folder '/no/such/folder' does not exist; create it, or correct the path
    """
    checked = check_config(config)
    problems = list(checked.problems)
    config = checked.config
    if config is not None and config.executor != "local" and config.scheduler is None:
        check_main_guard()  # in a worker process re-importing an unguarded script: stop before loading any data
    loaded, resolved = {}, {}
    if config is not None:
        loaded, more = check_plan_inputs(config, data, checked.failed, resolved)
        problems += more
    report = None if report is None else Path(report).expanduser()
    if report is not None:
        if report.is_dir():
            problems.append(Problem("report", f"{str(report)!r} is a folder; give the report a file name, such as "
                                              f"{str(report / 'report.html')!r}"))
        elif not report.parent.is_dir():
            problems.append(Problem("report", f"the folder {str(report.parent)!r} does not exist; create it, or "
                                              "correct the path"))
    if problems:
        raise ConfigError(problems)
    return config, loaded, report, resolved
