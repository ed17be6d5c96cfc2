"""The front doors: one training function for every model, ensemble and consumer.

:func:`train_one` runs the Apache Hamilton module
:mod:`cvn_sklearn.dags.fixed_params` and returns a
:class:`~cvn_sklearn.contracts.TrainedArtifact`. Each Hamilton driver is built
once per (module set, config) and cached, and inputs are never hashed, so
the orchestration costs milliseconds per call, negligible next to a model fit
(``benchmarks/overhead.py``).

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

import shutil
from collections.abc import Mapping, Sequence
from numbers import Integral
from pathlib import Path
from typing import Any, NamedTuple

from sklearn.model_selection import check_cv

from cvn_sklearn.contracts import Datasets, TrainedArtifact
from cvn_sklearn.dags import FIXED_PARAMS, cached_driver, fixed_params_config, train_artifact
from cvn_sklearn.dags.walk_forward import WalkForwardResult
from cvn_sklearn.model_selection import WalkForwardSplit

__all__ = [
    "DEFAULT_STUDY_STORAGE",
    "THETA_CONSTRAINTS",
    "TuneResult",
    "WalkForwardResult",
    "train_one",
    "tune",
    "visualize",
    "walk_forward",
]

WALK_FORWARD = ("cvn_sklearn.dags.walk_forward",)
HPO = ("cvn_sklearn.dags.hpo",)
DEFAULT_STUDY_STORAGE = "sqlite:///optuna.db"

THETA_CONSTRAINTS = ("beta", "min_recall", "min_positives", "max_positive_rate", "max_positive_rate_ratio")


def _check_constraints(constraints: Mapping | None, objective: str | None) -> dict:
    constraints = dict(constraints or {})
    unknown = sorted(set(constraints) - set(THETA_CONSTRAINTS))
    if unknown:
        raise ValueError(f"Unknown θ constraints {unknown}; the known ones are {list(THETA_CONSTRAINTS)}.")
    if constraints and objective is None:
        raise ValueError(
            "constraints apply to the θ search; pass an objective (e.g. objective='f1') or no constraints."
        )
    return constraints


def _run_spec(model_name, hpo_params, calibration, objective, constraints) -> dict:
    """What every training run needs besides its data, validated: the fixed_params DAG's inputs."""
    return dict(
        model_name=model_name,
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
    meta_label: str | None = None,
    meta_label_params: Mapping | None = None,
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
    meta_label : str, default=None
        Registry name of a meta-labeling model: trained on the validation rows
        where the primary model says buy, to predict whether the buy is right.
        It becomes ``artifact.meta_label_model``, and
        :meth:`TrainedArtifact.predict <cvn_sklearn.contracts.TrainedArtifact.predict>`
        keeps only the buys it confirms. The artifact's metrics stay those of
        the primary model.
    meta_label_params : mapping, default=None
        Constructor parameters of the meta-labeling model.

    Returns
    -------
    TrainedArtifact

    Raises
    ------
    ValueError
        For unknown constraints, or constraints without an objective.
    TypeError
        If ``datasets`` is not a :class:`~cvn_sklearn.contracts.Datasets`.

    Examples
    --------
    >>> import numpy as np
    >>> from cvn_sklearn.contracts import Datasets
    >>> from cvn_sklearn.harness import train_one
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(400, 3)); y = (X[:, 0] + rng.normal(size=400) > 0.5).astype(int)
    >>> artifact = train_one("blend_avg", Datasets.temporal_split(X, y),
    ...                      {"base_models": ["logreg", "extra_trees"]}, calibration="sigmoid")
    >>> artifact.model_name, artifact.dataset_shape.n_train, 0.0 < artifact.threshold < 1.0
    ('blend_avg', 280, True)
    >>> artifact.predict(X[:5]).tolist() == (artifact.estimator.predict_proba(X[:5])[:, 1] >= artifact.threshold).astype(int).tolist()
    True
    """
    if not isinstance(datasets, Datasets):
        raise TypeError(f"datasets must be a cvn_sklearn.contracts.Datasets, got {type(datasets).__name__}.")
    inputs = _run_spec(model_name, hpo_params, calibration, objective, constraints)
    inputs |= {"datasets": datasets, "meta_label": meta_label, "meta_label_params": dict(meta_label_params or {})}
    return train_artifact(inputs)


def walk_forward(
    model_name: str,
    X,
    y,
    *,
    cv,
    hpo_params: Mapping | None = None,
    returns=None,
    calibration: str | None = "isotonic",
    objective: str | None = "f1",
    constraints: Mapping | None = None,
    executor=None,
) -> WalkForwardResult:
    """Train one model per walk-forward fold and collect the out-of-sample predictions.

    Every fold is a :func:`train_one` run on the fold's training rows (events
    carry ``fold`` through structlog's contextvars), then predicts the fold's
    test rows. The folds fan out through Hamilton's dynamic execution. The
    predictions equal :func:`cvn_sklearn.model_selection.oos_predict` of the
    same composed estimator with the same splitter.

    Parameters
    ----------
    model_name : str
        A registry name.
    X : DataFrame or array-like of shape (n_samples, n_features)
        Rows in time order.
    y : array-like of shape (n_samples,)
    cv : int, cross-validation generator or iterable
        The splitter, e.g. :class:`~cvn_sklearn.model_selection.WalkForwardSplit`;
        an int ``n`` means ``WalkForwardSplit(n)`` (never a shuffled or
        stratified K-fold, which would train on rows after the test block).
        Test sets must be disjoint. For label-overlap purging pass the
        folds themselves: ``cv=list(WalkForwardSplit(4).split(X, t1=t1))``.
    hpo_params, calibration, objective, constraints
        As in :func:`train_one`.
    returns : array-like of shape (n_samples,), default=None
        Per-row forward returns, for return-based θ objectives.
    executor : hamilton.execution.executors.TaskExecutor, default=None
        Where the fold cells run: in this process when ``None``; pass
        ``hamilton.plugins.h_dask.DaskExecutor(client=...)`` for a Dask cluster.
        One driver is built and cached per executor.

    Returns
    -------
    WalkForwardResult

    Raises
    ------
    ValueError
        If a row is in more than one test set (``ShuffleSplit``, repeated
        splitters): it would get several out-of-sample predictions.

    Examples
    --------
    >>> import numpy as np
    >>> from cvn_sklearn.harness import walk_forward
    >>> from cvn_sklearn.model_selection import WalkForwardSplit
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(500, 3)); y = (X[:, 0] + rng.normal(size=500) > 0.5).astype(int)
    >>> result = walk_forward("logreg", X, y, cv=WalkForwardSplit(3, test_size=100), calibration="sigmoid")
    >>> len(result.artifacts), int(result.covered.sum()), result.predictions.shape
    (3, 300, (500, 2))
    """
    run_spec = _run_spec(model_name, hpo_params, calibration, objective, constraints)
    cv = WalkForwardSplit(cv) if isinstance(cv, Integral) else check_cv(cv, y, classifier=True)
    inputs = dict(cv=cv, X=X, y=y, returns=returns, run_spec=run_spec)
    dr = cached_driver(WALK_FORWARD, (), "local" if executor is None else executor)
    return dr.execute(["walk_forward_result"], inputs=inputs)["walk_forward_result"]


class TuneResult(NamedTuple):
    """What :func:`tune` returns: the best parameters and the Optuna study."""

    best_params: dict
    study: Any


def tune(
    model_name: str,
    datasets_or_folds: Datasets | Sequence[Datasets],
    *,
    n_trials: int,
    storage: str | None = None,
    seed: int = 0,
    study_name: str | None = None,
    metric: str = "auc",
    hpo_params: Mapping | None = None,
    calibration: str | None = "isotonic",
    objective: str | None = "f1",
    constraints: Mapping | None = None,
) -> TuneResult:
    """Search the model's hyperparameters with Optuna; resume a stored study.

    Each trial samples the ``search_space(trial)`` declared in the model's file
    (TPE, seeded), trains with :func:`train_one` on every fold in turn and
    scores the mean validation ``metric``; after each fold it reports the
    running mean, so the median pruner stops poor trials early. The study
    lives in ``storage``: calling again with the same storage and study name
    runs only the trials still missing to reach ``n_trials``.

    Parameters
    ----------
    model_name : str
        A registry model with a ``search_space``.
    datasets_or_folds : Datasets or sequence of Datasets
        One split, or one per walk-forward fold.
    n_trials : int
        Finished trials (complete or pruned) the study should hold.
    storage : str, default=None
        Any Optuna storage URL; ``sqlite:///optuna.db`` in the working
        directory when ``None``.
    seed : int, default=0
        Seed of the TPE sampler: the same seed gives the same trials.
    study_name : str, default=None
        ``"<model>-<metric>-<feature-set hash>"`` when ``None``, so a study is
        only resumed on the same feature set.
    metric : {"auc", "f1_buy", "precision_buy", "recall_buy", "brier", "ece", "log_loss"}, default="auc"
        The validation metric; the first four are maximised, the others minimised.
    hpo_params : mapping, default=None
        Fixed parameters; the search space's parameters override them.
    calibration, objective, constraints
        As in :func:`train_one`.

    Returns
    -------
    TuneResult
        ``(best_params, study)``; ``best_params`` includes ``hpo_params``.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> from cvn_sklearn.contracts import Datasets
    >>> from cvn_sklearn.harness import tune
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(300, 3)); y = (X[:, 0] + rng.normal(size=300) > 0.5).astype(int)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     best, study = tune("logreg", Datasets.temporal_split(X, y), n_trials=3,
    ...                        storage=f"sqlite:///{folder}/optuna.db", calibration="sigmoid")
    ...     n_trials = len(study.trials)
    >>> sorted(best), n_trials
    (['C'], 3)
    """
    folds = _folds(datasets_or_folds)
    if not isinstance(n_trials, Integral) or n_trials < 1:
        raise ValueError(f"n_trials must be a positive integer, got {n_trials!r}.")
    inputs = dict(
        folds=folds, n_trials=int(n_trials), storage=storage or DEFAULT_STUDY_STORAGE, seed=seed, metric=metric
    )
    inputs["study_name"] = study_name or f"{model_name}-{metric}-{folds[0].feature_version.feature_set_hash[:12]}"
    inputs["run_spec"] = _run_spec(model_name, hpo_params, calibration, objective, constraints)
    out = cached_driver(HPO, ()).execute(["best_params", "tuned_study"], inputs=inputs)
    return TuneResult(out["best_params"], out["tuned_study"])


def _folds(datasets_or_folds) -> list:
    folds = [datasets_or_folds] if isinstance(datasets_or_folds, Datasets) else list(datasets_or_folds)
    if not folds or not all(isinstance(fold, Datasets) for fold in folds):
        raise TypeError("datasets_or_folds must be a Datasets or a non-empty sequence of Datasets (one per fold).")
    return folds


def visualize(
    path,
    *,
    dag: str = "fixed_params",
    calibration: str | None = "isotonic",
    objective: str | None = "f1",
    meta_label: str | None = None,
) -> Path:
    """Write the picture of a harness DAG, for the docs.

    Parameters
    ----------
    path : str or Path
        Output file; its suffix picks the format. ``.dot`` writes the Graphviz
        source (no Graphviz install needed); ``.png``, ``.svg``, ``.pdf``, ...
        are rendered with Graphviz's ``dot`` program.
    dag : {"fixed_params", "walk_forward", "hpo"}, default="fixed_params"
    calibration, objective, meta_label
        Pick the ``fixed_params`` variant, as in :func:`train_one`.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ValueError
        For an unknown ``dag``.
    RuntimeError
        If a rendered format is asked for and Graphviz's ``dot`` is not installed.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     source = visualize(Path(folder, "train_one.dot")).read_text()
    >>> "threshold" in source and "metrics_val" in source
    True
    """
    path = Path(path)
    drivers = {
        "fixed_params": lambda: cached_driver(FIXED_PARAMS, fixed_params_config(calibration, objective, meta_label)),
        "walk_forward": lambda: cached_driver(WALK_FORWARD, (), "local"),
        "hpo": lambda: cached_driver(HPO, ()),
    }
    if dag not in drivers:
        raise ValueError(f"dag must be one of {sorted(drivers)}, got {dag!r}.")
    graph = drivers[dag]().display_all_functions()
    if path.suffix == ".dot":
        path.write_text(graph.source)
    elif shutil.which("dot") is None:
        raise RuntimeError(
            f"Rendering {path.name} needs Graphviz's 'dot' program, which is not installed "
            "(apt-get install graphviz, brew install graphviz or conda install graphviz); or write a .dot file."
        )
    else:
        graph.render(outfile=path, cleanup=True)
    return path
