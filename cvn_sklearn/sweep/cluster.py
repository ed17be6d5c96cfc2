"""Where the sweep's cells run: ``executor: auto``'s rule, a lean ``LocalCluster``, and Hamilton's Dask executor made cheap per task.

:func:`choose_executor` is the rule of ``executor: auto`` (a cold local
cluster only for cells whose estimated time pays for its start), and
:func:`check_workers` refuses a running cluster whose workers run another
Python or other library versions than the driver (docs/dask.md).

On a small machine the driver shares the cores with the workers, so whatever
the driver and the cluster do besides the cells is taken from the cells. Three
such costs of Hamilton's ``DaskExecutor`` on a default ``LocalCluster`` are
removed here:

* **Busy polling.** Hamilton's task loop asks every running task for its state
  as fast as it can, which keeps one core busy in the driver for the whole
  run. :func:`waiting_dask_executor` waits for the first running task instead.
* **Nodes pickled by value.** A Hamilton task carries its nodes; ``@subdag``
  builds their functions as closures, which cloudpickle serialises by value
  (with everything they reach): about 7 ms per cell task, paid by the client,
  again by the scheduler and once more by the worker. The executor here sends
  the nodes' *names*; the worker takes the nodes from its own build of the
  same DAG (the same modules of this package, the same config), built once
  per worker process.
* **Monitors nobody reads.** A default ``LocalCluster`` samples every running
  task's stack every 10 ms for the dashboard's profiler and ticks each event
  loop every 20 ms: together 8% of a 2-core machine while idle.
  :func:`local_cluster` starts its workers without the profiler and ticks
  every 500 ms (the dashboard is not started either).

Examples
--------
>>> from cvn_sklearn.sweep.cluster import LEAN_DASK_CONFIG
>>> LEAN_DASK_CONFIG["distributed.worker.profile.enabled"]
False
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["CELL_SECONDS", "COLD_CLUSTER_SECONDS", "LEAN_DASK_CONFIG", "MAIN_GUARD", "MATCHING_LIBRARIES",
           "SECONDS_PER_FIT_COST", "check_main_guard", "check_workers", "choose_executor", "dask_executor", "environment",
           "local_cluster", "waiting_dask_executor"]

MAIN_GUARD = ("executor: dask starts worker processes, which re-import your script; put the call under "
              '`if __name__ == "__main__":` (see docs/screening.md, "Dask from a script")')
"""The one error of a ``LocalCluster`` started from the top level of a script without the main guard."""

_MARKER = "CVN_SKLEARN_MAIN_GUARD_MARKER"
"""Environment variable: a file a worker process touches when it finds itself re-importing an unguarded script."""

LEAN_DASK_CONFIG: dict[str, Any] = {
    "distributed.worker.profile.enabled": False,  # the dashboard's statistical profiler: a stack sample every 10 ms
    "distributed.admin.tick.interval": "500ms",  # the blocked-event-loop detector, every 20 ms by default
}
"""Dask settings of :func:`local_cluster`: the monitors that only feed a dashboard, off or slower."""

_DAG_MODULES = ("cvn_sklearn.dags.", "cvn_sklearn.sweep.dag")
"""Only modules of this package's DAGs are built from a task's reference (prefixes, or the module itself)."""


COLD_CLUSTER_SECONDS = 12.0
"""What a cold :func:`local_cluster` of 2 workers adds to a sweep: its start and each worker's first cell (imports, DAG build).

The rule of :func:`choose_executor`. Seconds of the 2-core machine when quiet,
as the two constants below: ``benchmarks/executor.py`` measures all three
with the same sweeps, interleaved (see docs/dask.md, "Cost").
"""

CELL_SECONDS = 0.08
"""Rough serial seconds of a cell besides its model's fit (calibration, θ, scoring, the store), for :func:`choose_executor`."""

SECONDS_PER_FIT_COST = 3e-9
"""Rough seconds per unit of :func:`cvn_sklearn.cost.fit_cost` (measured on LightGBM cells), for :func:`choose_executor`."""


def choose_executor(config, plan) -> tuple[str, str, float]:
    """Where ``executor: auto`` runs the cells of ``plan``: ``"local"`` or ``"dask"``, why, and the estimate it used.

    A running scheduler (``scheduler`` set) is used: nothing has to start.
    Otherwise a :func:`local_cluster` is started only if it can pay for its
    start: with ``w`` workers (``n_workers``, at most the machine's cores),
    parallel cells save at most ``(1 - 1/w)`` of the cells' serial time, and
    the estimated saving must exceed twice :data:`COLD_CLUSTER_SECONDS` (the
    margin covers a real speed-up below the ideal: 1.8x measured on 2
    workers, and a rough estimate). The serial time is estimated from what
    the model files declare: :data:`CELL_SECONDS` per cell plus
    :data:`SECONDS_PER_FIT_COST` per unit of each fit's
    :func:`cvn_sklearn.cost.fit_cost` (a stacker's base models counted once
    per fold of its ``cv`` and once refitted). It decides where cells run,
    never what they compute: the results are identical either way.

    Parameters
    ----------
    config : ScreenConfig
    plan : Plan
        The sweep's plan (:func:`cvn_sklearn.sweep.plan.plan_cells`): its cells still to compute.

    Returns
    -------
    executor : {"local", "dask"}
    reason : str
        One sentence, for the ``executor_chosen`` event.
    estimated_seconds : float
        The cells' estimated serial time.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from cvn_sklearn.sweep import ScreenConfig
    >>> config = ScreenConfig(variants=[{"name": "x", "model": "logreg"}], symbols=["sp500"], executor="auto")
    >>> executor, reason, seconds = choose_executor(config, SimpleNamespace(todo=[], base_jobs=[], data={}))
    >>> executor, seconds
    ('local', 0.0)
    """
    if config.scheduler is not None:
        return "dask", f"a running Dask scheduler at {config.scheduler} (nothing to start)", 0.0
    seconds = _estimated_seconds(plan)
    workers = min(config.n_workers, os.cpu_count() or 1)
    if workers < 2:
        return "local", f"{workers} worker (n_workers {config.n_workers}, {os.cpu_count()} cores): no cells in parallel", \
            seconds
    saving = seconds * (1 - 1 / workers)
    if saving > 2 * COLD_CLUSTER_SECONDS:
        return "dask", (f"about {seconds:.0f} s of cells; {workers} workers may save {saving:.0f} s, more than twice "
                        f"the ~{COLD_CLUSTER_SECONDS:.0f} s a cold local cluster costs"), seconds
    return "local", (f"about {seconds:.1f} s of cells; {workers} workers would save at most {saving:.1f} s, less than "
                     f"twice the ~{COLD_CLUSTER_SECONDS:.0f} s a cold local cluster costs"), seconds


def _estimated_seconds(plan) -> float:
    """The rough serial seconds of the plan's cells and base-model jobs (see :func:`choose_executor`)."""
    import numpy as np

    from cvn_sklearn.cost import fit_cost

    features = {symbol: np.shape(rows.X)[1] for symbol, rows in plan.data.items()}
    work = sum(plan.costs[cell.key] for cell in plan.todo)
    for job in plan.base_jobs:
        folds = job.cv if isinstance(job.cv, int) else getattr(job.cv, "n_splits", 5)
        work += (folds + 1) * fit_cost(job.estimator, len(job.rows), features[job.symbol])
    return len(plan.todo) * CELL_SECONDS + work * SECONDS_PER_FIT_COST


def local_cluster(n_workers: int = 2, **kwargs):
    """A Dask ``LocalCluster`` of single-threaded worker processes, with :data:`LEAN_DASK_CONFIG`.

    What ``executor="dask"`` of :func:`cvn_sklearn.sweep.run.screen` starts. To
    keep one warm cluster across several sweeps, start it yourself and pass
    its address as ``scheduler``.

    Parameters
    ----------
    n_workers : int, default=2
        Worker processes, one thread each (every fit in them runs on one thread).
    **kwargs
        Passed to ``distributed.LocalCluster`` (e.g. ``memory_limit``).

    Returns
    -------
    distributed.LocalCluster
        Use it as a context manager, or ``close()`` it.

    Examples
    --------
    >>> from dask.distributed import Client
    >>> from cvn_sklearn.sweep.cluster import local_cluster
    >>> with local_cluster(1) as cluster, Client(cluster) as client:
    ...     client.submit(sum, [1, 2]).result()
    3
    """
    import dask
    from dask.distributed import LocalCluster

    check_main_guard()
    options = dict(threads_per_worker=1, processes=True, dashboard_address=None) | kwargs
    with tempfile.TemporaryDirectory(prefix="cvn-main-guard-") as folder, _environ(_MARKER, str(Path(folder, "hit"))), \
            _held_logs("distributed") as held:
        try:
            with dask.config.set(LEAN_DASK_CONFIG):  # read by the scheduler and passed by each nanny to its worker
                return LocalCluster(n_workers=n_workers, **options)
        except Exception:
            if Path(folder, "hit").exists():  # a worker re-imported an unguarded script: only this error says so
                held.clear()
                raise RuntimeError(MAIN_GUARD) from None
            raise


def check_main_guard() -> None:
    """Stop a worker process that is re-importing a script which starts a local cluster at its top level.

    With the ``spawn`` start method (Dask's default), every worker process
    of a ``LocalCluster`` first imports the main script again, as
    ``__mp_main__``. A script that calls ``screen(..., executor="dask")``
    outside ``if __name__ == "__main__":`` would then start a cluster in
    each worker, and Dask prints some 200 lines ending in "Nanny failed to
    start". Called where a local cluster is about to start: in the main
    process it does nothing; in a process still importing its parent's main
    module (``multiprocessing``'s bootstrap) it exits that process at once,
    telling :func:`local_cluster` in the parent, which raises one
    ``RuntimeError`` (:data:`MAIN_GUARD`) instead.
    """
    import multiprocessing

    if not getattr(multiprocessing.current_process(), "_inheriting", False):
        return
    marker = os.environ.get(_MARKER)
    if marker:
        Path(marker).touch()
        raise SystemExit(1)  # quietly: the parent's local_cluster says what is wrong, once
    raise SystemExit(f"error: {MAIN_GUARD}")


@contextlib.contextmanager
def _environ(name: str, value: str):
    """Set an environment variable (inherited by the processes started meanwhile) for the block."""
    previous = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous


@contextlib.contextmanager
def _held_logs(name: str):
    """Hold back the records of logger ``name`` (and its children) during the block; emit them after it.

    Yields the list of held records: clear it to drop them (the failures a
    missing main guard causes, which :data:`MAIN_GUARD` replaces).
    """
    held = []

    class Hold(logging.Filter):
        def filter(self, record):
            if record.name == name or record.name.startswith(name + "."):
                if not any(record is other for other in held):  # once, whichever handlers it reaches
                    held.append(record)
                return False
            return True

    handlers = {*logging.getLogger(name).handlers, *logging.getLogger().handlers}
    hold = Hold()
    for handler in handlers:
        handler.addFilter(hold)
    try:
        yield held
    finally:
        for handler in handlers:
            handler.removeFilter(hold)
        for record in held:
            logging.getLogger(record.name).handle(record)


@contextlib.contextmanager
def dask_executor(scheduler: str | None, n_workers: int, modules: tuple[str, ...], config: tuple):
    """A :func:`waiting_dask_executor` on a running scheduler, or on a :func:`local_cluster` started for the block.

    Raises
    ------
    ConnectionError
        When no scheduler answers at ``scheduler`` (within Dask's connect
        timeout, ``distributed.comm.timeouts.connect``).
    ValueError
        When the scheduler's workers run other versions (:func:`check_workers`).
    """
    from dask.distributed import Client

    if scheduler is not None:
        try:
            client = Client(scheduler)
        except OSError as exc:
            raise ConnectionError(
                f"scheduler: no Dask scheduler answered at {scheduler!r} ({exc}). Start one there (`dask scheduler`), "
                "correct the address, or leave scheduler out to start a local cluster."
            ) from None
        with client:
            check_workers(client)
            yield waiting_dask_executor(client, modules, config)
        return
    with local_cluster(n_workers) as cluster, Client(cluster) as client:
        yield waiting_dask_executor(client, modules, config)


MATCHING_LIBRARIES = ("cvn_sklearn", "numpy", "pandas", "scipy", "scikit-learn", "xgboost", "lightgbm", "catboost",
                      "dask", "distributed", "cloudpickle")
"""Libraries whose versions a sweep's workers must share with its driver (with Python's major.minor)."""


def environment() -> dict:
    """Python's ``major.minor`` and the installed versions of :data:`MATCHING_LIBRARIES` (``None``: not installed).

    Examples
    --------
    >>> import platform
    >>> environment()["python"] == ".".join(platform.python_version_tuple()[:2])
    True
    """
    import platform

    from cvn_sklearn._disk import library_versions

    return {"python": ".".join(platform.python_version_tuple()[:2]), **library_versions(MATCHING_LIBRARIES)}


def check_workers(client) -> None:
    """Refuse a cluster whose workers run another Python or other versions of :data:`MATCHING_LIBRARIES`.

    A cell's key records the driver's versions, but the cell is computed on a
    worker: a worker with another LightGBM would store its results under the
    driver's versions, and another cvn_sklearn may compute something else.
    Checked on the workers connected when the sweep starts; a worker that
    joins later checks each task it runs (``run_task``).

    Raises
    ------
    ValueError
        Naming each worker and what differs from the driver (or that it
        cannot run cvn_sklearn at all).
    """
    mine = environment()
    problems = []
    for worker, theirs in sorted(client.run(environment, on_error="return").items()):
        if isinstance(theirs, BaseException):
            problems.append(f"{worker} cannot run cvn_sklearn ({type(theirs).__name__}: {theirs})")
        elif theirs != mine:
            problems.append(f"{worker} runs {_differences(theirs, mine)}")
    if problems:
        raise ValueError(f"scheduler: the workers must run the driver's Python and libraries: {'; '.join(problems)}. "
                         "Install the same versions on every worker (see docs/dask.md).")


def _differences(theirs: dict, driver: dict) -> str:
    """``"lightgbm 4.3.0 (driver: 4.5.0), ..."``: what of ``theirs`` differs from the driver's :func:`environment`."""
    return ", ".join(f"{name} {theirs.get(name)} (driver: {version})" for name, version in driver.items()
                     if theirs.get(name) != version)


def waiting_dask_executor(client, modules: tuple[str, ...], config: tuple):
    """Hamilton's ``DaskExecutor`` that waits instead of polling, and sends nodes by name.

    The driver's task loop releases one task per iteration and checks the
    running tasks' states; here the oldest running task's check is where each
    iteration waits (``distributed.wait`` for the first of the running tasks
    to finish, up to 50 ms), unless a task was submitted since the last
    iteration, so tasks are still submitted back to back. Each task is sent
    without its nodes, named instead, with the driver's :func:`environment`;
    ``run_task`` on the worker checks it and takes the nodes from its own
    build of ``modules`` under ``config``.

    Parameters
    ----------
    client : distributed.Client
    modules : tuple of str
        The driver's modules (``cvn_sklearn.sweep.dag`` or modules of ``cvn_sklearn.dags``).
    config : tuple of (str, object)
        The driver's Hamilton config, as for
        :func:`cvn_sklearn.dags.cached_driver`.

    Returns
    -------
    hamilton.plugins.h_dask.DaskExecutor
    """
    from dask.distributed import wait
    from hamilton.execution.executors import TaskFutureWrappingPythonFuture, TaskState
    from hamilton.plugins.h_dask import DaskExecutor

    _check_modules(modules)
    driver = environment()

    class WaitingFuture(TaskFutureWrappingPythonFuture):
        def __init__(self, future, executor):
            super().__init__(future)
            self.executor = executor

        def get_state(self):
            executor = self.executor
            if executor.running and executor.running[0] is self:  # the first check of a loop iteration
                if executor.submitted:
                    executor.submitted = False
                else:
                    with contextlib.suppress(TimeoutError):
                        wait([f.future for f in executor.running], timeout=0.05, return_when="FIRST_COMPLETED")
            state = super().get_state()
            if state != TaskState.RUNNING:
                executor.running[:] = [f for f in executor.running if f is not self]
            return state

    class WaitingDaskExecutor(DaskExecutor):
        def __init__(self, *, client):
            super().__init__(client=client)
            self.running, self.submitted = [], False

        def submit_task(self, task):
            names = [node.name for node in task.nodes]
            nameless = dataclasses.replace(task, nodes=[])
            future = self.client.submit(run_task, modules, config, names, nameless, driver=driver, pure=False)
            future = WaitingFuture(future, self)
            self.running.append(future)
            self.submitted = True
            return future

    return WaitingDaskExecutor(client=client)


def run_task(modules: tuple[str, ...], config: tuple, names: list[str], task, driver: dict | None = None) -> dict:
    """Run a Hamilton task sent without its nodes: take them by name from this process's build of the DAG.

    ``driver`` is the driver's :func:`environment`: a worker running other
    versions refuses the task (``ValueError`` naming what differs).
    """
    from hamilton.execution.executors import base_execute_task

    if driver is not None and environment() != driver:
        raise ValueError(f"this Dask worker runs {_differences(environment(), driver)}: install the driver's Python and "
                         "libraries on every worker (see docs/dask.md).")
    nodes = _graph_nodes(modules, config)
    missing = [name for name in names if name not in nodes]
    if missing:
        raise ValueError(
            f"the DAG of {list(modules)} built in this worker has no nodes {missing}: the worker runs another "
            "version of cvn_sklearn than the driver. Install the same version on the driver and every worker."
        )
    results = base_execute_task(dataclasses.replace(task, nodes=[nodes[name] for name in names]))
    # Hamilton returns a task's overrides with its results: a cell's (or base job's) own rows need not travel back
    return {key: value._replace(data=None) if key in task.overrides and hasattr(value, "_replace")
            and getattr(value, "data", None) is not None else value for key, value in results.items()}


@functools.lru_cache(maxsize=8)
def _graph_nodes(modules: tuple[str, ...], config: tuple) -> dict:
    """The nodes of the DAG of ``modules`` under ``config``, by name; built once per process."""
    from cvn_sklearn.dags import cached_driver

    _check_modules(modules)
    return dict(cached_driver(modules, config, "local").graph.nodes)


def _check_modules(modules) -> None:
    """Only this package's DAG modules are built from a task's reference."""
    if not modules or any(not (isinstance(m, str) and m.startswith(_DAG_MODULES)) for m in modules):
        raise ValueError(f"modules must be cvn_sklearn.sweep.dag or modules of cvn_sklearn.dags, got {modules!r}")
