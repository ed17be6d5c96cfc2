"""Where a sweep's cells should run: in this process, or on a cold Dask ``LocalCluster`` (``executor: auto``'s rule).

Printed in one run, for three sweeps (tiny logistic-regression cells, the
LightGBM sweep of ``benchmarks/screen.py``, and the same with ``--large`` times
the trees):

* the sweep's wall time in this process (``executor: local``) and with
  ``executor: dask`` starting its own ``LocalCluster`` of ``--workers`` workers
  (cold: a fresh cluster every time, its workers importing the package and
  building the DAG for their first cell), interleaved, median of ``--repeats``;
  both must give the same cells (checked);
* what ``executor: auto`` chooses for that sweep (the rule of
  :func:`cvn_sklearn.sweep.cluster.choose_executor`, its estimate of the
  cells' serial time) and whether it chose the faster side;
* the rule's constants measured again: the cold cluster's cost (cold Dask
  minus the same sweep on a warm cluster of the same size), the cells'
  seconds besides their fit (the tiny cells' median ``seconds``) and the
  seconds per unit of ``fit_cost`` (the LightGBM cells), beside the values
  the package uses.

Run from the repository root::

    python benchmarks/executor.py [--rows 5000] [--features 20] [--trees 300] [--large 4] [--repeats 3] [--workers 2]
"""

import os

os.environ["OMP_NUM_THREADS"] = "1"  # before numpy and the boosters start their thread pools

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from screen import market, same_cells, sweep_config, timed  # noqa: E402  (benchmarks/screen.py)

from cvn_sklearn.sweep import ScreenConfig  # noqa: E402
from cvn_sklearn.sweep.cluster import (  # noqa: E402
    CELL_SECONDS,
    COLD_CLUSTER_SECONDS,
    SECONDS_PER_FIT_COST,
    choose_executor,
    local_cluster,
)
from cvn_sklearn.sweep.plan import estimated_cost, plan_cells  # noqa: E402


def tiny_config(folder) -> dict:
    """16 tiny cells: 2 logistic-regression variants x 2 symbols x 4 folds."""
    variants = [{"name": f"logreg_{c}", "model": "logreg", "params": {"C": c}} for c in (0.1, 1.0)]
    return {"variants": variants, "symbols": ["t1", "t2"], "folds": {"n_splits": 4}, "calibration": "sigmoid",
            "folder": str(folder), "mlflow": False, "cost": 0.001}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--trees", type=int, default=300)
    parser.add_argument("--large", type=int, default=4, help="trees of the large sweep, as a multiple of --trees")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    tiny = {"t1": market(11, 1000, 10), "t2": market(12, 1000, 10)}
    boosted = {"s1": market(1, args.rows, args.features), "s2": market(2, args.rows, args.features)}
    sweeps = {
        "tiny (16 logreg cells)": (tiny_config, tiny),
        f"LightGBM, {args.trees} trees (8 cells)": (lambda f: sweep_config(f, args.trees), boosted),
        f"LightGBM, {args.large * args.trees} trees (8 cells)": (lambda f: sweep_config(f, args.large * args.trees),
                                                                boosted),
    }
    print(f"median of {args.repeats}, {args.workers} workers, cpu_count={os.cpu_count()}")
    with tempfile.TemporaryDirectory() as scratch:
        folder = iter(Path(scratch, str(i)) for i in range(10_000))
        timed(tiny_config(next(folder)), tiny)  # warm-up: this process's imports and first fits
        here, cold, results = {name: [] for name in sweeps}, {name: [] for name in sweeps}, {}
        for _ in range(args.repeats):
            for name, (config, data) in sweeps.items():
                seconds, local = timed(config(next(folder)), data)
                here[name].append(seconds)
                seconds, dask = timed({**config(next(folder)), "executor": "dask", "n_workers": args.workers}, data)
                cold[name].append(seconds)
                results[name] = (local, same_cells(local, dask))
        with local_cluster(args.workers) as cluster:  # the cold cluster's cost: the tiny sweep on a warm one
            warm_config = {"executor": "dask", "scheduler": cluster.scheduler_address}
            timed({**tiny_config(next(folder)), **warm_config}, tiny)  # warm-up
            warm = statistics.median(timed({**tiny_config(next(folder)), **warm_config}, tiny)[0]
                                     for _ in range(args.repeats))
        print(f"{'sweep':34s} {'local s':>8s} {'cold dask s':>12s} {'auto est. s':>12s}  auto   faster  same cells")
        for name, (config, data) in sweeps.items():
            plan_config = ScreenConfig.model_validate({**config(next(folder)), "executor": "auto",
                                                       "n_workers": args.workers})
            chosen, _, estimate = choose_executor(plan_config, plan_cells(plan_config, data))
            local, dask = statistics.median(here[name]), statistics.median(cold[name])
            faster = "local" if local <= dask else "dask"
            print(f"{name:34s} {local:8.2f} {dask:12.2f} {estimate:12.2f}  {chosen:6s} {faster:6s}  "
                  f"{results[name][1]}")
        tiny_name = next(iter(sweeps))
        cold_cost = statistics.median(cold[tiny_name]) - warm
        print(f"cold cluster cost (cold - warm, tiny sweep) : {cold_cost:.2f} s (package: {COLD_CLUSTER_SECONDS} s)")
        cells = results[tiny_name][0].cells
        besides = float(cells["seconds"].median())
        print(f"a cell's seconds besides its fit (logreg)   : {besides:.3f} s (package: {CELL_SECONDS} s)")
        boosted_name = list(sweeps)[1]
        cells = results[boosted_name][0].cells
        plan_config = ScreenConfig.model_validate(sweep_config(next(folder), args.trees))
        costs = {c.key: estimated_cost(c, args.features) for c in plan_cells(plan_config, boosted).cells}
        per_unit = np.median([(row.seconds - besides) / costs[row.key] for row in cells.itertuples()])
        print(f"seconds per fit_cost unit (LightGBM)        : {per_unit:.2e} (package: {SECONDS_PER_FIT_COST:.1e})")


if __name__ == "__main__":
    main()
