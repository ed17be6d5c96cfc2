"""Every private scikit-learn name cvn_sklearn uses, imported in one place.

scikit-learn does not promise stability for names starting with ``_``. Keeping
them here means a scikit-learn upgrade that moves one breaks this module only,
and the fix is one line. (The one other contact is by inheritance:
:class:`cvn_sklearn.stacking.StackingClassifier` subclasses scikit-learn's and
calls the private methods it inherits; its docstring lists them.)
"""

from sklearn.base import _fit_context
from sklearn.calibration import _SigmoidCalibration, _TemperatureScaling
from sklearn.model_selection._validation import _fit_and_predict
from sklearn.utils import _safe_indexing
from sklearn.utils._openmp_helpers import _openmp_effective_n_threads
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    InvalidParameterError,
    RealNotInt,
    StrOptions,
    validate_parameter_constraints,
)
from sklearn.utils._repr_html.estimator import _VisualBlock
from sklearn.utils.metadata_routing import _raise_for_params, _routing_enabled
from sklearn.utils.validation import (
    _check_feature_names_in,
    _check_method_params,
    _check_sample_weight,
    _num_samples,
)


def fit_requests(estimator) -> dict:
    """The metadata an estimator requests for its own ``fit``: ``{name: True/False/None/alias}``."""
    return estimator._get_metadata_request().fit.requests


__all__ = [
    "HasMethods",
    "Interval",
    "InvalidParameterError",
    "RealNotInt",
    "StrOptions",
    "_SigmoidCalibration",
    "_TemperatureScaling",
    "_VisualBlock",
    "_check_feature_names_in",
    "_check_method_params",
    "_check_sample_weight",
    "_fit_and_predict",
    "_openmp_effective_n_threads",
    "_fit_context",
    "_num_samples",
    "_raise_for_params",
    "_routing_enabled",
    "_safe_indexing",
    "fit_requests",
    "validate_parameter_constraints",
]
