"""The front doors: one training function for every model, ensemble and consumer.

:func:`train_one` runs the Apache Hamilton module
:mod:`cvn_sklearn.dags.fixed_params` and returns a
:class:`~cvn_sklearn.contracts.TrainedArtifact`. Each Hamilton driver is built
once per (module set, config) and cached, so the orchestration costs a
fraction of a millisecond per call; inputs are never hashed.

Examples
--------
>>> import numpy as np
>>> from cvn_sklearn.contracts import Datasets
>>> from cvn_sklearn.harness import train_one
>>> rng = np.random.RandomState(0)
>>> X = rng.normal(size=(400, 4)); y = (X[:, 0] + rng.normal(size=400) > 0.5).astype(int)
>>> artifact = train_one("logreg", Datasets.temporal_split(X, y), {"C": 0.5})
>>> 0.0 < artifact.threshold < 1.0, artifact.metrics_val.n, artifact.hyperparams["C"]
(True, 60, 0.5)
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Mapping

from hamilton import driver

from cvn_sklearn.adapter import Adapter
from cvn_sklearn.calibration import Calibrate
from cvn_sklearn.contracts import Datasets, TrainedArtifact
from cvn_sklearn.events import emit
from cvn_sklearn.pipeline import CalibratedThetaClassifier
from cvn_sklearn.threshold import ThetaSweep

__all__ = ["THETA_CONSTRAINTS", "train_one"]

FIXED_PARAMS = ("cvn_sklearn.dags.fixed_params",)
THETA_CONSTRAINTS = ("beta", "min_recall", "min_positives", "max_positive_rate", "max_positive_rate_ratio")


@functools.cache
def _driver(modules: tuple[str, ...], config: tuple[tuple[str, object], ...]) -> driver.Driver:
    """The Hamilton driver of ``modules`` under ``config``, built on first use and then reused."""
    loaded = [importlib.import_module(name) for name in modules]
    return driver.Builder().with_modules(*loaded).with_config(dict(config)).build()


def _fixed_params_driver(calibration, objective) -> driver.Driver:
    return _driver(FIXED_PARAMS, (("calibrate", calibration is not None), ("tune_theta", objective is not None)))


def _check_constraints(constraints: Mapping | None, objective: str | None) -> dict:
    constraints = dict(constraints or {})
    unknown = sorted(set(constraints) - set(THETA_CONSTRAINTS))
    if unknown:
        raise ValueError(f"Unknown θ constraints {unknown}; the known ones are {list(THETA_CONSTRAINTS)}.")
    if constraints and objective is None:
        raise ValueError("constraints apply to the θ search; pass an objective (e.g. objective='f1') or no constraints.")
    return constraints


def _inputs(model_name, datasets, hpo_params, calibration, objective, constraints) -> dict:
    if not isinstance(datasets, Datasets):
        raise TypeError(f"datasets must be a cvn_sklearn.contracts.Datasets, got {type(datasets).__name__}.")
    return dict(
        model_name=model_name,
        datasets=datasets,
        hpo_params=dict(hpo_params or {}),
        calibration=calibration,
        objective=objective,
        constraints=_check_constraints(constraints, objective),
    )


def train_one(
    model_name: str,
    datasets: Datasets,
    hpo_params: Mapping | None = None,
    *,
    calibration: str | None = "isotonic",
    objective: str | None = "f1",
    constraints: Mapping | None = None,
) -> TrainedArtifact:
    """Train one registry model or ensemble and return its :class:`~cvn_sklearn.contracts.TrainedArtifact`.

    The model is fitted on ``datasets.train``; calibration and θ use the
    held-out end of the training rows, in time order (see
    :class:`~cvn_sklearn.CalibratedThetaClassifier`); ``val`` and ``test`` are
    scored with :func:`~cvn_sklearn.metrics.evaluate` at θ. Emits
    ``training_complete`` once, with θ and the validation metrics, after the
    model's own events.

    Parameters
    ----------
    model_name : str
        A registry name (``registry.models`` or ``registry.ensembles``).
    datasets : Datasets
    hpo_params : mapping, default=None
        Constructor parameters of the registry estimator, by native name (for
        instance the best parameters of :func:`tune`).
    calibration : {"isotonic", "sigmoid", "temperature", "beta", "auto"} or None, default="isotonic"
        The calibration method; ``None`` keeps the raw probabilities.
    objective : str or None, default="f1"
        What θ maximises (see :func:`~cvn_sklearn.theta_sweep`); ``None`` skips
        the θ search and uses θ = 0.5, the raw decision rule.
    constraints : mapping, default=None
        θ constraints and objective parameters: any of :data:`THETA_CONSTRAINTS`.

    Returns
    -------
    TrainedArtifact

    Raises
    ------
    ValueError
        For unknown constraints, or constraints without an objective.
    TypeError
        If ``datasets`` is not a :class:`~cvn_sklearn.contracts.Datasets`.
    """
    inputs = _inputs(model_name, datasets, hpo_params, calibration, objective, constraints)
    artifact = _fixed_params_driver(calibration, objective).execute(["artifact"], inputs=inputs)["artifact"]
    _emit_training_complete(artifact)
    return artifact


def _model_of(fitted):
    """The fitted model inside the calibration / θ wrappers."""
    if isinstance(fitted, (Calibrate, CalibratedThetaClassifier)):
        return fitted.estimators_[0]
    if isinstance(fitted, ThetaSweep):
        return _model_of(fitted.estimator_)
    return fitted


def _emit_training_complete(artifact: TrainedArtifact) -> None:
    model = _model_of(artifact.estimator)
    rounds = (model.n_estimators_final_, model.best_iteration_) if isinstance(model, Adapter) else (None, None)
    shape, val = artifact.dataset_shape, artifact.metrics_val
    emit(
        "training_complete",
        model_type=artifact.model_name,
        n_estimators_final=rounds[0],
        best_iteration=rounds[1],
        training_time_sec=artifact.training_time_sec,
        dataset_n_train=shape.n_train,
        dataset_n_features=shape.n_features,
        class_dist_buy_pct=shape.buy_pct_train,
        theta_picked=artifact.threshold,
        auc_val=val.auc,
        f1_buy_val=val.f1_buy,
        brier_val=val.brier,
        ece_val=val.ece,
    )
