"""MLflow logging and loading of a :class:`~cvn_sklearn.contracts.TrainedArtifact`.

:func:`log_artifact` records one training run: parameters (secrets scrubbed),
validation and test metrics, θ, the feature version as tags, and the fitted
estimator. :func:`load_artifact` reads the estimator back.

**No code runs on load.** The estimator is written with :mod:`skops` (a zip of a
JSON state tree), never pickle; the boosters inside it travel in their own
model formats (XGBoost UBJSON, LightGBM text model, CatBoost ``.cbm``: see
:meth:`cvn_sklearn.adapter.Adapter._native_to_bytes`). :func:`load_artifact`
checks every type in the file against :func:`trusted_types`, which comes from
this code, not from the model file, and refuses anything else.

**Store.** The tracking URI is the ``tracking_uri`` argument, else the
``MLFLOW_TRACKING_URI`` environment variable, else MLflow's embedded SQLite
store ``sqlite:///mlflow.db`` in the working directory (artifacts under
``./mlruns``). A server or a PostgreSQL URI works the same way.

Examples
--------
>>> import os, tempfile
>>> import numpy as np
>>> from cvn_sklearn.harness import train_one
>>> from cvn_sklearn.contracts import Datasets
>>> from cvn_sklearn.persist import load_artifact, log_artifact
>>> rng = np.random.RandomState(0)
>>> X = rng.normal(size=(300, 3)); y = (X[:, 0] + rng.normal(size=300) > 0).astype(int)
>>> artifact = train_one("logreg", Datasets.temporal_split(X, y))
>>> with tempfile.TemporaryDirectory() as folder:
...     uri = f"sqlite:///{folder}/mlflow.db"
...     run_id = log_artifact(artifact, experiment="demo", tracking_uri=uri, artifact_location=folder)
...     model = load_artifact(run_id, tracking_uri=uri)
>>> bool(np.array_equal(model.predict_proba(X), artifact.estimator.predict_proba(X)))
True
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import json
import os
import tempfile
import warnings
from dataclasses import replace
from pathlib import Path

import cvn_sklearn
from cvn_sklearn._disk import file_lock, library_version
from cvn_sklearn.adapter import Adapter, UntrustedModelError
from cvn_sklearn.trust import _class, trusted_types
from cvn_sklearn.scrubbing import SCRUBBED, kept_secrets, reachable_estimators, looks_like_secret, scrub, scrubbed_copy

__all__ = [
    "DEFAULT_TRACKING_URI",
    "MODEL_URI_TAGS",
    "SCRUBBED",
    "UntrustedModelError",
    "load_artifact",
    "log_artifact",
    "looks_like_secret",
    "scrub",
    "trusted_types",
]

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
MODEL_URI_TAGS = {"estimator": "cvn.model_uri", "meta_label_model": "cvn.meta_label_model_uri"}

# -- MLflow ------------------------------------------------------------------------------
@contextlib.contextmanager
def _tracking(tracking_uri: str | None):
    """Point MLflow's fluent API at the store for the duration of the block; yields the URI."""
    import mlflow

    previous = mlflow.get_tracking_uri() if mlflow.is_tracking_uri_set() else None
    uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI
    if uri == DEFAULT_TRACKING_URI:  # this working directory's file: MLflow caches stores by URI, not by folder
        uri = f"sqlite:///{Path.cwd() / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    try:
        yield uri
    finally:
        mlflow.set_tracking_uri(previous)


@contextlib.contextmanager
def _store_lock(uri: str):
    """Hold a file lock next to a SQLite store (``<file>.lock``) while the block runs; other stores need none.

    MLflow creates and migrates a SQLite store on first use; two processes
    doing it at once lose runs. The lock serializes that, and the creation of
    an experiment, across processes.
    """
    path = uri.removeprefix("sqlite:///").partition("?")[0] if uri.startswith("sqlite:///") else None
    if not path or path == ":memory:":
        yield
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with file_lock(f"{path}.lock"):
        from mlflow.tracking import MlflowClient

        MlflowClient(uri).search_experiments(max_results=1)  # creates and migrates the store
        yield


def _experiment_id(name: str, artifact_location: str | None) -> str:
    """The experiment's id, created when missing; its artifact folder checked before any run starts.

    Raises
    ------
    ValueError
        If ``artifact_location`` cannot be written, or differs from the
        location of the existing experiment (a location sticks to its
        experiment), or the existing experiment's local folder cannot be written.
    """
    import mlflow

    location = None if artifact_location is None else Path(artifact_location).expanduser().resolve()
    experiment = mlflow.get_experiment_by_name(name)
    if experiment is None:
        if location is not None:
            _check_writable(location, f"artifact_location={artifact_location!r}")
        return mlflow.create_experiment(name, artifact_location=None if location is None else location.as_uri())
    existing = experiment.artifact_location
    if location is not None and existing != location.as_uri():
        raise ValueError(
            f"Experiment {name!r} already keeps its artifacts in {existing}; an experiment's artifact_location "
            f"cannot change, so {location.as_uri()} would be ignored. Log without artifact_location, or to a new "
            "experiment name."
        )
    if existing.startswith("file:"):
        from urllib.parse import unquote, urlparse

        _check_writable(Path(unquote(urlparse(existing).path)), f"experiment {name!r}'s artifact folder")
    return experiment.experiment_id


def _check_writable(folder: Path, what: str) -> None:
    """Create ``folder`` if needed and check a file can be written in it, or raise ValueError saying so."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise ValueError(
            f"{what} ({folder}) cannot be written: {exc.strerror or exc}. Pass a folder you can write to "
            "(nothing was logged)."
        ) from None


def _requirements(types: list[str]) -> list[str]:
    """Pinned pip requirements of a model file: cvn_sklearn, scikit-learn, skops and every model's library.

    ``types`` are the file's non-default types (:func:`trusted_types`), so the
    base models inside an ensemble count too.
    """
    models = [_class(name) for name in types if name.startswith("cvn_sklearn.")]
    libraries = {"scikit-learn", "skops", *(cls.library for cls in models if issubclass(cls, Adapter))}
    pinned = [f"{name}=={library_version(name)}" for name in libraries]
    return sorted([f"cvn_sklearn=={cvn_sklearn.__version__}", *pinned])


def log_artifact(
    artifact,
    *,
    experiment: str,
    tracking_uri: str | None = None,
    artifact_location: str | None = None,
    datasets=None,
) -> str:
    """Log a trained artifact as one MLflow run and return the run id.

    Logged: parameters (``hyperparams``, dataset shape; secret-looking names
    and values replaced by :data:`SCRUBBED`, in the model file too), metrics
    (``val_*``, ``test_*``, ``threshold``, ``training_time_sec``), tags (the
    feature version, the model name), ``selected_features.json``, the figures
    ``plots/theta_curve.png`` (when θ was tuned) and
    ``plots/reliability_val.png`` (from ``datasets`` when given, else from the
    artifact's ``reliability_val`` bins, which every :func:`~cvn_sklearn.harness.train_one`
    artifact carries; the artifact itself holds no rows), and the estimator as an MLflow scikit-learn model in
    the skops format with explicit pip requirements (no slow requirement
    inference).

    Parameters
    ----------
    artifact : TrainedArtifact
    experiment : str
        MLflow experiment name; created when missing.
    tracking_uri : str, default=None
        Where to log; see the module docstring for the default.
    artifact_location : str, default=None
        Folder for the artifacts of a *new* experiment; MLflow's default
        (``./mlruns``) when ``None``.
    datasets : Datasets, default=None
        The data the artifact was trained on; its validation rows draw the
        reliability diagram instead of ``artifact.reliability_val``. Figures need matplotlib; without it they are
        skipped with a warning.

    Returns
    -------
    run_id : str

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> from mlflow.tracking import MlflowClient
    >>> from cvn_sklearn.contracts import Datasets
    >>> from cvn_sklearn.harness import train_one
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(300, 3)); y = (X[:, 0] + rng.normal(size=300) > 0).astype(int)
    >>> artifact = train_one("logreg", Datasets.temporal_split(X, y), {"C": 0.5}, calibration="sigmoid")
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     uri = f"sqlite:///{folder}/mlflow.db"
    ...     run_id = log_artifact(artifact, experiment="demo", tracking_uri=uri, artifact_location=folder)
    ...     run = MlflowClient(uri).get_run(run_id)
    ...     plots = [f.path for f in MlflowClient(uri).list_artifacts(run_id, "plots")]
    >>> run.data.params["param_C"], plots
    ('0.5', ['plots/reliability_val.png', 'plots/theta_curve.png'])
    """
    artifact = replace(
        artifact, hyperparams=scrub(artifact.hyperparams), cusum_metadata=_maybe_scrub(artifact.cusum_metadata)
    )
    models = {part: _model_file(getattr(artifact, part), part) for part in MODEL_URI_TAGS if getattr(artifact, part) is not None}
    flat = artifact.to_dict()
    import mlflow

    with _tracking(tracking_uri) as uri:
        with _store_lock(uri):  # creating / migrating the store and the experiment, one process at a time
            experiment_id = _experiment_id(experiment, artifact_location)
        with mlflow.start_run(experiment_id=experiment_id) as run:
            mlflow.log_params(scrub({k: v for k, v in flat.items() if _is_param(k)}))
            mlflow.log_metrics({k: float(v) for k, v in flat.items() if _is_metric(k)})
            mlflow.set_tags(_tags(flat))
            mlflow.log_dict(json.loads(flat["selected_features"]), "selected_features.json")
            for name, figure in _figures(artifact, datasets):
                mlflow.log_figure(figure, f"plots/{name}.png")
            for part, (estimator, types) in models.items():
                mlflow.set_tag(MODEL_URI_TAGS[part], _log_model(estimator, types, part))
    return run.info.run_id


def _model_file(estimator, part: str) -> tuple:
    """``(scrubbed estimator, its trusted types)``, checked before any run starts.

    Every estimator reachable from ``estimator`` (fitted ones included) has its
    secret-looking parameters scrubbed; the skops file of the result is then
    searched, member by member, for every secret value of the original.

    Raises
    ------
    ValueError
        If a secret value is still in the file: the fitted model itself holds
        it (e.g. a native model that needs it at predict time).
    """
    import skops.io

    scrubbed = _without_stores(scrubbed_copy(estimator))
    content = skops.io.dumps(scrubbed)
    kept = kept_secrets(estimator, content)
    if kept:
        raise ValueError(
            f"The {part}'s fitted state still holds the value of the secret-looking parameters {kept} after scrubbing "
            "(the model keeps it, or needs it at predict time), so it cannot be logged. Pass credentials to the "
            "model through the environment or a secrets manager at predict time, not as parameters."
        )
    return scrubbed, trusted_types(content)


def _without_stores(estimator):
    """``estimator``, or a copy in which every stacker's ``cache`` that is an OOS store is its path (``False`` in memory).

    A store is a handle, not part of the model: a model file holds no store
    (loading refuses one), and a stacker refitted after loading opens its own
    store on the path, as ``cache="path"`` does.
    """
    from cvn_sklearn.oos_store import OOSStore

    def holders(root):
        return [est for est in reachable_estimators(root)
                if any(isinstance(v, OOSStore) for v in est.get_params(deep=False).values())]

    if not holders(estimator):
        return estimator
    estimator = copy.deepcopy(estimator)  # a store's deepcopy is itself: replaced below on the copies only
    for est in holders(estimator):
        est.set_params(**{name: False if value.path is None else value.path
                          for name, value in est.get_params(deep=False).items() if isinstance(value, OOSStore)})
    return estimator


def _tags(flat: dict) -> dict:
    """The run's tags; the hashes are computed by this package, every other value is scrubbed."""
    tags = {k: str(v) for k, v in flat.items() if _is_tag(k)}
    return {**scrub({k: v for k, v in tags.items() if k not in _HASH_TAGS}), **{k: tags[k] for k in _HASH_TAGS & set(tags)}}


def _log_model(estimator, types: list[str], name: str) -> str:
    """Log ``estimator`` as an MLflow scikit-learn model in the skops format; return its URI."""
    import mlflow.sklearn

    info = mlflow.sklearn.log_model(
        estimator,
        name=name,
        serialization_format="skops",
        skops_trusted_types=types,
        pip_requirements=_requirements(types),
    )
    return info.model_uri


def _figures(artifact, datasets):
    """``(name, figure)`` pairs of the θ curve and the validation reliability diagram, when available."""
    try:
        from cvn_sklearn import plots

        theta_result = getattr(artifact.estimator, "theta_result_", None)
        if theta_result is not None:
            yield "theta_curve", plots.theta_curve(theta_result)
        if datasets is not None:
            proba = artifact.estimator.predict_proba(datasets.val.X)
            yield "reliability_val", plots.reliability_diagram(datasets.val.y, proba, names=("validation", ""))
        elif artifact.reliability_val is not None:
            is_buy, proba = artifact.reliability_val.rows()
            yield "reliability_val", plots.reliability_diagram(is_buy, proba, names=("validation", ""))
    except ImportError as exc:
        warnings.warn(f"No figures logged: {exc}", stacklevel=3)


def _maybe_scrub(values):
    return None if values is None else scrub(values)


_TAGS = ("model_name", "code_commit", "feature_set_hash", "feature_store_hash", "meta_label")
_HASH_TAGS = {"code_commit", "feature_set_hash", "feature_store_hash"}
_METRIC_PREFIXES = ("val_", "test_")


def _is_tag(key: str) -> bool:
    return key in _TAGS


def _is_metric(key: str) -> bool:
    return key.startswith(_METRIC_PREFIXES) or key in ("threshold", "training_time_sec")


def _is_param(key: str) -> bool:
    return not (_is_tag(key) or _is_metric(key) or key == "selected_features")


def load_artifact(run_id: str, *, tracking_uri: str | None = None, part: str = "estimator"):
    """Load the estimator logged by :func:`log_artifact` in run ``run_id``.

    The model file is checked against :func:`trusted_types` before anything
    is constructed; no pickle is read.

    Parameters
    ----------
    run_id : str
    tracking_uri : str, default=None
        As in :func:`log_artifact`.
    part : {"estimator", "meta_label_model"}, default="estimator"
        Which of the artifact's models to load.

    Returns
    -------
    estimator
        Fitted; its ``predict_proba`` equals the logged estimator's.

    Raises
    ------
    ValueError
        If ``part`` is unknown, the run does not exist, or it has no such model
        logged by :func:`log_artifact`.
    UntrustedModelError
        If the model file holds a type that is not trusted or state that
        shadows a class declaration, or is missing, truncated or not a skops
        file; the message names the run and the file.

    Examples
    --------
    See :func:`log_artifact` and the module docstring; in short::

        run_id = log_artifact(artifact, experiment="screen", tracking_uri=uri)
        model = load_artifact(run_id, tracking_uri=uri)   # model.predict_proba == artifact.estimator.predict_proba
    """
    import mlflow
    import skops.io

    if part not in MODEL_URI_TAGS:
        raise ValueError(f"part must be one of {sorted(MODEL_URI_TAGS)}, got {part!r}.")
    with _tracking(tracking_uri) as uri:
        model_uri = _run(run_id, uri).data.tags.get(MODEL_URI_TAGS[part])
        if model_uri is None:
            raise ValueError(
                f"Run {run_id} has no {part} logged by cvn_sklearn.persist.log_artifact "
                f"(no {MODEL_URI_TAGS[part]!r} tag)."
            )
        with tempfile.TemporaryDirectory() as folder:
            try:
                local = Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=folder), "model.skops")
                return skops.io.load(local, trusted=trusted_types(local))
            except UntrustedModelError as exc:
                raise UntrustedModelError(f"Run {run_id}, {model_uri}/model.skops: {exc}") from None
            except Exception as exc:  # a missing, truncated or foreign file: one clear error, never a library traceback
                raise UntrustedModelError(
                    f"Run {run_id}: the model file {model_uri}/model.skops cannot be read as a cvn_sklearn model "
                    f"({type(exc).__name__}: {exc}). It is missing, truncated or not a skops file written by "
                    "log_artifact; re-log the model, or check the run's artifacts in the store."
                ) from None


def _run(run_id: str, uri: str):
    """The MLflow run ``run_id``, or a clear error naming the store."""
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        return mlflow.get_run(run_id)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
        raise ValueError(
            f"Run {run_id!r} does not exist in the store {uri}. Check the run id (MlflowClient(uri).search_runs) "
            "and the tracking_uri (argument, else MLFLOW_TRACKING_URI, else sqlite:///mlflow.db)."
        ) from None
