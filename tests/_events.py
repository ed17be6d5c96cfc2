"""Capture cvn_sklearn events in a test without leaving structlog configured afterwards.

``structlog.testing.capture_logs`` leaves ``structlog.is_configured()`` True
when it exits, after which events print to stdout (and break doctests that
run later in the same worker). Resetting structlog's defaults restores the
silent library default of :func:`cvn_sklearn.events.get_logger`.
"""

from contextlib import contextmanager

import structlog
from structlog.testing import capture_logs


@contextmanager
def captured_events():
    """Yield the list of events emitted inside the block."""
    try:
        with capture_logs() as logs:
            yield logs
    finally:
        structlog.reset_defaults()
