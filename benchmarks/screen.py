"""The screening sweep: Dask speed-up, orchestration overhead, resume cost, driver memory.

Printed in one run:

* **speed-up**: the same sweep of LightGBM cells in this process vs on a warm
  Dask ``LocalCluster`` of ``--workers`` single-threaded worker processes
  (started and warmed up before timing); each side ``--repeats`` times in a
  fresh folder, interleaved, median; both sides must produce the same cells
  (every metric, θ and signal) — checked;
* **the machine's ceiling**: the same cells' fits (each cell's model on its
  fit rows, one thread), plain: in this process vs ``client.map`` on the same
  cluster, predictions checked equal; the sweep's speed-up over this one is
  what the sweep keeps of what the cores give;
* **orchestration overhead**: the serial sweep's wall time against the sum of
  its cells' own times (each cell's ``seconds``: its fit, calibration, θ and
  scoring), i.e. planning, fingerprinting, Hamilton, the cell store and the
  result tables;
* **resume cost**: a re-run of the finished sweep (every cell read back from
  the store, no fit) against the fresh run;
* **cell cost**: the serial sweep's wall time against the same fits plain (in
  this process, one thread), i.e. what a cell costs beyond its model's fit:
  calibration, θ, scoring, the store; also in this process's CPU time, which a
  busy machine disturbs far less;
* **driver memory**: the peak resident memory of a fresh process running a
  sweep of ``--tiny`` tiny cells, and of ten times as many: results stream to
  the cell store, so it should stay flat;
* **many cells**: a fresh process runs a serial sweep of ``--many`` tiny cells
  (logistic regressions on 300 rows: ``--many / 10`` variants x 2 symbols x 5
  folds) and reports its orchestration overhead (wall time against the sum of
  the cells' own seconds), the re-run of the finished sweep, the result
  tables' build time (:func:`~cvn_sklearn.sweep.tables.screen_result` on the
  finished plan), the report's build time
  (:func:`~cvn_sklearn.sweep.report.write_report`), its peak memory when the
  fresh sweep has returned, and its peak over every step; a second process
  does the same with a tenth of the cells, for the memory growth.

* **logging**: the share of the sweep's wall time spent in its MLflow
  logging, for a demo-sized sweep and for ``--logging-cells`` tiny cells, with
  the report's build time beside it: the ``logging ...`` lines of
  ``benchmarks/mlflow_logging.py`` (median of ``--logging-repeats``), run in a
  fresh process so that MLflow's imports stay out of the figures above.

Every fit runs on one thread on both sides (the sweep pins them). MLflow
logging is off in every sweep but those of the logging lines.

Run from the repository root::

    python benchmarks/screen.py [--rows 5000] [--features 20] [--trees 300] [--repeats 5] [--workers 2] [--tiny 100]
                                [--many 10000] [--logging-cells 1000] [--logging-repeats 3]
                                [--logging-demo-rounds 100] [--logging-demo-symbols 4]

The ``--many`` run takes minutes (10,000 cells), the logging lines about two more.
"""

import os

os.environ["OMP_NUM_THREADS"] = "1"  # before numpy and the boosters start their thread pools

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402
from time import perf_counter, process_time  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from cvn_sklearn.harness import screen  # noqa: E402
from cvn_sklearn.sweep import SymbolData  # noqa: E402


def market(seed: int, rows: int, features: int) -> SymbolData:
    """A symbol with a weak signal: features, a 0/1 label, per-row trade returns."""
    rng = np.random.RandomState(seed)
    X = pd.DataFrame(rng.normal(size=(rows, features)), columns=[f"f{i}" for i in range(features)])
    y = (X["f0"] + 0.5 * X["f1"] + rng.normal(scale=2.0, size=rows) > 0.8).astype(int)
    return SymbolData(X, y, np.where(y == 1, 0.01, -0.008) + rng.normal(0, 0.01, rows))


def sweep_config(folder, trees: int, **changes) -> dict:
    variants = [{"name": f"lightgbm_{leaves}", "model": "lightgbm", "params": {"n_estimators": trees, "num_leaves": leaves}}
                for leaves in (15, 31)]
    return {"variants": variants, "symbols": ["s1", "s2"], "folds": {"n_splits": 2}, "calibration": "sigmoid",
            "folder": str(folder), "mlflow": False, "cost": 0.001, **changes}


def timed(config, data, cpu=None):
    """Wall seconds of a sweep and its result; its CPU seconds in this process appended to ``cpu`` if given."""
    started, used = perf_counter(), process_time()
    result = screen(config, data=data)
    if cpu is not None:
        cpu.append(process_time() - used)
    return perf_counter() - started, result


def same_cells(a, b) -> bool:
    columns = [c for c in a.cells.columns if c not in ("seconds", "training_time_sec")]
    pd.testing.assert_frame_equal(a.cells[columns], b.cells[columns])
    pd.testing.assert_frame_equal(a.returns, b.returns)
    return True


def cell_fits(config, data) -> list:
    """The sweep's cells as plain fits: (estimator, X, y) of each cell's model on its fit rows, one thread."""
    from cvn_sklearn.contracts import take_rows
    from cvn_sklearn.registry import registry
    from cvn_sklearn.sweep import ScreenConfig
    from cvn_sklearn.sweep.plan import plan_cells, single_threaded

    plan = plan_cells(ScreenConfig.model_validate(config), data)
    return [(registry[c.variant.model](**single_threaded(c.variant.model, c.variant.params, "")),
             take_rows(data[c.symbol].X, c.fold.fit), take_rows(data[c.symbol].y, c.fold.fit)) for c in plan.todo]


def fit(estimator, X, y):
    """One plain fit; returns the fitted estimator's probabilities on its training rows (to compare both sides)."""
    return estimator.fit(X, y).predict_proba(X)[:, 1]


def plain_fits(fits, client=None, cpu=None):
    """Seconds to run ``fits`` in this process, or with ``client.map`` on the cluster; and their outputs.

    The CPU seconds of this process are appended to ``cpu`` if given (meaningful in this process only).
    """
    started, used = perf_counter(), process_time()
    if client is None:
        outputs = [fit(*job) for job in fits]
    else:
        outputs = client.gather(client.map(fit, *zip(*fits), pure=False))
    if cpu is not None:
        cpu.append(process_time() - used)
    return perf_counter() - started, outputs


def tiny_config(n_cells: int, folder) -> tuple[dict, dict]:
    """Config and data of a sweep of ``n_cells`` tiny cells (n_cells / 10 logistic-regression variants x 2 symbols x 5 folds)."""
    data = {f"t{i}": market(i, 300, 3) for i in range(2)}
    variants = [{"name": f"logreg_{i}", "model": "logreg", "params": {"C": 1.0 + i}} for i in range(max(1, n_cells // 10))]
    config = {"variants": variants, "symbols": list(data), "folds": {"n_splits": 5}, "calibration": "sigmoid",
              "folder": str(folder), "mlflow": False, "cost": 0.001}
    return config, data


def tiny_sweep(n_cells: int) -> int:
    """Run a sweep of ``n_cells`` tiny cells (:func:`tiny_config`) in a scratch folder; the number of cells."""
    with tempfile.TemporaryDirectory() as folder:
        return len(screen(*tiny_config(n_cells, folder)).cells)


def many_cells(n_cells: int) -> dict:
    """A fresh sweep of ``n_cells`` tiny cells, its re-run, its tables and report built alone; seconds and peak MB.

    ``peak_mb`` is the process's peak resident memory when the fresh sweep
    has returned (its tables built and written); ``peak_all_mb`` the peak
    over every step (the re-run holds every stored cell it read, and the
    tables built again).
    """
    from cvn_sklearn.sweep import ScreenConfig
    from cvn_sklearn.sweep.plan import plan_cells
    from cvn_sklearn.sweep.report import write_report
    from cvn_sklearn.sweep.tables import screen_result

    with tempfile.TemporaryDirectory() as folder:
        config, data = tiny_config(n_cells, folder)
        fresh, result = timed(config, data)
        cells, cell_seconds, fresh_peak = len(result.cells), float(result.cells["seconds"].sum()), peak_mb()
        del result  # each step below holds its own
        resumed = timed(config, data)[0]
        checked = ScreenConfig.model_validate(config)
        plan = plan_cells(checked, data)  # every cell read back and verified, as a re-run does
        started = perf_counter()
        result = screen_result(checked, plan)
        tables = perf_counter() - started
        started = perf_counter()
        write_report(result, checked, Path(folder, "report.html"))
        report = perf_counter() - started
        return {"cells": cells, "fresh": fresh, "cell_seconds": cell_seconds, "resumed": resumed, "tables": tables,
                "report": report, "peak_mb": fresh_peak, "peak_all_mb": peak_mb()}


def peak_mb() -> float:
    """This process's peak resident memory in MB since it started (Linux: ``VmHWM``).

    Not ``getrusage``'s ``ru_maxrss``: it survives ``exec``, so a child that
    the benchmark spawns (by ``vfork``) starts with the parent's resident
    memory as its peak, about 400 MB here, which hid every sweep smaller
    than that. ``VmHWM`` is the high-water mark of this program's own memory.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kB on Linux, bytes on macOS
    return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)


def child(flag: str, n_cells: int) -> dict:
    """Run this script with ``flag n_cells`` in a fresh process; the JSON it prints last."""
    done = subprocess.run([sys.executable, __file__, flag, str(n_cells)], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def peak_memory_mb(n_cells: int) -> float:
    """Peak resident memory (MB) of a fresh process running :func:`tiny_sweep` of ``n_cells`` cells."""
    return float(child("--memory-run", n_cells)["peak_mb"])


def logging_lines(cells: int, repeats: int, demo_rounds: int, demo_symbols: int) -> list[str]:
    """The ``logging ...`` lines of ``benchmarks/mlflow_logging.py`` with these sizes, run in a fresh process."""
    script = Path(__file__).with_name("mlflow_logging.py")
    done = subprocess.run([sys.executable, str(script), "--cells", str(cells), "--repeats", str(repeats),
                           "--demo-rounds", str(demo_rounds), "--demo-symbols", str(demo_symbols), "--child-runs", "1"],
                          capture_output=True, text=True, check=True)
    return [line for line in done.stdout.splitlines() if line.startswith("logging, ")]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--trees", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--tiny", type=int, default=100, help="tiny cells of the small memory run (x10 for the big one)")
    parser.add_argument("--many", type=int, default=10_000, help="tiny cells of the large sweep (and a tenth of them)")
    parser.add_argument("--logging-cells", type=int, default=1000, help="tiny cells of the MLflow logging measure")
    parser.add_argument("--logging-repeats", type=int, default=3, help="repeats of each MLflow logging measure")
    parser.add_argument("--logging-demo-rounds", type=int, default=100, help="booster rounds of its demo-sized sweep")
    parser.add_argument("--logging-demo-symbols", type=int, default=4, help="symbols of its demo-sized sweep")
    parser.add_argument("--memory-run", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--many-run", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.many_run is not None:  # the child process of the many-cells measure
        print(json.dumps(many_cells(args.many_run)))
        return
    if args.memory_run is not None:  # the child process of peak_memory_mb
        n_cells = tiny_sweep(args.memory_run)
        print(json.dumps({"cells": n_cells, "peak_mb": peak_mb()}))
        return
    from dask.distributed import Client

    from cvn_sklearn.sweep.cluster import local_cluster

    data = {"s1": market(1, args.rows, args.features), "s2": market(2, args.rows, args.features)}
    print(f"{len(data)} symbols x {args.rows} rows x {args.features} features, 2 LightGBM variants x 2 folds = 8 cells, "
          f"{args.trees} trees, median of {args.repeats}, cpu_count={os.cpu_count()}")
    with (
        local_cluster(args.workers) as cluster,  # what executor="dask" starts, kept warm across the repeats
        Client(cluster) as client,
        tempfile.TemporaryDirectory() as scratch,
    ):
        dask = {"executor": "dask", "scheduler": cluster.scheduler_address}
        timed(sweep_config(Path(scratch, "warm_serial"), args.trees), data)  # warm-up: imports, first fits
        timed(sweep_config(Path(scratch, "warm_dask"), args.trees, **dask), data)
        fits = cell_fits(sweep_config(Path(scratch, "plan"), args.trees), data)
        plain_fits(fits, client)  # warm-up
        serial, distributed, resumed, cell_seconds, plain_serial, plain_dask = [], [], [], [], [], []
        serial_cpu, plain_cpu = [], []
        for repeat in range(args.repeats):
            seconds, here = plain_fits(fits, cpu=plain_cpu)
            plain_serial.append(seconds)
            seconds, there = plain_fits(fits, client)
            plain_dask.append(seconds)
            fits_agree = all(np.array_equal(a, b) for a, b in zip(here, there))
            seconds, result = timed(sweep_config(Path(scratch, f"serial{repeat}"), args.trees), data, serial_cpu)
            serial.append(seconds)
            cell_seconds.append(result.cells["seconds"].sum())
            resumed.append(timed(sweep_config(Path(scratch, f"serial{repeat}"), args.trees), data)[0])
            seconds, on_dask = timed(sweep_config(Path(scratch, f"dask{repeat}"), args.trees, **dask), data)
            distributed.append(seconds)
            agree = same_cells(result, on_dask)
    fresh = statistics.median(serial)
    print("each repeat, serial / Dask (s)    : " + ", ".join(f"{s:.2f} / {d:.2f}" for s, d in zip(serial, distributed)))
    print(f"serial sweep                      : {fresh:.3f} s")
    print(f"{f'Dask local_cluster, {args.workers} workers':34s}: {statistics.median(distributed):.3f} s")
    print(f"speed-up                          : {fresh / statistics.median(distributed):.2f}x (same cells: {agree})")
    plain = statistics.median(plain_serial) / statistics.median(plain_dask)
    print(f"{f'the same {len(fits)} fits, plain Dask':34s}: {statistics.median(plain_serial):.3f} s serial, "
          f"{statistics.median(plain_dask):.3f} s by client.map: {plain:.2f}x (same predictions: {fits_agree})")
    print(f"sweep's speed-up / plain Dask's   : {fresh / statistics.median(distributed) / plain:.2f}")
    cost_cpu = statistics.median(serial_cpu) / statistics.median(plain_cpu)
    print(f"cell cost                         : {fresh / statistics.median(plain_serial):.2f}x the same fits plain "
          f"(serial; in CPU time {cost_cpu:.2f}x)")
    overhead = (fresh - statistics.median(cell_seconds)) / statistics.median(cell_seconds)
    print(f"sum of the cells' own seconds     : {statistics.median(cell_seconds):.3f} s")
    print(f"orchestration overhead            : {100 * overhead:.1f}% of the cells' own time")
    print(f"re-run of the finished sweep      : {statistics.median(resumed):.3f} s "
          f"({100 * statistics.median(resumed) / fresh:.1f}% of the fresh run)")
    small, big = peak_memory_mb(args.tiny), peak_memory_mb(10 * args.tiny)
    print(f"driver peak memory, {args.tiny} tiny cells  : {small:.0f} MB")
    print(f"driver peak memory, {10 * args.tiny} tiny cells : {big:.0f} MB (growth {big - small:.0f} MB)")
    print(f"load average (1, 5, 15 min)       : {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    tenth, many = child("--many-run", max(10, args.many // 10)), child("--many-run", args.many)
    overhead = (many["fresh"] - many["cell_seconds"]) / many["cell_seconds"]
    print(f"{many['cells']:,} cells: overhead {100 * overhead:.1f}% of the cells' own time "
          f"(sweep {many['fresh']:.1f} s, cells {many['cell_seconds']:.1f} s)")
    print(f"  re-run of the finished sweep     : {many['resumed']:.2f} s ({100 * many['resumed'] / many['fresh']:.1f}% "
          "of the fresh run)")
    print(f"  result tables built              : {many['tables']:.2f} s")
    print(f"  report built (write_report)      : {many['report']:.2f} s")
    print(f"  driver peak memory               : {many['peak_mb']:.0f} MB ({tenth['cells']:,} cells: "
          f"{tenth['peak_mb']:.0f} MB, growth {many['peak_mb'] - tenth['peak_mb']:.0f} MB)")
    print(f"  peak memory, re-run and rebuild  : {many['peak_all_mb']:.0f} MB ({tenth['cells']:,} cells: "
          f"{tenth['peak_all_mb']:.0f} MB)")
    print(f"load average (1, 5, 15 min)       : {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    for line in logging_lines(args.logging_cells, args.logging_repeats, args.logging_demo_rounds,
                              args.logging_demo_symbols):
        print(line)
    print(f"load average (1, 5, 15 min)       : {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
