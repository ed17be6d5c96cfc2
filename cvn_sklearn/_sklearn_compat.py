"""The one place where private scikit-learn helpers are imported.

scikit-learn does not promise these names across releases; if one moves, this
module is the only file to change.
"""

# --- used by model_selection.py and stacking.py (walk-forward / OOS) ---------
from sklearn.model_selection._validation import _fit_and_predict
from sklearn.utils._param_validation import Interval, validate_parameter_constraints
from sklearn.utils.metadata_routing import _routing_enabled
from sklearn.utils.validation import _num_samples

__all__ = ["Interval", "_fit_and_predict", "_num_samples", "_routing_enabled", "validate_parameter_constraints"]
