"""cvn_sklearn: honest scikit-learn estimators for binary trading-signal classifiers.

The public names are imported lazily, so ``import cvn_sklearn`` stays cheap and
imports none of the boosting libraries.
"""

from importlib import import_module

# Bound eagerly so that ``cvn_sklearn.registry`` is the registry object, not its module.
# Cheap: discovery is lazy and imports no boosting library.
from cvn_sklearn.registry import register_ensemble, register_model, registry

__version__ = "0.1.0"

_PUBLIC = {
    "Calibrate": "cvn_sklearn.calibration",
    "ThetaSweep": "cvn_sklearn.threshold",
    "theta_sweep": "cvn_sklearn.threshold",
    "CalibratedThetaClassifier": "cvn_sklearn.pipeline",
    "make_pipeline": "cvn_sklearn.pipeline",
    "configure_logging": "cvn_sklearn.events",
    "train_one": "cvn_sklearn.harness",
    "walk_forward": "cvn_sklearn.harness",
    "tune": "cvn_sklearn.harness",
    "screen": "cvn_sklearn.sweep.run",
    "ScreenConfig": "cvn_sklearn.sweep.config",
    "Datasets": "cvn_sklearn.contracts",
    "TrainedArtifact": "cvn_sklearn.contracts",
}

__all__ = sorted([*_PUBLIC, "register_ensemble", "register_model", "registry"])


def __getattr__(name):
    try:
        module = _PUBLIC[name]
    except KeyError:
        raise AttributeError(f"module 'cvn_sklearn' has no attribute {name!r}") from None
    return getattr(import_module(module), name)


def __dir__():
    return sorted([*globals(), *_PUBLIC])
