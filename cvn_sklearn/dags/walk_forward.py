"""Walk-forward training: one :mod:`~cvn_sklearn.dags.fixed_params` run per fold.

The DAG::

    cv, X, y -> fold (Parallelizable) -> fold_result -> fold_results (Collect) -> walk_forward_result
    X -> feature_version ---------------^
    run_spec (model_name, hpo_params, calibration, objective, constraints) --^

Each ``fold`` cell trains on the fold's training rows exactly as
:func:`cvn_sklearn.harness.train_one` does (calibration and θ from the held-out
end of those rows) and predicts the fold's test rows. A fold has no separate
validation rows, so its artifact's ``metrics_val`` and ``metrics_test`` both
score the fold's test rows. Cells run on the driver's executor: in process by
default, on a Dask cluster with :class:`hamilton.plugins.h_dask.DaskExecutor`.
"""

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import structlog
from hamilton.htypes import Collect, Parallelizable

from cvn_sklearn.contracts import Datasets, FeatureVersion, TrainedArtifact, take_rows
from cvn_sklearn.dags import train_artifact
from cvn_sklearn.model_selection import check_disjoint


class Fold(NamedTuple):
    """One walk-forward fold: its position and its row indices."""

    index: int
    train: np.ndarray
    test: np.ndarray


class FoldResult(NamedTuple):
    """A fold's artifact and its out-of-sample probabilities on the fold's test rows."""

    fold: Fold
    artifact: TrainedArtifact
    proba: np.ndarray


@dataclass(frozen=True)
class WalkForwardResult:
    """Per-fold artifacts and the out-of-sample predictions they make together.

    Attributes
    ----------
    artifacts : tuple of TrainedArtifact
        One per fold, in fold order.
    test_indices : tuple of ndarray
        The test rows of each fold.
    predictions : ndarray of shape (n_samples, 2)
        ``predict_proba`` of the fold model that had the row in its test set;
        ``NaN`` for rows no fold tested.
    covered : ndarray of bool of shape (n_samples,)
        Rows with an out-of-sample prediction.
    """

    artifacts: tuple
    test_indices: tuple
    predictions: np.ndarray
    covered: np.ndarray

    @property
    def thresholds(self) -> np.ndarray:
        """θ of each fold."""
        return np.array([artifact.threshold for artifact in self.artifacts])


def feature_version(X: Any) -> FeatureVersion:
    """The feature version of ``X``, computed once for every fold."""
    return FeatureVersion.of(X)


def fold(cv: Any, X: Any, y: Any) -> Parallelizable[Fold]:
    """Fan out: one cell per ``(train, test)`` split of ``cv``; test sets must be disjoint."""
    splits = [(np.asarray(train), np.asarray(test)) for train, test in cv.split(X, y)]
    check_disjoint([test for _, test in splits], len(y))
    for index, (train, test) in enumerate(splits):
        yield Fold(index, train, test)


def fold_result(
    fold: Fold, X: Any, y: Any, returns: Any, feature_version: FeatureVersion, run_spec: dict
) -> FoldResult:
    """Train on the fold's training rows, predict its test rows (events carry ``fold``)."""
    train, test = _rows(fold.train, X, y, returns), _rows(fold.test, X, y, returns)
    datasets = Datasets(train=train, val=test, test=test, feature_version=feature_version)
    with structlog.contextvars.bound_contextvars(fold=fold.index):
        artifact = train_artifact({**run_spec, "datasets": datasets})
    return FoldResult(fold, artifact, artifact.estimator.predict_proba(test[0]))


def fold_results(fold_result: Collect[FoldResult]) -> list:
    """Fan in: every fold's result, in fold order."""
    return sorted(fold_result, key=lambda result: result.fold.index)


def walk_forward_result(fold_results: list, y: Any) -> WalkForwardResult:
    """Assemble the out-of-sample predictions of all folds."""
    predictions = np.full((len(y), 2), np.nan)
    covered = np.zeros(len(y), dtype=bool)
    for result in fold_results:
        predictions[result.fold.test] = result.proba
        covered[result.fold.test] = True
    return WalkForwardResult(
        artifacts=tuple(result.artifact for result in fold_results),
        test_indices=tuple(result.fold.test for result in fold_results),
        predictions=predictions,
        covered=covered,
    )


def _rows(index: np.ndarray, X, y, returns) -> tuple:
    parts = (X, y) if returns is None else (X, y, returns)
    return tuple(take_rows(values, index) for values in parts)
