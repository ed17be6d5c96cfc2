"""One model with fixed hyperparameters: ``Datasets`` in, ``TrainedArtifact`` out.

The DAG (config ``calibrate`` and ``tune_theta`` pick the ``estimator`` and
``threshold`` variants)::

    model_name, hpo_params -> model -> estimator -> fitted, training_time_sec
                                                     |-> threshold
    datasets ------------------------------> proba_val, proba_test -> metrics_val, metrics_test -> artifact

* ``calibrate=True, tune_theta=True``: :class:`~cvn_sklearn.CalibratedThetaClassifier`;
* ``calibrate=True, tune_theta=False``: :class:`~cvn_sklearn.Calibrate`, θ = 0.5;
* ``calibrate=False, tune_theta=True``: :class:`~cvn_sklearn.ThetaSweep` on raw probabilities;
* ``calibrate=False, tune_theta=False``: the raw model, θ = 0.5 (its own
  ``predict``: the more probable class).

Config ``meta_labeling=True`` adds ``meta_label_model`` (meta-labeling, trained
on the validation rows; see :func:`meta_label_model__trained`).

The model is fitted on ``datasets.train`` only (calibration and θ take their
held-out rows from the end of it, in time order); ``val`` and ``test`` are
only scored, so ``metrics_val`` is an honest out-of-sample score for model
selection and ``metrics_test`` stays untouched by it.
"""

from time import perf_counter
from typing import Optional

import numpy as np
from hamilton.function_modifiers import config, extract_fields, parameterize, source, value
from sklearn.base import BaseEstimator, clone

from cvn_sklearn.adapter import Adapter
from cvn_sklearn.calibration import Calibrate
from cvn_sklearn.contracts import Datasets, ReliabilityBins, SplitMetrics, TrainedArtifact, meta_features, take_rows
from cvn_sklearn.events import emit
from cvn_sklearn.metrics import evaluate
from cvn_sklearn.pipeline import CalibratedThetaClassifier
from cvn_sklearn.registry import registry
from cvn_sklearn.threshold import ThetaSweep

DEFAULT_THRESHOLD = 0.5


def model(model_name: str, hpo_params: dict) -> BaseEstimator:
    """The unfitted registry estimator (model or ensemble) with ``hpo_params``."""
    return registry[model_name](**hpo_params)


@config.when(calibrate=True, tune_theta=True)
def estimator__calibrated_theta(
    model: BaseEstimator, calibration: str, objective: str, constraints: dict
) -> BaseEstimator:
    """Calibration, then θ tuned on the calibrated probabilities."""
    return CalibratedThetaClassifier(model, calibration=calibration, objective=objective, **constraints)


@config.when(calibrate=True, tune_theta=False)
def estimator__calibrated(model: BaseEstimator, calibration: str) -> BaseEstimator:
    """Calibration only."""
    return Calibrate(model, method=calibration)


@config.when(calibrate=False, tune_theta=True)
def estimator__theta(model: BaseEstimator, objective: str, constraints: dict) -> BaseEstimator:
    """θ tuned on the raw probabilities."""
    return ThetaSweep(model, objective=objective, **constraints)


@config.when(calibrate=False, tune_theta=False)
def estimator__raw(model: BaseEstimator) -> BaseEstimator:
    """The raw model."""
    return model


@config.when(tune_theta=True)
def fit_params__theta(datasets: Datasets) -> dict:
    """θ objectives on returns read the training rows' forward returns."""
    return {"returns": datasets.train.returns}


@config.when(tune_theta=False)
def fit_params__plain() -> dict:
    """Nothing beyond ``X`` and ``y``."""
    return {}


@extract_fields({"fitted": BaseEstimator, "training_time_sec": float})
def fit(estimator: BaseEstimator, datasets: Datasets, fit_params: dict) -> dict:
    """A clone of ``estimator`` fitted on the training split, and the wall-clock time it took."""
    started = perf_counter()
    fitted = clone(estimator).fit(datasets.train.X, datasets.train.y, **fit_params)
    return {"fitted": fitted, "training_time_sec": perf_counter() - started}


@config.when(tune_theta=True)
def threshold__tuned(fitted: BaseEstimator) -> float:
    """θ picked on the held-out end of the training rows."""
    return float(fitted.theta_)


@config.when(tune_theta=False)
def threshold__default() -> float:
    """0.5: the raw decision rule of a binary classifier."""
    return DEFAULT_THRESHOLD


@parameterize(proba_val={"split": value("val")}, proba_test={"split": value("test")})
def proba(fitted: BaseEstimator, datasets: Datasets, split: str) -> np.ndarray:
    """P(buy) of the fitted estimator on one split, predicted once and shared by the nodes below."""
    return fitted.predict_proba(getattr(datasets, split).X)[:, 1]


@parameterize(
    metrics_val={"split": value("val"), "proba": source("proba_val")},
    metrics_test={"split": value("test"), "proba": source("proba_test")},
)
def metrics(fitted: BaseEstimator, datasets: Datasets, threshold: float, split: str, proba: np.ndarray) -> SplitMetrics:
    """:func:`~cvn_sklearn.metrics.evaluate` of the fitted estimator on one split at θ."""
    return evaluate(getattr(datasets, split).y, proba, threshold, pos_label=fitted.classes_[1])


def reliability_val(fitted: BaseEstimator, datasets: Datasets, proba_val: np.ndarray) -> ReliabilityBins:
    """The validation reliability diagram as per-bin counts (the artifact holds no rows)."""
    is_buy = np.asarray(datasets.val.y) == fitted.classes_[1]
    return ReliabilityBins.of(is_buy, proba_val)


@config.when(meta_labeling=True)
def meta_label_model__trained(
    fitted: BaseEstimator,
    threshold: float,
    datasets: Datasets,
    proba_val: np.ndarray,
    meta_label: str,
    meta_label_params: dict,
) -> Optional[BaseEstimator]:
    """Meta-labeling: a second model learns, on the validation rows the primary model calls buys, which were right.

    Its input is the row's features plus the primary P(buy)
    (:func:`~cvn_sklearn.contracts.meta_features`); its target is 1 where the
    buy was a true positive.
    """
    signal = proba_val >= threshold
    right = (np.asarray(datasets.val.y)[signal] == fitted.classes_[1]).astype(int)
    if len(np.unique(right)) < 2:
        raise ValueError(
            "Meta-labeling needs primary buy signals that were both right and wrong on the validation rows; got "
            f"{int(signal.sum())} signal(s), {int(right.sum())} right. "
            "Use more validation rows or train without meta_label."
        )
    return registry[meta_label](**meta_label_params).fit(
        meta_features(take_rows(datasets.val.X, signal), proba_val[signal]), right
    )


@config.when(meta_labeling=False)
def meta_label_model__none() -> Optional[BaseEstimator]:
    """No meta-labeling."""
    return None


def artifact(
    model_name: str,
    model: BaseEstimator,
    fitted: BaseEstimator,
    meta_label_model: Optional[BaseEstimator],
    metrics_val: SplitMetrics,
    metrics_test: SplitMetrics,
    threshold: float,
    training_time_sec: float,
    datasets: Datasets,
    reliability_val: ReliabilityBins,
) -> TrainedArtifact:
    """The :class:`~cvn_sklearn.contracts.TrainedArtifact` of the run."""
    return TrainedArtifact(
        model_name=model_name,
        estimator=fitted,
        metrics_val=metrics_val,
        metrics_test=metrics_test,
        threshold=threshold,
        selected_features=_feature_names(fitted),
        hyperparams=model.get_params(deep=False),
        training_time_sec=training_time_sec,
        dataset_shape=datasets.shape(),
        feature_version=datasets.feature_version,
        meta_label_model=meta_label_model,
        reliability_val=reliability_val,
    )


def _model_of(fitted):
    """The fitted model inside the calibration / θ wrappers."""
    if isinstance(fitted, (Calibrate, CalibratedThetaClassifier)):
        return fitted.estimators_[0]
    if isinstance(fitted, ThetaSweep):
        return _model_of(fitted.estimator_)
    return fitted


def trained_artifact(artifact: TrainedArtifact) -> TrainedArtifact:
    """``artifact``, once ``training_complete`` (θ and validation metrics included) is emitted."""
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
    return artifact


def _feature_names(fitted) -> tuple[str, ...]:
    names = getattr(fitted, "feature_names_in_", None)
    if names is None:
        return tuple(f"x{i}" for i in range(fitted.n_features_in_))
    return tuple(str(name) for name in names)
