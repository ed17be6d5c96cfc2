"""Six registry ensembles sharing base-model work vs six independent scikit-learn stackers.

Both sides stack the same three bases (``registry["xgboost"]``, ``["lightgbm"]``,
``["catboost"]`` with their registry defaults, one thread each) on the same ``KFold(5)`` split
of the same data. The six ensembles share the base models' out-of-sample
predictions and refits through ``cvn_sklearn.stacking``'s cache; the six
scikit-learn ``StackingClassifier`` fits each redo all 3 x (5 + 1) base fits.

Run from the repository root::

    python benchmarks/stacking.py [--n-samples 1000] [--n-features 20]
"""

import argparse
import sys
from pathlib import Path
from time import perf_counter

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sklearn.datasets import make_classification  # noqa: E402
from sklearn.ensemble import StackingClassifier  # noqa: E402
from sklearn.model_selection import KFold  # noqa: E402

from cvn_sklearn.registry import registry  # noqa: E402
from cvn_sklearn.stacking import clear_oos_cache  # noqa: E402

ENSEMBLES = ["blend_avg", "blend_weighted", "stack_logreg", "stack_logreg_shrink", "stack_xgb_meta", "stack_nonneg"]
# One thread per base on both sides: the comparison measures work, not OpenMP contention on a shared machine.
BASE_PARAMS = {"xgboost": {"n_jobs": 1}, "lightgbm": {"n_jobs": 1}, "catboost": {"thread_count": 1}}


def _bases():
    return [(name, registry[name](**params)) for name, params in BASE_PARAMS.items()]


def _timed(fit_all):
    started = perf_counter()
    fit_all()
    return perf_counter() - started


def _warm_up(X, y):
    """Import the three libraries and fit each base once, so neither side pays first-use costs."""
    for _, base in _bases():
        base.fit(X[:100], y[:100])


def _shared(X, y):
    clear_oos_cache()
    for name in ENSEMBLES:
        registry[name](base_models=_bases(), cv=KFold(5)).fit(X, y)


def _independent(X, y):
    for _ in ENSEMBLES:
        StackingClassifier(_bases(), cv=KFold(5)).fit(X, y)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=1000)
    parser.add_argument("--n-features", type=int, default=20)
    args = parser.parse_args(argv)
    X, y = make_classification(n_samples=args.n_samples, n_features=args.n_features, random_state=0)
    _warm_up(X, y)  # the registry imports libraries lazily: without this the side timed first pays the imports
    shared, independent = _timed(lambda: _shared(X, y)), _timed(lambda: _independent(X, y))
    print(f"data: {args.n_samples} rows x {args.n_features} features; bases: {', '.join(BASE_PARAMS)}; cv: KFold(5)")
    print(f"six cvn_sklearn ensembles, shared OOS cache : {shared:8.2f} s")
    print(f"six sklearn StackingClassifier fits        : {independent:8.2f} s")
    print(f"ratio shared / independent                 : {shared / independent:8.3f} (target <= 0.35)")


if __name__ == "__main__":
    main()
