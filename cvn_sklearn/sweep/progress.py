"""The sweep's progress: a tqdm bar fed by its events, with an ETA weighted by each cell's estimated cost.

:class:`Progress` watches a sweep's events (``screen_started``,
``base_model_complete``, ``cell_complete``, ``screen_complete``). On a
terminal (or in a Jupyter notebook) it draws a `tqdm <https://tqdm.github.io>`_ bar: cells done of the
cells to compute, the cells read from the store, the failed ones, the
elapsed time and the ETA; a sweep with nothing to compute prints one summary
line instead. Elsewhere (a pipe, a log file, CI) it draws nothing.

The ETA weighs what is left by what it costs, not by how many cells are left:
every job to run (each cell, and each stacker's shared base model) has its
estimated cost (``estimated_cost`` of :mod:`cvn_sklearn.sweep.plan`: the model's
``fit_cost`` on the job's rows), and each finished job tells how many seconds
a unit of cost takes for its model. A job of a model not seen finishing yet is
expected to take the mean of the jobs seen so far; the sum is scaled by the
wall time per second of job (below 1 with parallel workers).

``capture=True`` (the command line) also keeps library noise out of stderr
while the sweep runs: Python warnings become ``library_warning`` events, log
records (MLflow's "Creating initial database tables", ...) and any other text
written to ``sys.stderr`` become ``library_log`` events. With ``verbose=True``
every event is printed to the stream, one line each; otherwise they are
dropped (a user's own structlog configuration, if any, still receives the
events when ``capture`` is off).
"""

from __future__ import annotations

import io
import logging
import sys
import warnings
from pathlib import Path
from time import perf_counter

__all__ = ["Progress", "format_seconds"]


def format_seconds(seconds: float) -> str:
    """``seconds`` as ``42s``, ``3m05s`` or ``1h02m``.

    Examples
    --------
    >>> format_seconds(4.2), format_seconds(185), format_seconds(3725)
    ('4s', '3m05s', '1h02m')
    """
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class Progress:
    """A sweep's progress bar on a terminal, its ETA cost-weighted; optionally the keeper of library noise.

    ``executor_chosen`` (where the cells run and why) is one line before the
    bar when the config asked for ``dask`` or ``auto``; a ``store_file_rejected``
    warning (a damaged or foreign cell or file in the cell or OOS store,
    computed again; bytes in a segment that hold no cell, skipped) is one line
    naming the file and why, unless ``quiet``.

    Pass one to :func:`cvn_sklearn.sweep.run.screen` (``progress=``), which
    enters it around the sweep; ``progress=True`` makes a default one.

    Parameters
    ----------
    quiet : bool, default=False
        Draw nothing (events are still captured when ``capture``).
    verbose : bool, default=False
        Print every event to ``stream``, one line each (and the bar on a terminal).
    capture : bool, default=False
        Turn Python warnings, log records and text written to ``sys.stderr``
        during the sweep into ``library_warning`` / ``library_log`` events
        instead of letting them reach stderr.
    stream : file-like, default=None
        Where to draw; ``sys.stderr`` (as it is when the object is made) if ``None``.

    Examples
    --------
    >>> import io
    >>> progress = Progress(stream=io.StringIO())
    >>> progress.plan_jobs([("cell", "lightgbm", 4.0), ("cell", "lightgbm", 2.0), ("cell", "logreg", 1.0)])
    >>> progress.job_done("lightgbm", 2.0, kind="cell")  # 4 units of cost took 2 s: 0.5 s a unit
    >>> progress.started -= 2.0  # as if 2 s had passed
    >>> round(progress.eta())  # the other lightgbm cell (1 s), logreg not seen yet: the mean so far (2 s)
    3
    """

    def __init__(self, *, quiet: bool = False, verbose: bool = False, capture: bool = False, stream=None):
        self.quiet = quiet
        self.verbose = verbose
        self.capture = capture
        self.stream = stream if stream is not None else sys.stderr
        self.total = self.done = self.cached = self.failed = 0
        self.started = perf_counter()
        self.pending: list[tuple[str, str, float]] = []  # (kind, model, cost) of the jobs still to run
        self.seen: dict[str, list[float]] = {}  # model -> [seconds, cost, jobs] of its finished jobs
        self.job_seconds = 0.0
        self.variant_models: dict[str, str] = {}  # variant name -> registry model, from the plan
        self.bar = None
        self._restore = []

    # -- the bookkeeping --------------------------------------------------------------------------
    def plan_jobs(self, jobs) -> None:
        """The jobs to run, as ``(kind, model, estimated cost)``; kind ``"cell"`` or ``"base"``."""
        self.pending = [(kind, model, float(cost)) for kind, model, cost in jobs]
        self.started = perf_counter()

    def plan(self, plan) -> None:
        """The jobs of a sweep's :class:`~cvn_sklearn.sweep.plan.Plan`: its cells to compute and its base-model jobs."""
        import numpy as np

        from cvn_sklearn.cost import fit_cost
        from cvn_sklearn.events import model_type

        def features(symbol):
            return np.shape(plan.data[symbol].X)[1]

        jobs = []
        for job in plan.base_jobs:
            try:  # the OOS predictions over the stacker's folds and the refit: about two fits of the rows
                cost = 2.0 * fit_cost(job.estimator, len(job.rows), features(job.symbol))
            except Exception:  # noqa: BLE001 - an estimate only; the job's own error comes when it runs
                cost = 0.0
            jobs.append(("base", model_type(job.estimator), cost))
        jobs += [("cell", cell.variant.model, plan.costs[cell.key]) for cell in plan.todo]
        self.plan_jobs(jobs)
        self.variant_models = {cell.variant.name: cell.variant.model for cell in plan.cells}
        self.total, self.cached = len(plan.cells), len(plan.cached)
        self.done = self.cached
        self._open_bar()

    def job_done(self, model: str, seconds: float, *, kind: str) -> None:
        """A job of ``model`` finished in ``seconds``: learn its rate, drop it from the pending jobs."""
        index = next((i for i, (k, m, _) in enumerate(self.pending) if k == kind and m == model), None)
        cost = self.pending.pop(index)[2] if index is not None else 0.0
        seen = self.seen.setdefault(model, [0.0, 0.0, 0])
        seen[0] += seconds
        seen[1] += cost
        seen[2] += 1
        self.job_seconds += seconds

    def eta(self) -> float | None:
        """Seconds left: each pending job's expected seconds, scaled by wall time per job second; ``None`` before any job finished."""
        if not self.pending:
            return 0.0
        n_seen = sum(seen[2] for seen in self.seen.values())
        if not n_seen or self.job_seconds <= 0:
            return None
        mean = self.job_seconds / n_seen
        left = 0.0
        for _, model, cost in self.pending:
            seconds, seen_cost, n = self.seen.get(model, (0.0, 0.0, 0))
            if n and seen_cost > 0 and cost > 0:
                left += cost * seconds / seen_cost
            elif n:
                left += seconds / n
            else:
                left += mean
        return left * (perf_counter() - self.started) / self.job_seconds

    # -- the display ------------------------------------------------------------------------------
    def _drawing(self) -> bool:
        """Draw on a terminal, and in a notebook (Jupyter's stderr is no terminal but shows a redrawn line)."""
        notebook = type(self.stream).__module__.startswith("ipykernel")
        return not self.quiet and (notebook or bool(getattr(self.stream, "isatty", lambda: False)()))

    def _status(self, *, with_eta: bool = True) -> str:
        eta = self.eta()
        text = f"{self.done - self.cached}/{self.total - self.cached} cells"
        n_base = sum(1 for kind, _, _ in self.pending if kind == "base")
        text += f" ({n_base} base models first)" if n_base else ""
        text += f", {self.cached} cached, {self.failed} failed, {format_seconds(perf_counter() - self.started)}"
        if not with_eta:
            return text
        return text + (", ETA estimating" if eta is None else f", ETA {format_seconds(eta)}")

    def _open_bar(self) -> None:
        if not self._drawing() or self.total == self.cached:
            return
        from tqdm import tqdm

        self.bar = tqdm(total=len(self.pending), file=self.stream, leave=True, dynamic_ncols=True,
                        bar_format="screen {percentage:3.0f}%|{bar:20}| {desc}", mininterval=0.2)
        self.bar.set_description_str(self._status(), refresh=True)

    def _advance(self) -> None:
        if self.bar is not None:
            self.bar.set_description_str(self._status(), refresh=False)
            self.bar.update(1)

    def _summary(self, seconds: float) -> None:
        if not self._drawing():
            return
        if self.bar is not None:
            self.bar.set_description_str(self._status(with_eta=False), refresh=True)
            self.bar.close()
            self.bar = None
        elif self.total:
            print(f"screen: {self.total} cells, all from the store ({self.failed} failed), nothing to compute, "
                  f"{format_seconds(seconds)}", file=self.stream, flush=True)

    def _print(self, line: str) -> None:
        if self.bar is not None:
            self.bar.write(line, file=self.stream)
        else:
            print(line, file=self.stream, flush=True)

    # -- the events -------------------------------------------------------------------------------
    def _on_event(self, logger, method, event_dict):
        import structlog

        name = event_dict.get("event")
        if name == "executor_chosen":
            if not self.quiet and event_dict["requested"] != "local":
                self._print(f"executor: {event_dict['executor']} ({event_dict['reason']})")
        elif name == "cell_complete":
            self.failed += event_dict["status"] != "ok"
            if not event_dict["cached"]:
                self.done += 1
                self.job_done(self.variant_models.get(event_dict["variant"], ""), event_dict["seconds"], kind="cell")
                self._advance()
        elif name == "base_model_complete":
            self.job_done(event_dict["model"], event_dict["seconds"], kind="base")
            self._advance()
        elif name == "screen_complete":
            self._summary(event_dict["seconds"])
        elif name == "store_file_rejected" and not self.quiet and not self.verbose:
            from cvn_sklearn.events import SKIPPED

            reason = event_dict["reason"]  # bytes that hold no cell are skipped; a cell or file rejected is computed again
            outcome = "" if reason.endswith(SKIPPED) else "; computed again"
            self._print(f"warning: {event_dict['store']} store: {event_dict['path']} rejected ({reason}){outcome}")
        if self.verbose:
            fields = " ".join(f"{key}={value!r}" for key, value in event_dict.items() if key != "event")
            self._print(f"{method:<7} {name} {fields}")
        if self._passes_on:
            return event_dict
        raise structlog.DropEvent

    def __enter__(self):
        import structlog

        previous = structlog.get_config() if structlog.is_configured() else None
        self._passes_on = previous is not None and not self.capture
        processors = [self._on_event, *previous["processors"]] if self._passes_on else [self._on_event]
        structlog.configure(processors=processors)
        self._restore.append(lambda: structlog.configure(**previous) if previous else structlog.reset_defaults())
        if self.capture:
            self._capture()
        return self

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        while self._restore:
            self._restore.pop()()
        return False

    def _capture(self) -> None:
        from cvn_sklearn.events import emit

        catcher = warnings.catch_warnings()
        catcher.__enter__()
        self._restore.append(lambda: catcher.__exit__(None, None, None))

        def on_warning(message, category, filename, lineno, file=None, line=None):
            emit("library_warning", category=category.__name__, message=str(message),
                 where=f"{Path(filename).name}:{lineno}")

        warnings.showwarning = on_warning
        handler = _LogToEvents()
        loggers = [logging.getLogger(), *(logger for logger in logging.Logger.manager.loggerDict.values()
                                          if isinstance(logger, logging.Logger) and logger.handlers)]
        saved = [(logger, logger.handlers[:]) for logger in loggers]
        for logger in loggers:
            logger.handlers = [handler]

        def restore_handlers():
            for logger, handlers in saved:
                logger.handlers = handlers

        self._restore.append(restore_handlers)
        original = sys.stderr
        stderr = _StderrToEvents(original)
        sys.stderr = stderr

        def restore_stderr():
            stderr.flush_lines()
            stderr.active = False  # a handler made meanwhile keeps this stream: from now on it writes through
            if sys.stderr is stderr:
                sys.stderr = original

        self._restore.append(restore_stderr)


class _LogToEvents(logging.Handler):
    """A log record as a ``library_log`` event."""

    def emit(self, record: logging.LogRecord) -> None:
        from cvn_sklearn.events import emit

        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is logged as its raw message
            message = str(record.msg)
        emit("library_log", logger=record.name, level=record.levelname, message=message)


class _StderrToEvents(io.TextIOBase):
    """Stands in for ``sys.stderr``: each complete line becomes a ``library_log`` event while ``active``."""

    def __init__(self, original):
        super().__init__()
        self.original = original
        self.active = True
        self.buffer_text = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if not self.active:
            return self.original.write(text)
        self.buffer_text += text
        *lines, self.buffer_text = self.buffer_text.split("\n")
        for line in lines:
            self._emit(line)
        return len(text)

    def flush_lines(self) -> None:
        if self.buffer_text:
            self._emit(self.buffer_text)
            self.buffer_text = ""

    def flush(self) -> None:
        if not self.active:
            self.original.flush()

    def _emit(self, line: str) -> None:
        from cvn_sklearn.events import emit

        if line.strip():
            emit("library_log", logger="stderr", level="STDERR", message=line.rstrip())
