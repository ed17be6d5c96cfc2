"""Every private scikit-learn name cvn_sklearn uses, imported in one place.

scikit-learn does not promise stability for names starting with ``_``. Keeping
them here means a scikit-learn upgrade that moves one breaks this module only,
and the fix is one line.
"""

from sklearn.base import _fit_context
from sklearn.calibration import _SigmoidCalibration, _TemperatureScaling
from sklearn.ensemble._stacking import _BaseStacking
from sklearn.model_selection._validation import _fit_and_predict
from sklearn.utils import _safe_indexing
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    RealNotInt,
    StrOptions,
    validate_parameter_constraints,
)
from sklearn.utils._repr_html.estimator import _VisualBlock
from sklearn.utils.metaestimators import _BaseComposition
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



def stacking_features(stacker, X, predictions):
    """scikit-learn's stacking feature matrix from base-model outputs, and the columns each adds.

    ``stacker`` needs ``stack_method_``, ``classes_`` and ``passthrough``; a
    binary ``predict_proba`` adds one column (the positive class).
    """
    X_meta = _BaseStacking._concatenate_predictions(stacker, X, predictions)
    return X_meta, stacker._n_feature_outs


def stacking_method_name(name, estimator, method):
    """The response method a stacker calls on ``estimator`` (``"auto"``: predict_proba, else ...)."""
    return _BaseStacking._method_name(name, estimator, method)


def validate_names(estimator, names):
    """scikit-learn's check of sub-estimator names: unique, no ``__``, not a parameter name."""
    _BaseComposition._validate_names(estimator, names)


__all__ = [
    "HasMethods",
    "Interval",
    "RealNotInt",
    "StrOptions",
    "_SigmoidCalibration",
    "_TemperatureScaling",
    "_VisualBlock",
    "_check_feature_names_in",
    "_check_method_params",
    "_check_sample_weight",
    "_fit_and_predict",
    "_fit_context",
    "_num_samples",
    "_raise_for_params",
    "_routing_enabled",
    "_safe_indexing",
    "fit_requests",
    "stacking_features",
    "stacking_method_name",
    "validate_names",
    "validate_parameter_constraints",
]
