"""Optuna hyperparameter search over the space a model file declares.

The DAG::

    seed -> sampler --\\
    pruner -------------> study (created, or loaded to resume) --\\
    run_spec, folds, metric -> trial_objective ------------------> tuned_study -> best_params

``trial_objective`` trains the trial's parameters on each fold in turn through
:mod:`~cvn_sklearn.dags.fixed_params` and reports the running mean of the
validation metric after every fold, so the median pruner stops a poor trial
after its first folds. ``tuned_study`` runs only the trials still missing to
reach ``n_trials``, so calling again with the same storage resumes a study
that was interrupted. Nodes that touch the study write to its storage; every
other node is pure.
"""

from typing import Callable

import numpy as np
import optuna

from cvn_sklearn.dags import train_artifact
from cvn_sklearn.registry import registry

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


def trial_objective(folds: list, search_space: Callable, run_spec: dict, metric: str) -> Callable:
    """The function Optuna maximises or minimises: the mean validation ``metric`` over ``folds``."""

    def score(trial: optuna.Trial) -> float:
        spec = {**run_spec, "hpo_params": {**run_spec["hpo_params"], **search_space(trial)}}
        values = []
        for step, datasets in enumerate(folds):
            values.append(getattr(_train(trial, {**spec, "datasets": datasets}).metrics_val, metric))
            trial.report(float(np.mean(values)), step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return float(np.mean(values))

    return score


def _train(trial: optuna.Trial, inputs: dict):
    """Train one fold; a ``ValueError`` is kept on the trial as ``fail_reason`` before it fails the trial."""
    try:
        return train_artifact(inputs)
    except ValueError as exc:
        trial.set_user_attr("fail_reason", str(exc))
        raise


def tuned_study(study: optuna.Study, trial_objective: Callable, n_trials: int) -> optuna.Study:
    """``study`` after running the trials still missing to reach ``n_trials`` finished ones.

    A trial whose training raises ``ValueError`` (for example no θ meets the
    constraints under its parameters) is recorded as failed, and the search
    goes on.
    """
    finished = len(study.get_trials(deepcopy=False, states=FINISHED))
    if n_trials > finished:
        study.optimize(trial_objective, n_trials=n_trials - finished, catch=(ValueError,))
    return study


def best_params(tuned_study: optuna.Study, run_spec: dict) -> dict:
    """The fixed parameters updated with the best trial's."""
    if not tuned_study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
        failed = tuned_study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.FAIL,))
        reason = failed[-1].user_attrs.get("fail_reason", "") if failed else ""
        raise ValueError(f"No trial of study {tuned_study.study_name!r} completed. Last failure: {reason}")
    return {**run_spec["hpo_params"], **tuned_study.best_params}
