"""One model with fixed hyperparameters: ``Datasets`` in, ``TrainedArtifact`` out.

The row policy: the model is fitted on every ``train`` row (an early-stopping
model holds back the last ``validation_fraction`` of them, in time order);
calibration and θ are fitted on the ``val`` rows with the model frozen
(:class:`~sklearn.frozen.FrozenEstimator`), both on the same rows (see
:class:`~cvn_sklearn.CalibratedThetaClassifier` for why sharing is sound);
``test`` rows are only scored. So ``metrics_val`` scores the rows θ was
tuned on, and ``metrics_test`` is the honest out-of-sample score.

The DAG (config ``calibrate`` and ``tune_theta`` pick the ``tuned`` variant)::

    model_name, hpo_params -> model -> fitted_model (train rows) -> fitted (val rows) -> threshold, buy
    datasets ------------------------------------------------------> predicted_* -> signal_*, proba_* -> metrics_*, trading_*
                                                                                                       -> artifact

Each split's rows are predicted once: ``predicted_val`` is the ``predict_proba``
the calibrator and θ were fitted on (the frozen model predicted the ``val``
rows once, in ``tuned``), ``predicted_test`` one ``predict_proba`` of the
``test`` rows; ``signal_*`` applies the estimator's own decision rule to them
(:meth:`~cvn_sklearn._heldout.BaseHeldOutClassifier._labels_from_proba`, or a registry model's own, what its
``predict`` applies), and ``buy_signal_test`` is
:meth:`TrainedArtifact.predict <cvn_sklearn.contracts.TrainedArtifact.predict>`
of the test rows from them, for callers that need the signal without
predicting again. The buy label is derived once per run: the ``buy`` node, or
the front door that already derived it (an override of that node).

* ``calibrate=True, tune_theta=True``: :class:`~cvn_sklearn.CalibratedThetaClassifier`;
* ``calibrate=True, tune_theta=False``: :class:`~cvn_sklearn.Calibrate`, θ = 0.5;
* ``calibrate=False, tune_theta=True``: :class:`~cvn_sklearn.ThetaSweep` on raw probabilities;
* ``calibrate=False, tune_theta=False``: the raw model, θ = 0.5.

Config ``meta_labeling=True`` adds ``meta_label_model`` (meta-labeling, trained
on the validation rows; see its node ``meta_label_model__trained``). Events of the
fits carry ``event_context`` (a walk-forward fold binds ``fold``);
``training_complete`` is emitted by :class:`~cvn_sklearn.dags.TrainingComplete`,
a lifecycle hook, once ``artifact`` is built.
"""

from dataclasses import replace
from time import perf_counter
from typing import Any, Optional

import numpy as np
import structlog
from hamilton.function_modifiers import config, extract_fields, parameterize, source, value
from sklearn.base import BaseEstimator, clone
from sklearn.frozen import FrozenEstimator

from cvn_sklearn._heldout import BaseHeldOutClassifier
from cvn_sklearn.adapter import Adapter
from cvn_sklearn.calibration import Calibrate
from cvn_sklearn.contracts import (
    DatasetShape,
    Datasets,
    ReliabilityBins,
    SplitMetrics,
    TrainedArtifact,
    buy_column,
    confirmed_signal,
    meta_features,
    take_rows,
)
from cvn_sklearn.metrics import TradingMetrics, buy_label, evaluate, trading_metrics
from cvn_sklearn.pipeline import CalibratedThetaClassifier
from cvn_sklearn.registry import registry
from cvn_sklearn.threshold import ThetaSweep

# Hamilton makes a node of every public function of this module; the API is none of them
# (the module docstring describes the DAG).
__all__ = []

DEFAULT_THRESHOLD = 0.5


def buy(datasets: Datasets, pos_label: Any) -> Any:
    """The buy label: ``pos_label``, or 1 for ``{0, 1}`` / ``{-1, 1}`` / boolean labels (never guessed)."""
    return buy_label(datasets.labels(), pos_label)


def model(model_name: str, hpo_params: dict) -> BaseEstimator:
    """The unfitted registry estimator (model or ensemble) with ``hpo_params``."""
    return registry[model_name](**hpo_params)


@extract_fields({"fitted_model": BaseEstimator, "fit_seconds": float})
def fit(model: BaseEstimator, datasets: Datasets, event_context: dict) -> dict:
    """A clone of ``model`` fitted on every ``train`` row, and the wall-clock time it took."""
    started = perf_counter()
    with structlog.contextvars.bound_contextvars(**event_context):
        fitted = clone(model).fit(datasets.train.X, datasets.train.y)
    return {"fitted_model": fitted, "fit_seconds": perf_counter() - started}


@config.when(calibrate=True, tune_theta=True)
def tuner__calibrated_theta(calibration: str, objective: str, constraints: dict, buy: Any) -> Optional[BaseEstimator]:
    """Calibration, then θ tuned on the calibrated probabilities (placeholder model, frozen at fit)."""
    return CalibratedThetaClassifier(calibration=calibration, objective=objective, pos_label=buy, **constraints)


@config.when(calibrate=True, tune_theta=False)
def tuner__calibrated(calibration: str) -> Optional[BaseEstimator]:
    """Calibration only."""
    return Calibrate(method=calibration)


@config.when(calibrate=False, tune_theta=True)
def tuner__theta(objective: str, constraints: dict, buy: Any) -> Optional[BaseEstimator]:
    """θ tuned on the raw probabilities."""
    return ThetaSweep(objective=objective, pos_label=buy, **constraints)


@config.when(calibrate=False, tune_theta=False)
def tuner__raw() -> Optional[BaseEstimator]:
    """Nothing to tune: the raw model."""
    return None


@extract_fields({"fitted": BaseEstimator, "training_time_sec": float, "held_out_proba": Optional[np.ndarray]})
def tuned(
    tuner: Optional[BaseEstimator], fitted_model: BaseEstimator, fit_seconds: float, datasets: Datasets, event_context: dict
) -> dict:
    """The frozen model calibrated and/or thresholded on every ``val`` row; the time of the whole run.

    ``held_out_proba`` is the ``predict_proba`` of the ``val`` rows the tuner
    was fitted on (``None`` for the raw model), so the rows are not predicted again.
    """
    if tuner is None:
        return {"fitted": fitted_model, "training_time_sec": fit_seconds, "held_out_proba": None}
    started = perf_counter()
    val = datasets.val
    returns = val.returns if isinstance(tuner, (ThetaSweep, CalibratedThetaClassifier)) else None
    fitted = clone(tuner).set_params(estimator=FrozenEstimator(fitted_model))
    with structlog.contextvars.bound_contextvars(**event_context):
        held_out = fitted._fit_held_out(val.X, val.y, returns, {})
    return {"fitted": fitted, "training_time_sec": fit_seconds + perf_counter() - started, "held_out_proba": held_out}


@config.when(tune_theta=True)
def threshold__tuned(fitted: BaseEstimator) -> float:
    """θ picked on the ``val`` rows."""
    return float(fitted.theta_)


@config.when(tune_theta=False)
def threshold__default() -> float:
    """0.5: the raw decision rule of a binary classifier."""
    return DEFAULT_THRESHOLD


def predicted_val(fitted: BaseEstimator, datasets: Datasets, held_out_proba: Optional[np.ndarray]) -> np.ndarray:
    """``predict_proba`` of the ``val`` rows: the one the calibrator and θ were fitted on, else predicted once."""
    return fitted.predict_proba(datasets.val.X) if held_out_proba is None else held_out_proba


def predicted_test(fitted: BaseEstimator, datasets: Datasets) -> np.ndarray:
    """``predict_proba`` of the ``test`` rows, predicted once and shared by the nodes below."""
    return fitted.predict_proba(datasets.test.X)


@parameterize(
    proba_val={"predicted": source("predicted_val")},
    proba_test={"predicted": source("predicted_test")},
)
def proba(fitted: BaseEstimator, predicted: np.ndarray, buy: Any) -> np.ndarray:
    """P(buy) of the fitted estimator on one split: the buy label's column of its ``predict_proba``."""
    return predicted[:, buy_column(fitted, buy)]


@parameterize(
    signal_val={"split": value("val"), "predicted": source("predicted_val")},
    signal_test={"split": value("test"), "predicted": source("predicted_test")},
)
def signal(fitted: BaseEstimator, datasets: Datasets, split: str, predicted: np.ndarray, buy: Any) -> np.ndarray:
    """The buy signal on one split: the estimator's own decision rule (θ is applied there and nowhere else).

    A cvn_sklearn meta-estimator or registry model (an
    :class:`~cvn_sklearn.adapter.Adapter`) applies its ``predict`` rule to the
    probabilities already computed; any other estimator is asked ``predict``.
    """
    if isinstance(fitted, (BaseHeldOutClassifier, Adapter)):
        return np.asarray(fitted._labels_from_proba(predicted)) == buy
    return np.asarray(fitted.predict(getattr(datasets, split).X)) == buy


def buy_signal_test(
    signal_test: np.ndarray, proba_test: np.ndarray, datasets: Datasets, meta_label_model: Optional[BaseEstimator]
) -> np.ndarray:
    """:meth:`TrainedArtifact.predict <cvn_sklearn.contracts.TrainedArtifact.predict>` of the ``test`` rows, from their one prediction."""
    return confirmed_signal(meta_label_model, datasets.test.X, signal_test, proba_test)


@parameterize(
    metrics_val={"split": value("val"), "proba": source("proba_val"), "signal": source("signal_val")},
    metrics_test={"split": value("test"), "proba": source("proba_test"), "signal": source("signal_test")},
)
def metrics(datasets: Datasets, split: str, proba: np.ndarray, signal: np.ndarray, buy: Any) -> SplitMetrics:
    """:func:`~cvn_sklearn.metrics.evaluate` of the buy signal and P(buy) on one split."""
    return evaluate(getattr(datasets, split).y, proba, predicted=signal, pos_label=buy)


@parameterize(
    trading_val={"split": value("val"), "signal": source("signal_val")},
    trading_test={"split": value("test"), "signal": source("signal_test")},
)
def trading(datasets: Datasets, split: str, signal: np.ndarray, constraints: dict) -> Optional[TradingMetrics]:
    """:func:`~cvn_sklearn.trading.trading_metrics` of the buy signal on one split's returns, if any.

    Net of the cost per trade θ was tuned with (``constraints["cost"]``, 0 without one); every row is a bar.
    """
    returns = getattr(datasets, split).returns
    if returns is None:
        return None
    return trading_metrics(signal, returns, periods_per_year=datasets.periods_per_year, cost=constraints.get("cost", 0.0))


def reliability_val(datasets: Datasets, proba_val: np.ndarray, buy: Any) -> ReliabilityBins:
    """The validation reliability diagram as per-bin counts (the artifact holds no rows)."""
    return ReliabilityBins.of(np.asarray(datasets.val.y) == buy, proba_val)


def dataset_shape(datasets: Datasets, fitted_model: BaseEstimator, fitted: BaseEstimator, buy: Any) -> DatasetShape:
    """Counts, class balance and the rows of each stage (``rows_fit`` ... ``rows_test``)."""
    early = getattr(fitted_model, "rows_early_stopping_", 0) if isinstance(fitted_model, Adapter) else 0
    n_train, n_val = len(datasets.train.y), len(datasets.val.y)
    calibrated = isinstance(fitted, (Calibrate, CalibratedThetaClassifier))
    theta_result = getattr(fitted, "theta_result_", None)
    return replace(
        datasets.shape(buy),
        rows_fit=int(getattr(fitted_model, "rows_fit_", n_train - early)),
        rows_early_stopping=int(early),
        rows_calibration=n_val if calibrated else 0,
        rows_theta=0 if theta_result is None else theta_result.n_val,
        rows_test=len(datasets.test.y),
    )


@config.when(meta_labeling=True)
def meta_label_model__trained(
    signal_val: np.ndarray,
    datasets: Datasets,
    proba_val: np.ndarray,
    buy: Any,
    meta_label: str,
    meta_label_params: dict,
) -> Optional[BaseEstimator]:
    """Meta-labeling: a second model learns, on the validation rows the primary model calls buys, which were right.

    Its input is the row's features plus the primary P(buy)
    (:func:`~cvn_sklearn.contracts.meta_features`); its target is 1 where the
    buy was a true positive.
    """
    right = (np.asarray(datasets.val.y)[signal_val] == buy).astype(int)
    if len(np.unique(right)) < 2:
        raise ValueError(
            "Meta-labeling needs primary buy signals that were both right and wrong on the validation rows; got "
            f"{int(signal_val.sum())} signal(s), {int(right.sum())} right. "
            "Use more validation rows or train without meta_label."
        )
    return registry[meta_label](**meta_label_params).fit(
        meta_features(take_rows(datasets.val.X, signal_val), proba_val[signal_val]), right
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
    trading_val: Optional[TradingMetrics],
    trading_test: Optional[TradingMetrics],
    threshold: float,
    training_time_sec: float,
    dataset_shape: DatasetShape,
    datasets: Datasets,
    reliability_val: ReliabilityBins,
    pos_label: Any,
    event_context: dict,
    cusum_metadata: Optional[dict],
) -> TrainedArtifact:
    """The :class:`~cvn_sklearn.contracts.TrainedArtifact` of the run (``event_context`` reaches the hook)."""
    return TrainedArtifact(
        model_name=model_name,
        estimator=fitted,
        metrics_val=metrics_val,
        metrics_test=metrics_test,
        threshold=threshold,
        selected_features=_feature_names(fitted),
        hyperparams=model.get_params(deep=False),
        training_time_sec=training_time_sec,
        dataset_shape=dataset_shape,
        feature_version=datasets.feature_version,
        meta_label_model=meta_label_model,
        reliability_val=reliability_val,
        pos_label=pos_label,
        trading_val=trading_val,
        trading_test=trading_test,
        cusum_metadata=cusum_metadata,
    )


def _feature_names(fitted) -> tuple[str, ...]:
    names = getattr(fitted, "feature_names_in_", None)
    if names is None:
        return tuple(f"x{i}" for i in range(fitted.n_features_in_))
    return tuple(str(name) for name in names)
