"""Repository-wide pytest setup.

``SCIPY_ARRAY_API=1`` must be set before scipy is imported, so that
scikit-learn's ``check_array_api_input`` runs instead of being skipped.
``OMP_NUM_THREADS=1``: tests run in parallel workers (``pytest -n 2``), and
OpenMP threads of several workers on the same cores wait on each other.
"""

import logging
import os

import pytest
import structlog

os.environ.setdefault("SCIPY_ARRAY_API", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(autouse=True)
def _logging_unconfigured():
    """Each test (and doctest) starts with the library's logging defaults.

    ``structlog.testing.capture_logs`` and ``configure_logging`` leave structlog
    configured, after which events would print in later tests of the same worker.
    """
    root_handlers, root_level = logging.getLogger().handlers[:], logging.getLogger().level
    structlog.reset_defaults()
    yield
    structlog.reset_defaults()
    logging.getLogger().handlers[:] = root_handlers
    logging.getLogger().setLevel(root_level)
