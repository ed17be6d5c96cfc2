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

A failing run is one exception: the original one, its message prefixed with
the registry name (and the walk-forward fold), and nothing written to stderr
(Hamilton's own error log, with its banner and the node inputs, which may hold
secrets, is silenced while a cvn_sklearn driver runs).
"""

import contextlib
import contextvars
import functools
import importlib
import logging
import os
from typing import Any

import structlog
from hamilton import registry as _extensions

if not _extensions.INITIALIZED and os.environ.get(_extensions.HAMILTON_AUTOLOAD_ENV) is None:
    # Hamilton loads an extension for every library it knows (xgboost, lightgbm, MLflow, Dask, matplotlib,
    # plotly, ...) when its decorators are first imported: that imports them all, most of a cached sweep's
    # start-up. These DAGs need numpy's and pandas' only. HAMILTON_AUTOLOAD_EXTENSIONS, when set, decides.
    for _name in ("numpy", "pandas"):
        with contextlib.suppress(ImportError, NotImplementedError):
            _extensions.load_extension(_name)
    _extensions.INITIALIZED = True

from hamilton import driver  # noqa: E402 - after the extensions are settled
from hamilton.execution import executors  # noqa: E402
from hamilton.lifecycle.base import BasePostNodeExecute  # noqa: E402

from sklearn.frozen import FrozenEstimator

from cvn_sklearn.calibration import Calibrate
from cvn_sklearn.contracts import TrainedArtifact
from cvn_sklearn.events import emit
from cvn_sklearn.pipeline import CalibratedThetaClassifier
from cvn_sklearn.threshold import ThetaSweep

FIXED_PARAMS = ("cvn_sklearn.dags.fixed_params",)


class TrainingComplete(BasePostNodeExecute):
    """Emit ``training_complete`` when a ``fixed_params`` run has built its artifact (also inside a ``@subdag``).

    A hook after each node only, at Hamilton's base level (``post_node_execute``
    with the node itself): no hook before each node, and no dict of the node's
    tags and input types built for each of the ~40 nodes of a sweep's cell.
    """

    def post_node_execute(
        self, *, node_, kwargs: dict, success: bool, error: Exception | None, result: Any, **future_kwargs: Any
    ):
        """After a node named ``artifact`` (or ``<namespace>.artifact``) succeeded, emit its event.

        A node that failed with an ``event_context`` (a walk-forward fold's) marks its exception with
        that fold, so the front door's error message names it.
        """
        is_artifact = node_.name.rsplit(".", 1)[-1] == "artifact"
        if success and not is_artifact:  # most nodes: nothing to do
            return
        # inside a @subdag the inputs are namespaced: "<namespace>.event_context"
        context = next((v for k, v in kwargs.items() if k.rsplit(".", 1)[-1] == "event_context"), {})
        if not success and error is not None and "fold" in context:
            error._cvn_fold = context["fold"]
        if success and is_artifact and isinstance(result, TrainedArtifact):
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


_RUNNING = contextvars.ContextVar("cvn_sklearn_driver_running", default=False)


class _WhileRunning(logging.Filter):
    """Drops Hamilton's log records while a cvn_sklearn driver runs in this context."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not _RUNNING.get()


_SILENCE = _WhileRunning()


@contextlib.contextmanager
def _quiet():
    """Silence Hamilton's loggers (its error banner, node inputs) for the block, in this context only."""
    for name in list(logging.root.manager.loggerDict):
        if name == "hamilton" or name.startswith("hamilton."):
            logging.getLogger(name).addFilter(_SILENCE)  # a no-op once added
    token = _RUNNING.set(True)
    try:
        yield
    finally:
        _RUNNING.reset(token)


def _where(inputs: dict, exc: BaseException) -> str:
    """``"<registry name>"`` or ``"<registry name>, fold <k>"`` of a run, for error messages."""
    name = inputs.get("model_name") or inputs.get("run_spec", {}).get("model_name") or "cvn_sklearn run"
    fold = getattr(exc, "_cvn_fold", structlog.contextvars.get_contextvars().get("fold"))
    return f"{name}" if fold is None else f"{name}, fold {fold}"


class QuietDriver:
    """A Hamilton driver whose failures are the original exception, named, with nothing on stderr.

    ``execute`` re-raises the node's own exception (same type, same
    traceback), its message prefixed with the run's registry name and fold;
    every other attribute is the wrapped driver's.

    Parameters
    ----------
    wrapped : hamilton.driver.Driver
    """

    def __init__(self, wrapped: driver.Driver):
        self.wrapped = wrapped

    def __getattr__(self, name):
        return getattr(self.wrapped, name)

    def execute(self, final_vars: list, inputs: dict, overrides: dict | None = None) -> dict:
        """Run the DAG to ``final_vars`` (``overrides``: node values given, not computed); see the class docstring for failures."""
        with _quiet():
            try:
                return self.wrapped.execute(final_vars, inputs=inputs, overrides=overrides)
            except Exception as exc:
                _name(exc, _where(inputs, exc))
                raise


def _name(exc: BaseException, where: str) -> None:
    """Prefix ``exc``'s message with ``where`` once (nested drivers name the innermost run)."""
    if getattr(exc, "_cvn_where", None) is not None:
        return
    exc._cvn_where = where
    if exc.args and isinstance(exc.args[0], str):
        exc.args = (f"{where}: {exc.args[0]}", *exc.args[1:])
    else:
        exc.add_note(f"in {where}")


def build_driver(modules: tuple[str, ...], config: tuple[tuple[str, object], ...], executor=None) -> QuietDriver:
    """The Hamilton driver of ``modules`` under ``config``.

    Parameters
    ----------
    modules : tuple of str
        Module names, e.g. ``FIXED_PARAMS``.
    config : tuple of (str, object)
        The Hamilton config as sorted pairs (hashable, so it keys the cache).
    executor : hamilton.execution.executors.TaskExecutor or str, default=None
        Enables dynamic execution (``Parallelizable`` / ``Collect``) and runs
        the parallel blocks on it; ``"local"`` is the synchronous in-process
        executor. ``None`` builds a plain driver.

    Returns
    -------
    QuietDriver
        The driver; failures raise the original exception, named, and print nothing.
    """
    loaded = [importlib.import_module(name) for name in modules]
    # a module may name lifecycle adapters of its own (classes it defines), e.g. the sweep's failure catcher
    own = [getattr(module, name)() for module in loaded for name in getattr(module, "LIFECYCLE_ADAPTERS", ())]
    builder = driver.Builder().with_modules(*loaded).with_config(dict(config)).with_adapters(TrainingComplete(), *own)
    if executor is not None:
        local = executors.SynchronousLocalTaskExecutor()
        remote = local if executor == "local" else executor
        builder = builder.enable_dynamic_execution(allow_experimental_mode=True).with_local_executor(local)
        builder = builder.with_remote_executor(remote)
    with _quiet():
        return QuietDriver(builder.build())


@functools.lru_cache(maxsize=64)
def cached_driver(modules: tuple[str, ...], config: tuple[tuple[str, object], ...], executor=None) -> QuietDriver:
    """:func:`build_driver`, built on first use and then reused (per modules, config and executor).

    Keep it to executors that live as long as the process (``None``,
    ``"local"``): the cache holds on to each executor it is given, and with it
    a Dask executor's client.
    """
    return build_driver(modules, config, executor)


def fixed_params_config(calibration, objective, meta_label=None) -> tuple[tuple[str, bool], ...]:
    """The config of :mod:`~cvn_sklearn.dags.fixed_params`: which of calibration, θ, meta-labeling run."""
    return (
        ("calibrate", calibration is not None),
        ("tune_theta", objective is not None),
        ("meta_labeling", meta_label is not None),
    )


def train_artifact(inputs: dict, buy: Any = None):
    """Run :mod:`~cvn_sklearn.dags.fixed_params` on ``inputs`` and return its ``TrainedArtifact``.

    ``inputs`` holds ``model_name``, ``datasets``, ``hpo_params``,
    ``calibration``, ``objective``, ``constraints`` and ``pos_label``, and
    optionally ``meta_label``, ``meta_label_params`` and ``event_context``,
    already validated (see :func:`cvn_sklearn.harness.train_one`). ``buy``, the
    buy label the front door derived, is given to the DAG rather than derived
    again (``None``: the DAG derives it). Called by the front doors only, never
    from a node.
    """
    inputs = {"meta_label": None, "meta_label_params": {}, "event_context": {}, "cusum_metadata": None, **inputs}
    config = fixed_params_config(inputs["calibration"], inputs["objective"], inputs["meta_label"])
    overrides = None if buy is None else {"buy": buy}
    return cached_driver(FIXED_PARAMS, config).execute(["artifact"], inputs=inputs, overrides=overrides)["artifact"]
