"""Repository-wide pytest setup.

``SCIPY_ARRAY_API=1`` must be set before scipy is imported, so that
scikit-learn's ``check_array_api_input`` runs instead of being skipped.
"""

import os

os.environ.setdefault("SCIPY_ARRAY_API", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
