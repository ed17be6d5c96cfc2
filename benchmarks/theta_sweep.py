"""Benchmark: cvn_sklearn.theta_sweep on 10^6 rows against scikit-learn.

Run from the repository root::

    python benchmarks/theta_sweep.py [n_rows]

Prints, on the same probabilities:

- ``theta_sweep`` (exact: every distinct probability is a candidate θ);
- scikit-learn's threshold search, ``TunedThresholdClassifierCV(FrozenEstimator(est),
  cv="prefit", refit=False, scoring="f1", thresholds=100)`` (a 100-point grid,
  one ``f1_score`` call per point);
- ``sklearn.metrics.precision_recall_curve`` (exact, the F1 curve follows from it);
- a bare ``np.sort`` of the probabilities (the floor) and ``np.argsort``.

Targets: exact, at most 6x the ``np.sort`` time, at least 100x faster than the
grid search. Times are the best of several runs.
"""

import sys
import time
import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import precision_recall_curve
from sklearn.model_selection import TunedThresholdClassifierCV

from cvn_sklearn import theta_sweep


class ScoreColumn(ClassifierMixin, BaseEstimator):
    """A fitted classifier whose P(positive) is the first column of X, so every method sees the same probabilities."""

    def fit(self, X, y):
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X):
        return np.column_stack([1.0 - X[:, 0], X[:, 0]])


def best_time(fn, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def main(n_rows=1_000_000):
    rng = np.random.default_rng(0)
    proba = rng.beta(2, 5, n_rows)
    y = (rng.random(n_rows) < proba).astype(int)
    unconstrained = {"max_positive_rate_ratio": None}

    t_sort, _ = best_time(lambda: np.sort(proba), 15)
    t_argsort, _ = best_time(lambda: np.argsort(proba), 5)
    t_sweep, result = best_time(lambda: theta_sweep(y, proba, constraints=unconstrained), 15)
    t_default, _ = best_time(lambda: theta_sweep(y, proba), 15)
    t_pr, (precision, recall, _) = best_time(lambda: precision_recall_curve(y, proba), 3)
    X = proba.reshape(-1, 1)
    frozen = FrozenEstimator(ScoreColumn().fit(X, y))
    grid = TunedThresholdClassifierCV(frozen, cv="prefit", refit=False, scoring="f1", thresholds=100)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # cv="prefit" with a FrozenEstimator warns about data reuse
        t_grid, grid = best_time(lambda: grid.fit(X, y), 1)

    with np.errstate(invalid="ignore", divide="ignore"):
        exact_f1 = np.nanmax(2 * precision * recall / (precision + recall))
    print(f"rows: {n_rows:,}   distinct probabilities: {result.thresholds.size:,}")
    print(f"{'method':<58}{'time':>10}{'best F1':>12}")
    rows = [
        ("np.sort (floor)", t_sort, None),
        ("np.argsort", t_argsort, None),
        ("cvn_sklearn.theta_sweep, f1, no constraint", t_sweep, result.objective_value),
        ("cvn_sklearn.theta_sweep, f1, default constraints", t_default, None),
        ("sklearn precision_recall_curve (exact)", t_pr, exact_f1),
        ("sklearn TunedThresholdClassifierCV, prefit, 100 thresholds", t_grid, grid.best_score_),
    ]
    for name, seconds, f1 in rows:
        print(f"{name:<58}{seconds * 1e3:>8.1f}ms{'' if f1 is None else f'{f1:>12.6f}'}")
    print()
    print(f"exact: theta_sweep F1 - precision_recall_curve max F1 = {result.objective_value - exact_f1:+.2e}")
    print(f"theta_sweep / np.sort      = {t_sweep / t_sort:5.2f}x   (target <= 6x)")
    print(f"grid search / theta_sweep  = {t_grid / t_sweep:5.0f}x   (target >= 100x)")
    print(f"precision_recall_curve / theta_sweep = {t_pr / t_sweep:5.1f}x")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
