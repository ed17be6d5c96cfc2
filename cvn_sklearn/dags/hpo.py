"""Optuna hyperparameter search over the space a model file declares: the study and what it searches.

The DAG::

    seed -> sampler --\\
    pruner -------------> study (created, or loaded to resume)
    metric -> direction -/
    run_spec -> search_space

The trials themselves run at the front door,
:func:`cvn_sklearn.harness.tune`, with Optuna's ask-and-tell interface: each
trial trains its parameters on every fold through the
:mod:`~cvn_sklearn.dags.fixed_params` driver (never a driver inside a node)
and reports the running mean of the validation metric after each fold, so the
median pruner stops a poor trial early. Only the trials still missing to
reach ``n_trials`` run, so calling again with the same storage resumes.
"""

from typing import Callable

import optuna

from cvn_sklearn.registry import registry

# Hamilton makes a node of every public function of this module; the API is none of them
# (the module docstring describes the DAG).
__all__ = []

MAXIMIZE = ("auc", "f1_buy", "precision_buy", "recall_buy")
MINIMIZE = ("brier", "ece", "log_loss")
FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)


def search_space(run_spec: dict) -> Callable:
    """The ``search_space(trial)`` declared in the model's file."""
    model_name = run_spec["model_name"]
    space = getattr(registry[model_name], "search_space", None)
    if space is None:
        raise ValueError(f"{model_name!r} declares no search_space(trial); only models with one can be tuned.")
    return space


def direction(metric: str) -> str:
    """``"maximize"`` or ``"minimize"``, by the validation metric's meaning."""
    if metric not in MAXIMIZE + MINIMIZE:
        raise ValueError(f"metric must be one of {list(MAXIMIZE + MINIMIZE)}, got {metric!r}.")
    return "maximize" if metric in MAXIMIZE else "minimize"


def sampler(seed: int) -> optuna.samplers.BaseSampler:
    """Tree-structured Parzen estimator, seeded: the same seed proposes the same trials."""
    return optuna.samplers.TPESampler(seed=seed)


def pruner() -> optuna.pruners.BasePruner:
    """Median pruning on the running mean across folds, once two trials finished."""
    return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0)


def study(
    study_name: str,
    storage: str,
    sampler: optuna.samplers.BaseSampler,
    pruner: optuna.pruners.BasePruner,
    direction: str,
) -> optuna.Study:
    """The study in ``storage``: created, or loaded to resume it."""
    return optuna.create_study(
        study_name=study_name, storage=storage, sampler=sampler, pruner=pruner, direction=direction, load_if_exists=True
    )


