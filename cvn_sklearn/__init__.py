"""cvn_sklearn: honest scikit-learn estimators for binary trading-signal classifiers.

The public names are imported lazily, so ``import cvn_sklearn`` stays cheap and
imports none of the boosting libraries.
"""

from importlib import import_module

__version__ = "0.1.0"

_PUBLIC = {
    "registry": "cvn_sklearn.registry",
    "register_model": "cvn_sklearn.registry",
    "register_ensemble": "cvn_sklearn.registry",
    "Calibrate": "cvn_sklearn.calibration",
    "ThetaSweep": "cvn_sklearn.threshold",
    "theta_sweep": "cvn_sklearn.threshold",
    "CalibratedThetaClassifier": "cvn_sklearn.pipeline",
    "make_pipeline": "cvn_sklearn.pipeline",
    "configure_logging": "cvn_sklearn.events",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name):
    try:
        module = _PUBLIC[name]
    except KeyError:
        raise AttributeError(f"module 'cvn_sklearn' has no attribute {name!r}") from None
    return getattr(import_module(module), name)


def __dir__():
    return sorted([*globals(), *_PUBLIC])
