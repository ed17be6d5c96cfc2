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

import os
import shutil
import socket
from collections.abc import Mapping, Sequence
from numbers import Integral
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import optuna
from sklearn.model_selection import check_cv

from cvn_sklearn._rows import check_aligned
from cvn_sklearn.contracts import Datasets, FeatureVersion, TrainedArtifact, take_rows
from cvn_sklearn.dags import FIXED_PARAMS, cached_driver, fixed_params_config, train_artifact
from cvn_sklearn.dags.hpo import FINISHED
from cvn_sklearn.dags.walk_forward import WalkForwardResult
from cvn_sklearn.metrics import buy_label
from cvn_sklearn.model_selection import WalkForwardSplit, walk_forward_folds
from cvn_sklearn.threads import check_n_jobs, limited_threads, pinned_params
from cvn_sklearn.threshold import THETA_CONSTRAINTS, THETA_DEFAULTS, check_theta_names

__all__ = [
    "DEFAULT_STUDY_STORAGE",
    "THETA_CONSTRAINTS",
    "TuneResult",
    "WalkForwardResult",
    "train_one",
    "tune",
    "screen",
    "visualize",
    "walk_forward",
    "walk_forward_datasets",
]

WALK_FORWARD = ("cvn_sklearn.dags.walk_forward",)
HPO = ("cvn_sklearn.dags.hpo",)
DEFAULT_STUDY_STORAGE = "sqlite:///optuna.db"


def _check_constraints(constraints: Mapping | None, objective: str | None) -> dict:
    constraints = dict(constraints or {})
    check_theta_names(constraints)
    if constraints and objective is None:
        raise ValueError(
            "constraints apply to the θ search; pass an objective (e.g. objective='f1') or no constraints."
        )
    return constraints


def _run_spec(model_name, hpo_params, calibration, objective, constraints, pos_label, n_jobs) -> dict:
    """What every training run needs besides its data, validated: the fixed_params DAG's inputs.

    ``hpo_params`` come back with every fit pinned to ``n_jobs`` threads
    (:func:`~cvn_sklearn.threads.pinned_params`).
    """
    return dict(
        model_name=model_name,
        hpo_params=pinned_params(model_name, dict(hpo_params or {}), check_n_jobs(n_jobs)),
        calibration=calibration,
        objective=objective,
        constraints=_check_constraints(constraints, objective),
        pos_label=pos_label,
    )


def train_one(
    model_name: str,
    datasets: Datasets,
    hpo_params: Mapping | None = None,
    *,
    calibration: str | None = "isotonic",
    objective: str | None = THETA_DEFAULTS["objective"],
    constraints: Mapping | None = None,
    pos_label=None,
    meta_label: str | None = None,
    meta_label_params: Mapping | None = None,
    cusum_metadata: Mapping | None = None,
    n_jobs: int | None = 1,
) -> TrainedArtifact:
    """Train one registry model or ensemble and return its :class:`~cvn_sklearn.contracts.TrainedArtifact`.

    The row policy: the model is fitted on every ``datasets.train`` row (a
    model that early-stops holds back the last ``validation_fraction`` of
    them, in time order, and only those); the calibrator and θ are fitted on
    the ``val`` rows, the same rows for both, with the model frozen
    (:class:`~sklearn.frozen.FrozenEstimator`; see
    :class:`~cvn_sklearn.CalibratedThetaClassifier` for why sharing the rows
    is sound); ``test`` rows are only scored. ``val`` and ``test`` are scored
    with :func:`~cvn_sklearn.metrics.evaluate` on the estimator's own
    ``predict`` (θ applied there only), and with
    :func:`~cvn_sklearn.metrics.trading_metrics` when the data carry returns.
    Emits ``training_complete`` once, with θ, the validation metrics and the
    rows of each stage, after the model's own events.

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
    pos_label : scalar, default=None
        The buy label. ``None`` means 1 (``True``) for labels in ``{0, 1}``,
        ``{-1, 1}`` or booleans; any other labels (``"buy"``/``"hold"``) need
        it: it is never guessed (see :func:`~cvn_sklearn.metrics.buy_label`).
    meta_label : str, default=None
        Registry name of a meta-labeling model: trained on the validation rows
        where the primary model says buy, to predict whether the buy is right.
        It becomes ``artifact.meta_label_model``, and
        :meth:`TrainedArtifact.predict <cvn_sklearn.contracts.TrainedArtifact.predict>`
        keeps only the buys it confirms. The artifact's metrics stay those of
        the primary model.
    meta_label_params : mapping, default=None
        Constructor parameters of the meta-labeling model.
    cusum_metadata : mapping, default=None
        Scalars of the CUSUM filter that sampled the rows
        (``cvn_sklearn.datasets.LabelledData.cusum_metadata``), kept as
        ``artifact.cusum_metadata`` and logged with it.
    n_jobs : int or None, default=1
        Threads each fit may use (:mod:`cvn_sklearn.threads`): the model's own
        thread parameters (``n_jobs``, ``thread_count``; a stacker's base
        models too) unless ``hpo_params`` sets them, and BLAS and OpenMP
        capped for the run. ``None`` leaves every library its own default
        (all cores), which oversubscribes a machine that runs anything else.

    Returns
    -------
    TrainedArtifact

    Raises
    ------
    ValueError
        For unknown constraints, constraints without an objective, or labels
        whose buy label is unknown (pass ``pos_label``).
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
    >>> artifact.model_name, artifact.dataset_shape.rows_fit, artifact.dataset_shape.rows_theta
    ('blend_avg', 280, 60)
    >>> artifact.predict(X[:5]).tolist() == (artifact.estimator.predict(X[:5]) == 1).astype(int).tolist()
    True
    """
    if not isinstance(datasets, Datasets):
        raise TypeError(f"datasets must be a cvn_sklearn.contracts.Datasets, got {type(datasets).__name__}.")
    buy = buy_label(datasets.labels(), pos_label)  # derived once: the DAG's ``buy`` node takes it as given
    inputs = _run_spec(model_name, hpo_params, calibration, objective, constraints, pos_label, n_jobs)
    inputs |= {"datasets": datasets, "meta_label": meta_label, "meta_label_params": dict(meta_label_params or {}),
               "cusum_metadata": None if cusum_metadata is None else dict(cusum_metadata)}
    with limited_threads(n_jobs):
        return train_artifact(inputs, buy=buy)


def walk_forward(
    model_name: str,
    X,
    y,
    *,
    cv,
    hpo_params: Mapping | None = None,
    returns=None,
    t1=None,
    val_size: float = 0.2,
    gap: int | None = None,
    allow_future_rows: bool = False,
    pos_label=None,
    periods_per_year: float = 252.0,
    calibration: str | None = "isotonic",
    objective: str | None = THETA_DEFAULTS["objective"],
    constraints: Mapping | None = None,
    executor=None,
    n_jobs: int | None = 1,
) -> WalkForwardResult:
    """Train one model per walk-forward fold and collect the out-of-sample predictions.

    Every fold is a :func:`train_one` run with the same row policy inside the
    fold's training window: the model is fitted on its first rows, the
    calibrator and θ on its last ``val_size`` share (after a purge gap of
    ``gap`` rows and, with ``t1``, label-overlap purging), never on the fold's
    test block, which is only scored and predicted. Events carry ``fold``.
    The folds fan out through Hamilton's dynamic execution, each a
    ``@subdag`` of the ``fixed_params`` DAG.

    Parameters
    ----------
    model_name : str
        A registry name.
    X : DataFrame or array-like of shape (n_samples, n_features)
        Rows in time order.
    y : array-like of shape (n_samples,)
        Aligned with ``X`` (same length; same index for pandas).
    cv : int, cross-validation generator or iterable
        The splitter, e.g. :class:`~cvn_sklearn.model_selection.WalkForwardSplit`;
        an int ``n`` means ``WalkForwardSplit(n)``. A splitter whose training
        rows come after its test rows (``KFold``, shuffled splits) is refused,
        and so are overlapping test sets.
    hpo_params, calibration, objective, constraints, pos_label
        As in :func:`train_one`.
    returns : array-like of shape (n_samples,), default=None
        Per-row forward returns, for return-based θ objectives and the
        trading metrics.
    t1 : array-like of shape (n_samples,), default=None
        Label end times (see :meth:`WalkForwardSplit.split
        <cvn_sklearn.model_selection.WalkForwardSplit.split>`): passed to a
        ``WalkForwardSplit`` and used to purge fit rows whose label reaches
        into the validation rows.
    val_size : float in (0, 1), default=0.2
        Share of each fold's training window held out at its end for
        calibration and θ.
    gap : int, default=None
        Rows purged between the fit and validation rows; ``None`` takes the
        splitter's ``gap`` (the label horizon), else 0.
    allow_future_rows : bool, default=False
        The only way to run a look-ahead splitter.
    periods_per_year : float, default=252
        Annualises the trading metrics.
    executor : hamilton.execution.executors.TaskExecutor, default=None
        Where the fold cells run: in this process when ``None``; pass
        ``hamilton.plugins.h_dask.DaskExecutor(client=...)`` for a Dask cluster.
        One driver is built and cached per executor.
    n_jobs : int or None, default=1
        Threads each fit may use (:mod:`cvn_sklearn.threads`): the model's own
        thread parameters (``n_jobs``, ``thread_count``; a stacker's base
        models too) unless ``hpo_params`` sets them, and BLAS and OpenMP
        capped for the run (in this process; Dask workers start with one
        OpenMP thread). ``None`` leaves every library its own default
        (all cores), which oversubscribes a machine that runs anything else.

    Returns
    -------
    WalkForwardResult

    Raises
    ------
    ValueError
        For look-ahead splits, overlapping test sets, misaligned ``y`` /
        ``returns`` / ``t1``, an unknown buy label, or a training window too
        short for its validation rows.

    Examples
    --------
    >>> import numpy as np
    >>> from cvn_sklearn.harness import walk_forward
    >>> from cvn_sklearn.model_selection import WalkForwardSplit
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(600, 3)); y = (X[:, 0] + rng.normal(size=600) > 0.5).astype(int)
    >>> result = walk_forward("logreg", X, y, cv=WalkForwardSplit(3, test_size=100, gap=2), calibration="sigmoid")
    >>> len(result.artifacts), int(result.covered.sum()), result.predictions.shape
    (3, 300, (600, 2))
    >>> fold = result.folds[0]
    >>> int(fold.fit[-1]), int(fold.val[0]), int(fold.val[-1]), int(fold.test[0])
    (235, 238, 297, 300)
    """
    check_aligned("walk_forward", X, y=y, returns=returns, t1=t1)
    buy_label(np.unique(np.asarray(y)), pos_label)
    run_spec = _run_spec(model_name, hpo_params, calibration, objective, constraints, pos_label, n_jobs)
    cv = WalkForwardSplit(cv) if isinstance(cv, Integral) else check_cv(cv, y, classifier=True)
    inputs = dict(
        cv=cv,
        X=X,
        y=y,
        returns=returns,
        t1=t1,
        val_size=val_size,
        gap=gap,
        allow_future_rows=allow_future_rows,
        periods_per_year=periods_per_year,
        meta_label=None,
        meta_label_params={},
        cusum_metadata=None,
        **run_spec,
    )
    config = fixed_params_config(calibration, objective)
    dr = cached_driver(WALK_FORWARD, config, "local" if executor is None else executor)
    with limited_threads(n_jobs):
        return dr.execute(["walk_forward_result"], inputs=inputs)["walk_forward_result"]


def walk_forward_datasets(
    X,
    y,
    *,
    cv,
    returns=None,
    t1=None,
    val_size: float = 0.2,
    gap: int | None = None,
    allow_future_rows: bool = False,
    periods_per_year: float = 252.0,
) -> list[Datasets]:
    """One :class:`~cvn_sklearn.contracts.Datasets` per walk-forward fold, cut as :func:`walk_forward` cuts them.

    ``train`` is the fold's fit rows, ``val`` the end of its training window
    (after the purge gap), ``test`` its test block: hand the list to
    :func:`tune` so trials are scored with the harness's row policy.
    Parameters as in :func:`walk_forward`; look-ahead splitters are refused.

    Returns
    -------
    list of Datasets

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.model_selection import KFold
    >>> X, y = np.zeros((300, 2)), np.tile([0, 1], 150)
    >>> [fold.shape().n_val for fold in walk_forward_datasets(X, y, cv=WalkForwardSplit(2, test_size=50))]
    [40, 50]
    >>> walk_forward_datasets(X, y, cv=KFold(3))
    Traceback (most recent call last):
    ...
    ValueError: Fold 0 trains on row 299, after its first test row 0: a model would learn from the future it is scored on (KFold or a shuffled split). Use cvn_sklearn.model_selection.WalkForwardSplit, or pass allow_future_rows=True if that is really meant.
    """
    check_aligned("walk_forward_datasets", X, y=y, returns=returns, t1=t1)
    cv = WalkForwardSplit(cv) if isinstance(cv, Integral) else check_cv(cv, y, classifier=True)
    folds = walk_forward_folds(cv, X, y, t1=t1, val_size=val_size, gap=gap, allow_future_rows=allow_future_rows)
    parts = (X, y) if returns is None else (X, y, returns)
    version = FeatureVersion.of(X)
    return [
        Datasets(
            *(tuple(take_rows(values, rows) for values in parts) for rows in (fold.fit, fold.val, fold.test)),
            feature_version=version,
            periods_per_year=periods_per_year,
        )
        for fold in folds
    ]


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
    objective: str | None = THETA_DEFAULTS["objective"],
    constraints: Mapping | None = None,
    pos_label=None,
    n_jobs: int | None = 1,
) -> TuneResult:
    """Search the model's hyperparameters with Optuna; resume a stored study.

    Each trial samples the ``search_space(trial)`` declared in the model's file
    (TPE, seeded), trains with :func:`train_one` on every fold in turn (the
    same row policy: fitted on ``train``, calibration and θ on ``val``) and
    scores the mean validation ``metric``; after each fold it reports the
    running mean, so the median pruner stops poor trials early. A trial whose
    training raises ``ValueError`` (say, no θ meets the constraints) is
    recorded as failed with its reason (user attribute ``fail_reason``) and
    the search goes on. The study lives in ``storage``: calling again with the
    same storage and study name runs only the trials still missing to reach
    ``n_trials``; a trial left RUNNING by a process on this machine that died
    (SIGKILL, a crash) is marked FAIL first and replaced. Trials run here, at the front door, through Optuna's
    ask-and-tell interface.

    Parameters
    ----------
    model_name : str
        A registry model with a ``search_space``.
    datasets_or_folds : Datasets or sequence of Datasets
        One split, or one per walk-forward fold, e.g. from
        :func:`walk_forward_datasets` (which refuses look-ahead splitters).
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
    calibration, objective, constraints, pos_label, n_jobs
        As in :func:`train_one`. The pinned thread parameters are not part of
        ``best_params``.

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
    for fold in folds:
        buy_label(fold.labels(), pos_label)
    run_spec = _run_spec(model_name, hpo_params, calibration, objective, constraints, pos_label, None)
    inputs = dict(storage=storage or DEFAULT_STUDY_STORAGE, seed=seed, metric=metric, run_spec=run_spec)
    inputs["study_name"] = study_name or f"{model_name}-{metric}-{folds[0].feature_version.feature_set_hash[:12]}"
    out = cached_driver(HPO, ()).execute(["study", "search_space"], inputs=inputs)
    study = out["study"]
    _fail_abandoned_trials(study)
    missing = int(n_trials) - len(study.get_trials(deepcopy=False, states=FINISHED))
    check_n_jobs(n_jobs)
    with limited_threads(n_jobs):
        for _ in range(max(missing, 0)):
            _run_trial(study, out["search_space"], run_spec, folds, metric, n_jobs)
    return TuneResult(_best_params(study, run_spec), study)


def _run_trial(study, search_space, run_spec, folds, metric, n_jobs) -> None:
    """Ask for one trial, train it on every fold (pruning on the running mean), tell the study its outcome."""
    trial = study.ask()
    trial.set_user_attr(_RUNNER, _this_runner())
    params = {**run_spec["hpo_params"], **search_space(trial)}
    spec = {**run_spec, "hpo_params": pinned_params(run_spec["model_name"], params, n_jobs)}
    values = []
    try:
        for step, datasets in enumerate(folds):
            values.append(getattr(train_artifact({**spec, "datasets": datasets}).metrics_val, metric))
            trial.report(float(np.mean(values)), step)
            if trial.should_prune():
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                return
    except ValueError as exc:
        trial.set_user_attr("fail_reason", str(exc))
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
        return
    except BaseException:
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
        raise
    study.tell(trial, float(np.mean(values)))


_RUNNER = "cvn_runner"


def _this_runner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _fail_abandoned_trials(study) -> None:
    """Mark FAIL the RUNNING trials whose process on this machine is gone (killed mid-trial), so none stays RUNNING.

    A trial records ``host:pid`` of the process running it; trials of live
    processes, and of other machines, are left alone.
    """
    host = socket.gethostname()
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        runner_host, _, pid = str(trial.user_attrs.get(_RUNNER, "")).rpartition(":")
        if runner_host == host and pid.isdigit() and not _alive(int(pid)):
            study.tell(trial.number, state=optuna.trial.TrialState.FAIL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _best_params(study, run_spec) -> dict:
    """The fixed parameters updated with the best trial's."""
    if not study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
        failed = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.FAIL,))
        reason = failed[-1].user_attrs.get("fail_reason", "") if failed else ""
        raise ValueError(f"No trial of study {study.study_name!r} completed. Last failure: {reason}")
    return {**run_spec["hpo_params"], **study.best_params}


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
    objective: str | None = THETA_DEFAULTS["objective"],
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
        "walk_forward": lambda: cached_driver(WALK_FORWARD, fixed_params_config(calibration, objective), "local"),
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


def screen(config, data: Mapping | None = None, *, report=None, progress=False):
    """Run a screening sweep; see :func:`cvn_sklearn.sweep.run.screen`, which this calls."""
    from cvn_sklearn.sweep.run import screen as run_screen

    return run_screen(config, data, report=report, progress=progress)
