"""Apache Hamilton modules: each public function is a node, its parameters the nodes it needs.

* :mod:`~cvn_sklearn.dags.fixed_params`: one model with fixed hyperparameters,
  from a :class:`~cvn_sklearn.contracts.Datasets` to a
  :class:`~cvn_sklearn.contracts.TrainedArtifact`;
* :mod:`~cvn_sklearn.dags.walk_forward`: the same per walk-forward fold, the
  folds fanned out with ``Parallelizable`` / ``Collect``;
* :mod:`~cvn_sklearn.dags.hpo`: an Optuna study over the model's search space.

The nodes are pure: estimators are cloned before they are fitted. The front
doors in :mod:`cvn_sklearn.harness` build each driver once and reuse it.

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

import structlog
from hamilton import driver
from hamilton.execution import executors

FIXED_PARAMS = ("cvn_sklearn.dags.fixed_params",)


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


def _where(inputs: dict) -> str:
    """``"<registry name>"`` or ``"<registry name>, fold <k>"`` of a run, for error messages."""
    name = inputs.get("model_name") or inputs.get("run_spec", {}).get("model_name") or "cvn_sklearn run"
    fold = structlog.contextvars.get_contextvars().get("fold")
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

    def execute(self, final_vars: list, inputs: dict) -> dict:
        """Run the DAG to ``final_vars``; see the class docstring for failures."""
        with _quiet():
            try:
                return self.wrapped.execute(final_vars, inputs=inputs)
            except Exception as exc:
                _name(exc, _where(inputs))
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


@functools.lru_cache(maxsize=64)
def cached_driver(modules: tuple[str, ...], config: tuple[tuple[str, object], ...], executor=None) -> QuietDriver:
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
    QuietDriver
        The driver; failures raise the original exception, named, and print nothing.
    """
    builder = (
        driver.Builder().with_modules(*[importlib.import_module(name) for name in modules]).with_config(dict(config))
    )
    if executor is not None:
        local = executors.SynchronousLocalTaskExecutor()
        remote = local if executor == "local" else executor
        builder = builder.enable_dynamic_execution(allow_experimental_mode=True).with_local_executor(local)
        builder = builder.with_remote_executor(remote)
    with _quiet():
        return QuietDriver(builder.build())


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
    ``calibration``, ``objective`` and ``constraints``, and optionally
    ``meta_label`` and ``meta_label_params``, already validated (see
    :func:`cvn_sklearn.harness.train_one`).
    """
    config = fixed_params_config(inputs["calibration"], inputs["objective"], inputs.get("meta_label"))
    return cached_driver(FIXED_PARAMS, config).execute(["trained_artifact"], inputs=inputs)["trained_artifact"]
