"""Benchmark: walk_forward with XGBoost under a concurrent CPU load, pinned (the default) and with every core.

Run from the repository root::

    python benchmarks/threads.py [--rows N] [--features F] [--trees T] [--repeats R]

The load is ``os.cpu_count() - 1`` processes spinning on the CPU (on 2 cores:
one), started before and stopped after each loaded measurement. Four
figures, each the median of ``--repeats`` runs after one warm-up run, side by
side in one process:

- ``n_jobs=1`` (pinned: the default of every front door), unloaded and loaded;
- ``n_jobs=None`` (each library's default: every core), unloaded and loaded.

Prints each median, the loaded / unloaded ratio of each (target for the
pinned default: at most 1.5x) and whether the four runs give the same
out-of-sample predictions (XGBoost's histogram trees do not depend on the
thread count).
"""

import argparse
import multiprocessing
import os
import statistics
import time

import numpy as np

from cvn_sklearn.harness import walk_forward
from cvn_sklearn.model_selection import WalkForwardSplit


def _spin(stop):
    while not stop.is_set():
        sum(i * i for i in range(10_000))


class Load:
    """``n`` busy processes for the duration of the block."""

    def __init__(self, n):
        self.n = n

    def __enter__(self):
        self.stop = multiprocessing.Event()
        self.workers = [multiprocessing.Process(target=_spin, args=(self.stop,), daemon=True) for _ in range(self.n)]
        for worker in self.workers:
            worker.start()
        time.sleep(0.2)  # let them take their cores
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for worker in self.workers:
            worker.join(timeout=10)


def _data(rows, features):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(rows, features))
    y = (X[:, 0] + 0.5 * X[:, 1] + rng.normal(size=rows) > 0.5).astype(int)
    return X, y


def _time(run, repeats):
    run()  # warm-up
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--trees", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    X, y = _data(args.rows, args.features)
    n_load = max(1, (os.cpu_count() or 2) - 1)

    def run(n_jobs):
        return lambda: walk_forward("xgboost", X, y, cv=WalkForwardSplit(3), hpo_params={"n_estimators": args.trees},
                                    calibration="sigmoid", n_jobs=n_jobs).predictions

    results = {}
    for n_jobs in (1, None):
        results[n_jobs, "unloaded"] = _time(run(n_jobs), args.repeats)
        with Load(n_load):
            results[n_jobs, "loaded"] = _time(run(n_jobs), args.repeats)
    print(f"walk_forward, xgboost, {args.rows} rows x {args.features} features, {args.trees} trees, 3 folds; "
          f"load: {n_load} busy process(es) on {os.cpu_count()} cores; median of {args.repeats}")
    print(f"{'n_jobs':<28}{'unloaded s':>12}{'loaded s':>12}{'loaded/unloaded':>18}")
    for n_jobs, label in ((1, "1 (pinned, the default)"), (None, "None (every core)")):
        unloaded, loaded = results[n_jobs, "unloaded"][0], results[n_jobs, "loaded"][0]
        print(f"{label:<28}{unloaded:>12.3f}{loaded:>12.3f}{loaded / unloaded:>17.2f}x")
    predictions = [result for _, result in results.values()]
    same = all(np.allclose(p, predictions[0], equal_nan=True) for p in predictions)
    print(f"same predictions in all four: {same}")


if __name__ == "__main__":
    main()
