"""What a model file may hold: the one trust rule of cvn_sklearn's model files.

:func:`trusted_types` lists the types a skops file holds and refuses any that
is not an estimator (the registry's, scikit-learn's, the toolkit's
meta-estimators) or data: nothing read from a file decides which code runs.
:mod:`cvn_sklearn.persist` (MLflow model files) and
:mod:`cvn_sklearn.oos_store` (refit files) both load through it.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from cvn_sklearn.adapter import UntrustedModelError

__all__ = ["UntrustedModelError", "trusted_types"]

# scikit-learn types that skops does not trust by default but that only hold data (arrays, dicts).
_SKLEARN_TRUSTED = (
    "sklearn.utils._bunch.Bunch",
    "sklearn.tree._tree.Tree",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.calibration._TemperatureScaling",
)

# The toolkit's meta-estimators: they wrap estimators (each checked in turn) and hold fitted data.
_META_ESTIMATORS = (
    "cvn_sklearn.calibration.Calibrate",
    "cvn_sklearn.threshold.ThetaSweep",
    "cvn_sklearn.pipeline.CalibratedThetaClassifier",
    "cvn_sklearn.stacking.StackingClassifier",
    "cvn_sklearn.stacking.RegistryEnsemble",
    "cvn_sklearn.blending.BlendClassifier",
    "cvn_sklearn.blending.ShrunkLogitBlend",
)

# The toolkit's data types found inside fitted estimators: calibration maps, θ results, splitters (ints).
_CVN_DATA = (
    "cvn_sklearn.calibration._IsotonicCalibration",
    "cvn_sklearn.calibration._TemperatureCalibration",
    "cvn_sklearn.calibration._BetaCalibration",
    "cvn_sklearn.threshold.ThetaSweepResult",
    "cvn_sklearn.model_selection.WalkForwardSplit",
    "cvn_sklearn._heldout.SameRows",
)


# -- trusted types -------------------------------------------------------------------------
def trusted_types(model: str | Path | bytes, also=()) -> list[str]:
    """The types skops may construct from a model file; refuse any other.

    Loading trusts estimators only, and the data they hold:

    * the registry's estimators (models and ensembles, a plugin's too:
      :data:`cvn_sklearn.registry.registry`);
    * scikit-learn's estimators (subclasses of ``sklearn.base.BaseEstimator``
      defined in ``sklearn``) and splitters;
    * the toolkit's meta-estimators (``Calibrate``, ``ThetaSweep``,
      ``CalibratedThetaClassifier``, the stacking and blending classes);
    * data: what skops trusts by default (numpy, builtins), the short list of
      scikit-learn data holders in ``_SKLEARN_TRUSTED``, and the toolkit's
      fitted calibration maps, θ results and splitters (``_CVN_DATA``).

    Any other type is refused, a ``cvn_sklearn`` one too: an
    :class:`~cvn_sklearn.oos_store.OOSStore`, a part of a
    :class:`~cvn_sklearn.contracts.TrainedArtifact` other than its estimator,
    a registry, a store... Which types are trusted comes from this code, never
    from the file.

    Parameters
    ----------
    model : str, Path or bytes
        A ``.skops`` file, or its content.
    also : collection of str, default=()
        More type names to trust, which the caller takes from its own code
        (the OOS store passes the classes of the estimator it refits).

    Returns
    -------
    list of str
        The file's types outside skops' defaults, all checked.

    Raises
    ------
    UntrustedModelError
        If the file holds any other type (naming the file and the types).
    """
    import skops.io

    found = (
        skops.io.get_untrusted_types(data=model)
        if isinstance(model, bytes)
        else skops.io.get_untrusted_types(file=model)
    )
    refused = [name for name in found if not (name in also or _trusted(name))]
    if refused:
        where = "The model file" if isinstance(model, bytes) else f"The model file {model}"
        raise UntrustedModelError(
            f"{where} holds types that cvn_sklearn does not trust: {refused}. Refusing to load it; loading trusts "
            "the registry's estimators, scikit-learn's estimators, cvn_sklearn's meta-estimators and plain data "
            "only (a file written by log_artifact holds nothing else)."
        )
    return found


def _trusted(name: str) -> bool:
    """Whether loading may construct the type ``name`` (see :func:`trusted_types`)."""
    return (name in _SKLEARN_TRUSTED or name in _META_ESTIMATORS or name in _CVN_DATA
            or name in _registry_classes() or _is_sklearn_estimator(name))


def _registry_classes() -> set[str]:
    """``module.QualName`` of every registry entry's class (models and ensembles, plugins too)."""
    from cvn_sklearn.registry import registry

    return {f"{entry.cls.__module__}.{entry.cls.__qualname__}" for entry in map(registry.entry, registry)}


def _is_sklearn_estimator(name: str) -> bool:
    """Whether ``name`` is a scikit-learn estimator or splitter class (only ``sklearn`` modules are imported)."""
    if not name.startswith("sklearn."):
        return False
    from sklearn.base import BaseEstimator
    from sklearn.model_selection import BaseCrossValidator, BaseShuffleSplit

    try:
        obj = _class(name)
    except (ImportError, AttributeError, ValueError):
        return False
    return isinstance(obj, type) and issubclass(obj, (BaseEstimator, BaseCrossValidator, BaseShuffleSplit))


def _class(name: str) -> type:
    """The class ``module.QualName`` (imported: call it only for names already trusted or in ``sklearn``)."""
    module, _, attr = name.rpartition(".")
    return getattr(importlib.import_module(module), attr)
