"""Repository-wide pytest setup.

``SCIPY_ARRAY_API=1`` must be set before scipy is imported, so that
scikit-learn's ``check_array_api_input`` runs instead of being skipped.
``OMP_NUM_THREADS=1``: tests run in parallel workers (``pytest -n 2``), and
OpenMP threads of several workers on the same cores wait on each other.
"""

import os

os.environ.setdefault("SCIPY_ARRAY_API", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("OMP_NUM_THREADS", "1")
