"""The one place where private scikit-learn helpers are imported.

scikit-learn does not promise these names across releases; if one moves, this
module is the only file to change.
"""

# --- used by model_selection.py and stacking.py (walk-forward / OOS) ---------
from sklearn.model_selection._validation import _fit_and_predict
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions, validate_parameter_constraints
from sklearn.utils._repr_html.estimator import _VisualBlock
from sklearn.utils.metadata_routing import _raise_for_params, _routing_enabled
from sklearn.utils.validation import _check_feature_names_in, _check_method_params, _check_sample_weight, _num_samples

__all__ = [
    "HasMethods",
    "Interval",
    "StrOptions",
    "_VisualBlock",
    "_check_feature_names_in",
    "_check_method_params",
    "_check_sample_weight",
    "_fit_and_predict",
    "_num_samples",
    "_raise_for_params",
    "_routing_enabled",
    "validate_parameter_constraints",
]
