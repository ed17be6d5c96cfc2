"""Walk-forward training: the :mod:`~cvn_sklearn.dags.fixed_params` DAG once per fold, as a ``@subdag``.

The DAG::

    cv, X, y, t1 -> fold (Parallelizable) -> fold_datasets -> fold_artifact (@subdag fixed_params) -> fold_result
                                                                     fold_results (Collect) -> walk_forward_result

Each fold follows the harness's row policy within its own training window:
the model is fitted on the window's first rows, calibration and θ on its last
``val_size`` share (after a purge gap and label-overlap purging, see
:func:`~cvn_sklearn.model_selection.walk_forward_folds`), and the fold's test
block is only scored (``metrics_test``) and predicted. Cells run on the
driver's executor: in process by default, on a Dask cluster with
:class:`hamilton.plugins.h_dask.DaskExecutor`. No driver runs inside a node.
"""

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from hamilton.function_modifiers import source, subdag
from hamilton.htypes import Collect, Parallelizable

from cvn_sklearn.contracts import Datasets, FeatureVersion, TrainedArtifact, take_rows
from cvn_sklearn.dags import fixed_params
from cvn_sklearn.model_selection import Fold, walk_forward_folds

# Hamilton makes a node of every public function of this module; the API is the result types of the walk-forward DAG
# (the module docstring describes the DAG).
__all__ = ["FoldResult", "WalkForwardResult"]


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
        One per fold, in fold order: ``metrics_val`` on the fold's validation
        rows (the end of its training window), ``metrics_test`` on its test block.
    folds : tuple of Fold
        The fit, validation and test rows of each fold.
    predictions : ndarray of shape (n_samples, 2)
        ``predict_proba`` of the fold model that had the row in its test set;
        ``NaN`` for rows no fold tested.
    covered : ndarray of bool of shape (n_samples,)
        Rows with an out-of-sample prediction.
    """

    artifacts: tuple
    folds: tuple
    predictions: np.ndarray
    covered: np.ndarray

    @property
    def test_indices(self) -> tuple:
        """The test rows of each fold."""
        return tuple(fold.test for fold in self.folds)

    @property
    def thresholds(self) -> np.ndarray:
        """θ of each fold."""
        return np.array([artifact.threshold for artifact in self.artifacts])


def feature_version(X: Any) -> FeatureVersion:
    """The feature version of ``X``, computed once for every fold."""
    return FeatureVersion.of(X)


def fold(cv: Any, X: Any, y: Any, t1: Any, val_size: float, gap: Any, allow_future_rows: bool) -> Parallelizable[Fold]:
    """Fan out: one cell per fold of ``cv``; look-ahead splits and overlapping test sets are refused."""
    yield from walk_forward_folds(cv, X, y, t1=t1, val_size=val_size, gap=gap, allow_future_rows=allow_future_rows)


def fold_datasets(
    fold: Fold, X: Any, y: Any, returns: Any, feature_version: FeatureVersion, periods_per_year: float
) -> Datasets:
    """The fold's train (fit rows), val (end of its training window) and test (its test block)."""
    parts = (X, y) if returns is None else (X, y, returns)
    train, val, test = ([take_rows(values, rows) for values in parts] for rows in (fold.fit, fold.val, fold.test))
    return Datasets(
        tuple(train), tuple(val), tuple(test), feature_version=feature_version, periods_per_year=periods_per_year
    )


def fold_context(fold: Fold) -> dict:
    """What the fold's events carry: ``fold``."""
    return {"fold": fold.index}


@subdag(fixed_params, inputs={"datasets": source("fold_datasets"), "event_context": source("fold_context")})
def fold_artifact(artifact: TrainedArtifact) -> TrainedArtifact:
    """The fold's :class:`~cvn_sklearn.contracts.TrainedArtifact`, from the ``fixed_params`` sub-DAG."""
    return artifact


def fold_result(fold: Fold, fold_artifact: TrainedArtifact, X: Any) -> FoldResult:
    """The fold's artifact and its probabilities on the fold's test block."""
    return FoldResult(fold, fold_artifact, fold_artifact.estimator.predict_proba(take_rows(X, fold.test)))


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
        folds=tuple(result.fold for result in fold_results),
        predictions=predictions,
        covered=covered,
    )
