"""Apache Hamilton modules: each public function is a node, its parameters the nodes it needs.

* :mod:`~cvn_sklearn.dags.fixed_params`: one model with fixed hyperparameters,
  from a :class:`~cvn_sklearn.contracts.Datasets` to a
  :class:`~cvn_sklearn.contracts.TrainedArtifact`;
* :mod:`~cvn_sklearn.dags.walk_forward`: the same per walk-forward fold, as a
  ``@subdag`` of ``fixed_params`` inside a ``Parallelizable`` / ``Collect`` block;
* :mod:`~cvn_sklearn.dags.hpo`: an Optuna study over the model's search space.

The nodes are pure: estimators are cloned before they are fitted. No driver
runs inside a node. The front doors in :mod:`cvn_sklearn.harness` build each
driver once and reuse it; ``training_complete`` is emitted by the
:class:`TrainingComplete` lifecycle hook, not by a node.
"""

import functools
import importlib
from typing import Any

import structlog
from hamilton import driver
from hamilton.execution import executors
from hamilton.lifecycle import NodeExecutionHook

from sklearn.frozen import FrozenEstimator

from cvn_sklearn.calibration import Calibrate
from cvn_sklearn.events import emit
from cvn_sklearn.pipeline import CalibratedThetaClassifier
from cvn_sklearn.threshold import ThetaSweep

FIXED_PARAMS = ("cvn_sklearn.dags.fixed_params",)


class TrainingComplete(NodeExecutionHook):
    """Emit ``training_complete`` when a ``fixed_params`` run has built its artifact (also inside a ``@subdag``)."""

    def run_before_node_execution(self, **future_kwargs: Any):
        """Nothing before a node."""

    def run_after_node_execution(
        self, *, node_name: str, node_kwargs: dict, result: Any, success: bool, **future_kwargs: Any
    ):
        """After a node named ``artifact`` (or ``<namespace>.artifact``) succeeded, emit its event."""
        if success and node_name.rsplit(".", 1)[-1] == "artifact":
            # inside a @subdag the inputs are namespaced: "<namespace>.event_context"
            context = next((v for k, v in node_kwargs.items() if k.rsplit(".", 1)[-1] == "event_context"), {})
            with structlog.contextvars.bound_contextvars(**context):
                emit_training_complete(result)


def emit_training_complete(artifact) -> None:
    """Emit ``training_complete`` for a :class:`~cvn_sklearn.contracts.TrainedArtifact`."""
    model = _model_of(artifact.estimator)
    shape, val = artifact.dataset_shape, artifact.metrics_val
    emit(
        "training_complete",
        model_type=artifact.model_name,
        n_estimators_final=getattr(model, "n_estimators_final_", None),
        best_iteration=getattr(model, "best_iteration_", None),
        training_time_sec=artifact.training_time_sec,
        dataset_n_train=shape.n_train,
        dataset_n_features=shape.n_features,
        class_dist_buy_pct=shape.buy_pct_train,
        theta_picked=artifact.threshold,
        auc_val=val.auc,
        f1_buy_val=val.f1_buy,
        brier_val=val.brier,
        ece_val=val.ece,
        rows_fit=shape.rows_fit,
        rows_early_stopping=shape.rows_early_stopping,
        rows_calibration=shape.rows_calibration,
        rows_theta=shape.rows_theta,
        rows_test=shape.rows_test,
    )


def _model_of(fitted):
    """The fitted model inside the calibration / θ wrappers and frozen estimators."""
    if isinstance(fitted, FrozenEstimator):
        return _model_of(fitted.estimator)
    if isinstance(fitted, (ThetaSweep, CalibratedThetaClassifier)):
        return _model_of(fitted.estimator_)
    if isinstance(fitted, Calibrate):
        return _model_of(fitted.estimators_[0])
    return fitted


@functools.lru_cache(maxsize=64)
def cached_driver(modules: tuple[str, ...], config: tuple[tuple[str, object], ...], executor=None) -> driver.Driver:
    """The Hamilton driver of ``modules`` under ``config``, built on first use and then reused.

    Parameters
    ----------
    modules : tuple of str
        Module names, e.g. :data:`FIXED_PARAMS`.
    config : tuple of (str, object)
        The Hamilton config as sorted pairs (hashable, so it keys the cache).
    executor : hamilton.execution.executors.TaskExecutor, default=None
        Enables dynamic execution (``Parallelizable`` / ``Collect``) and runs
        the parallel blocks on it; ``"local"`` is the synchronous in-process
        executor. ``None`` builds a plain driver.

    Returns
    -------
    hamilton.driver.Driver
    """
    builder = (
        driver.Builder()
        .with_modules(*[importlib.import_module(name) for name in modules])
        .with_config(dict(config))
        .with_adapters(TrainingComplete())
    )
    if executor is not None:
        local = executors.SynchronousLocalTaskExecutor()
        remote = local if executor == "local" else executor
        builder = builder.enable_dynamic_execution(allow_experimental_mode=True).with_local_executor(local)
        builder = builder.with_remote_executor(remote)
    return builder.build()


def fixed_params_config(calibration, objective, meta_label=None) -> tuple[tuple[str, bool], ...]:
    """The config of :mod:`~cvn_sklearn.dags.fixed_params`: which of calibration, θ, meta-labeling run."""
    return (
        ("calibrate", calibration is not None),
        ("tune_theta", objective is not None),
        ("meta_labeling", meta_label is not None),
    )


def train_artifact(inputs: dict):
    """Run :mod:`~cvn_sklearn.dags.fixed_params` on ``inputs`` and return its ``TrainedArtifact``.

    ``inputs`` holds ``model_name``, ``datasets``, ``hpo_params``,
    ``calibration``, ``objective``, ``constraints`` and ``pos_label``, and
    optionally ``meta_label``, ``meta_label_params`` and ``event_context``,
    already validated (see :func:`cvn_sklearn.harness.train_one`). Called by
    the front doors only, never from a node.
    """
    inputs = {"meta_label": None, "meta_label_params": {}, "event_context": {}, **inputs}
    config = fixed_params_config(inputs["calibration"], inputs["objective"], inputs["meta_label"])
    return cached_driver(FIXED_PARAMS, config).execute(["artifact"], inputs=inputs)["artifact"]
