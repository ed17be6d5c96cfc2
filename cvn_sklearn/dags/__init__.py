"""Apache Hamilton modules: each public function is a node, its parameters the nodes it needs.

* :mod:`~cvn_sklearn.dags.fixed_params`: one model with fixed hyperparameters,
  from a :class:`~cvn_sklearn.contracts.Datasets` to a
  :class:`~cvn_sklearn.contracts.TrainedArtifact`;
* :mod:`~cvn_sklearn.dags.walk_forward`: the same per walk-forward fold, the
  folds fanned out with ``Parallelizable`` / ``Collect``;
* :mod:`~cvn_sklearn.dags.hpo`: an Optuna study over the model's search space.

The nodes are pure: estimators are cloned before they are fitted. The front
doors in :mod:`cvn_sklearn.harness` build each driver once and reuse it.
"""

import functools
import importlib

from hamilton import driver
from hamilton.execution import executors

FIXED_PARAMS = ("cvn_sklearn.dags.fixed_params",)


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
        driver.Builder().with_modules(*[importlib.import_module(name) for name in modules]).with_config(dict(config))
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
    ``calibration``, ``objective`` and ``constraints``, and optionally
    ``meta_label`` and ``meta_label_params``, already validated (see
    :func:`cvn_sklearn.harness.train_one`).
    """
    config = fixed_params_config(inputs["calibration"], inputs["objective"], inputs.get("meta_label"))
    return cached_driver(FIXED_PARAMS, config).execute(["trained_artifact"], inputs=inputs)["trained_artifact"]
