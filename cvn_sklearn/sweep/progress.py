"""The sweep's progress line, fed by its events: cells done / total, cached, failed, elapsed, ETA."""

from __future__ import annotations

import sys
from time import perf_counter

__all__ = ["Progress"]


class Progress:
    """A progress line fed by the sweep's events: cells done / total, cached, failed, elapsed, ETA.

    On a terminal it redraws one line; otherwise it prints a plain line every
    10% of the cells (and the last one). Events are consumed, not printed;
    ``executor_chosen`` (where the cells run and why) is one line before them.
    """

    def __init__(self, *, quiet: bool = False, stream=None):
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.total = self.done = self.cached = self.failed = self.computed = 0
        self.started = perf_counter()
        self.printed_step = -1

    def __enter__(self):
        import structlog

        structlog.configure(processors=[self._on_event])
        return self

    def __exit__(self, *exc):
        import structlog

        structlog.reset_defaults()
        if not self.quiet and self.stream.isatty():
            print(file=self.stream)

    def _on_event(self, logger, method, event_dict):
        import structlog

        name = event_dict.get("event")
        if name == "executor_chosen":
            if not self.quiet:
                print(f"executor: {event_dict['executor']} ({event_dict['reason']})", file=self.stream, flush=True)
        elif name == "screen_started":
            self.total, self.started = event_dict["n_cells"], perf_counter()
        elif name == "cell_complete":
            self.done += 1
            self.cached += bool(event_dict["cached"])
            self.failed += event_dict["status"] != "ok"
            self.computed += not event_dict["cached"]
            self._show()
        raise structlog.DropEvent

    def _show(self):
        if self.quiet or not self.total:
            return
        elapsed = perf_counter() - self.started
        left = self.total - self.done
        rate = elapsed / max(self.computed, 1)
        eta = "0s" if left == 0 else (f"{rate * left:.0f}s" if self.computed else "?")
        line = (f"cells {self.done}/{self.total} ({self.cached} cached, {self.failed} failed), "
                f"elapsed {elapsed:.0f}s, ETA {eta}")
        if self.stream.isatty():
            width = 30
            filled = int(width * self.done / self.total)
            print(f"\r[{'#' * filled}{'.' * (width - filled)}] {line}", end="", file=self.stream, flush=True)
            return
        step = int(10 * self.done / self.total)
        if step != self.printed_step or self.done == self.total:
            self.printed_step = step
            print(line, file=self.stream, flush=True)
