"""Six registry ensembles sharing one OOS store vs six independent scikit-learn stackers.

Both sides stack the same three bases (``registry["xgboost"]``, ``["lightgbm"]``,
``["catboost"]`` with their registry defaults) on the same ``KFold(5)`` split of
the same data, with the same six meta-learners (the ensembles' own final
estimators, given to scikit-learn's ``StackingClassifier`` as
``final_estimator``), so both sides must predict the same probabilities; the
script checks they agree to 1e-12. The six ensembles share the base models'
out-of-sample predictions and refits through one ``OOSStore``; the six
scikit-learn stackers each redo all 3 x (5 + 1) base fits.

Fair play: one thread per fit on both sides (``OMP_NUM_THREADS=1`` and
``threadpool_limits(1)`` cover the bases and the XGBoost meta-learner alike),
the same warm-up, and ``--repeats`` runs per side, interleaved, reported as the
median. A fresh store per repeat, so every shared run computes its base fits.

Also reported on its own: the time to fingerprint a ``--fingerprint-rows`` x 30
float64 dataset (the SHA-1 a store computes once per dataset object), and the
time of the second look-up of the same object (a probe of 64 rows).

Run from the repository root::

    python benchmarks/stacking.py [--n-samples 1000] [--n-features 20] [--repeats 3] [--fingerprint-rows 1000000]
"""

import os

os.environ["OMP_NUM_THREADS"] = "1"  # before numpy and the boosters start their thread pools

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from time import perf_counter  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from sklearn.datasets import make_classification  # noqa: E402
from sklearn.ensemble import StackingClassifier  # noqa: E402
from sklearn.model_selection import KFold  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from cvn_sklearn.oos_store import OOSStore  # noqa: E402
from cvn_sklearn.registry import registry  # noqa: E402

ENSEMBLES = ["blend_avg", "blend_weighted", "stack_logreg", "stack_logreg_shrink", "stack_xgb_meta", "stack_nonneg"]
BASE_PARAMS = {"xgboost": {"n_jobs": 1}, "lightgbm": {"n_jobs": 1}, "catboost": {"thread_count": 1}}
TOLERANCE = 1e-12


def _bases():
    return [(name, registry[name](**params)) for name, params in BASE_PARAMS.items()]


def _shared(X, y):
    store = OOSStore()
    return [registry[name](base_models=_bases(), cv=KFold(5), cache=store).fit(X, y) for name in ENSEMBLES]


def _independent(X, y):
    finals = [registry[name]()._make_final_estimator() for name in ENSEMBLES]
    return [StackingClassifier(_bases(), final, cv=KFold(5)).fit(X, y) for final in finals]


def _timed(fit_all, X, y):
    started = perf_counter()
    fitted = fit_all(X, y)
    return perf_counter() - started, fitted


def _largest_difference(shared, independent, X):
    return max(float(np.max(np.abs(a.predict_proba(X) - b.predict_proba(X)))) for a, b in zip(shared, independent))


def _fingerprint_times(n_rows, repeats):
    X, y = np.random.RandomState(0).normal(size=(n_rows, 30)), np.zeros(n_rows, dtype=int)
    first, again = [], []
    for _ in range(repeats):
        store = OOSStore()
        for times in (first, again):
            started = perf_counter()
            store.data_key(X, y, {})
            times.append(perf_counter() - started)
    return statistics.median(first), statistics.median(again)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=1000)
    parser.add_argument("--n-features", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--fingerprint-rows", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    X, y = make_classification(n_samples=args.n_samples, n_features=args.n_features, random_state=0)
    with threadpool_limits(1):
        _shared(X[:100], y[:100]), _independent(X[:100], y[:100])  # warm-up: imports and first-use costs, both sides
        runs = {"shared": [], "independent": []}
        for _ in range(args.repeats):  # interleaved, so drifts of a shared machine hit both sides alike
            for side, fit_all in (("shared", _shared), ("independent", _independent)):
                seconds, fitted = _timed(fit_all, X, y)
                runs[side].append((seconds, fitted))
        difference = _largest_difference(runs["shared"][-1][1], runs["independent"][-1][1], X)
        shared, independent = (statistics.median(s for s, _ in runs[side]) for side in ("shared", "independent"))
        first, again = _fingerprint_times(args.fingerprint_rows, args.repeats)
    print(f"data: {args.n_samples} rows x {args.n_features} features; bases: {', '.join(BASE_PARAMS)}; cv: KFold(5); "
          f"one thread per fit; median of {args.repeats}")
    print(f"six cvn_sklearn ensembles, one OOS store : {shared:8.2f} s")
    print(f"six sklearn StackingClassifier fits      : {independent:8.2f} s")
    print(f"ratio shared / independent               : {shared / independent:8.3f} (target <= 0.2)")
    print(f"largest |difference| of predict_proba    : {difference:8.1e} (must be <= {TOLERANCE:.0e})")
    print(f"fingerprint of {args.fingerprint_rows} x 30 float64 : {first:8.3f} s first, "
          f"{again * 1e3:.2f} ms again (64-row probe of X, hash of y)")
    if difference > TOLERANCE:
        sys.exit(f"The two sides disagree by {difference:.1e} > {TOLERANCE:.0e}: the comparison is not like for like.")


if __name__ == "__main__":
    main()
