"""Orchestration overhead of ``train_one`` against the boosting libraries' own ``fit``.

For XGBoost, LightGBM and CatBoost on the same 50,000 x 30 training rows:

* ``raw``: the native classifier's ``fit`` with the same parameters;
* ``ratio``: ``train_one`` / ``raw`` in wall-clock time; ``cpu ratio`` the same
  in this process's CPU time, which a busy machine disturbs far less (every fit
  runs on one thread);
* ``train_one``: ``train_one(model, calibration=None, objective=None)``, i.e.
  the Hamilton driver, the adapter (validation, label encoding, events) and
  scoring val and test (5,000 rows each) with the one metrics function;
* ``outside fit``: ``train_one``'s time minus the estimator fit inside it
  (``artifact.training_time_sec``), measured in the same call, so it does not
  depend on the machine's load: the Hamilton driver, ``Datasets`` handling,
  scoring val and test, building the artifact and the events;
* ``scoring``: predicting and scoring val and test alone, so that
  ``outside fit - scoring`` is the orchestration itself;
* ``vs fit+predict``: ``train_one`` / (the native ``fit`` plus its
  ``predict_proba`` of val and test): scoring needs those predictions, so
  this is what the orchestration adds to the exact equivalent (the
  probabilities are checked equal);
* ``cal+θ``: calibration and the θ sweep on their own, on the validation rows
  (both on the same rows, as ``train_one`` does), with the model already fitted.

Each number is the median of ``--repeats`` runs (5 by default). Run from the
repository root::

    python benchmarks/overhead.py [--repeats 5] [--rows 50000] [--features 30] [--models lightgbm ...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path
from time import perf_counter, process_time

import numpy as np
from sklearn.datasets import make_classification
from sklearn.frozen import FrozenEstimator

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cvn_sklearn.contracts import Datasets  # noqa: E402
from cvn_sklearn.harness import train_one  # noqa: E402
from cvn_sklearn.metrics import evaluate  # noqa: E402
from cvn_sklearn.pipeline import CalibratedThetaClassifier  # noqa: E402
from cvn_sklearn.registry import registry  # noqa: E402

# One thread each: on a shared machine, OpenMP threads waiting on each other add more noise than signal.
PARAMS = {
    "xgboost": dict(n_estimators=200, n_jobs=1),
    "lightgbm": dict(n_estimators=200, n_jobs=1),
    "catboost": dict(iterations=200, thread_count=1),
}


def timed_runs(functions, repeats: int) -> list[list[tuple[float, float, object]]]:
    """``(seconds, cpu seconds, result)`` of each function per run, run in turns so that load changes hit all alike."""
    runs = [[] for _ in functions]
    for _ in range(repeats):
        for fn, results in zip(functions, runs):
            started, cpu = perf_counter(), process_time()
            result = fn()
            results.append((perf_counter() - started, process_time() - cpu, result))
    return runs


def median_seconds(runs) -> float:
    return statistics.median(seconds for seconds, _, _ in runs)


def median_cpu(runs) -> float:
    """Median CPU seconds of this process: what a single-threaded run costs, whatever else the machine runs."""
    return statistics.median(cpu for _, cpu, _ in runs)


def make_data(n_train: int, n_features: int) -> Datasets:
    informative = min(10, n_features - 2)  # make_classification adds 2 redundant features
    X, y = make_classification(
        n_samples=n_train + 10_000, n_features=n_features, n_informative=informative, random_state=0
    )
    return Datasets(
        train=(X[:n_train], y[:n_train]),
        val=(X[n_train : n_train + 5000], y[n_train : n_train + 5000]),
        test=(X[n_train + 5000 :], y[n_train + 5000 :]),
    )


def raw_fit(name: str, data: Datasets):
    """The native library's own classifier, fitted with the same native parameters."""
    model = registry[name](**PARAMS[name])
    native = model._native_class()(**model._native_params([]))
    return lambda: native.fit(data.train.X, data.train.y)


def raw_fit_and_predict(name: str, data: Datasets):
    """The exact equivalent of ``train_one`` in the native library: its fit, then ``predict_proba`` of val and test.

    Scoring a model means predicting its rows; this is the part of that work
    no orchestration can remove. ``train_one / (raw fit + predict)`` is the
    cost of everything else.
    """
    model = registry[name](**PARAMS[name])
    native = model._native_class()(**model._native_params([]))

    def run():
        native.fit(data.train.X, data.train.y)
        return [native.predict_proba(split.X) for split in (data.val, data.test)]

    return run


def calibration_and_theta(name: str, data: Datasets):
    """Calibrate + θ on the validation rows, the model already fitted on the training rows (train_one's policy)."""
    model = FrozenEstimator(registry[name](**PARAMS[name]).fit(data.train.X, data.train.y))
    return lambda: CalibratedThetaClassifier(model, pos_label=1).fit(data.val.X, data.val.y)


def score(artifact, data: Datasets) -> None:
    """What train_one does after the fit besides orchestration: predict and score val and test.

    Each split is predicted once; the signal is the model's own ``predict`` rule applied to those probabilities.
    """
    for split in (data.val, data.test):
        proba = artifact.estimator.predict_proba(split.X)
        signal = artifact.estimator._labels_from_proba(proba) == 1
        evaluate(split.y, proba[:, 1], predicted=signal)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--features", type=int, default=30)
    parser.add_argument("--models", nargs="+", choices=list(PARAMS), default=list(PARAMS))
    args = parser.parse_args(argv)
    data = make_data(args.rows, args.features)
    print(f"{args.rows} x {args.features}, median of {args.repeats}, cpu_count={os.cpu_count()}")
    header = ("model", "raw fit s", "train_one s", "ratio", "cpu ratio", "vs fit+predict", "outside fit ms",
              "scoring ms", "cal+θ s")
    print("{:10s} {:>10s} {:>12s} {:>7s} {:>9s} {:>14s} {:>15s} {:>11s} {:>9s}".format(*header))
    for name in args.models:
        harness = lambda: train_one(name, data, PARAMS[name], calibration=None, objective=None)  # noqa: E731
        raw, trained, extra, exact = timed_runs(
            [raw_fit(name, data), harness, calibration_and_theta(name, data), raw_fit_and_predict(name, data)],
            args.repeats,
        )
        # both sides predict the same rows alike: train_one's probabilities are the native model's
        same = all(np.allclose(trained[0][2].estimator.predict_proba(split.X), proba)
                   for split, proba in zip((data.val, data.test), exact[0][2]))
        # same run, so insensitive to machine load: train_one's time minus the fit inside it
        outside = statistics.median(seconds - artifact.training_time_sec for seconds, _, artifact in trained)
        scoring = median_seconds(timed_runs([lambda: score(trained[0][2], data)], args.repeats)[0])
        ratio = median_seconds(trained) / median_seconds(raw)
        cpu_ratio = median_cpu(trained) / median_cpu(raw)
        print(
            f"{name:10s} {median_seconds(raw):10.3f} {median_seconds(trained):12.3f} {ratio:7.3f} {cpu_ratio:9.3f} "
            f"{median_seconds(trained) / median_seconds(exact):14.3f} {1000 * outside:15.1f} {1000 * scoring:11.1f} "
            f"{median_seconds(extra):9.3f}" + ("" if same else "  (probabilities differ!)")
        )


if __name__ == "__main__":
    main()
