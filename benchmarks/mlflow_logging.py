"""The sweep's MLflow logging: its share of the sweep's wall time, with the report's build time beside it.

Printed in one run, each sweep ``--repeats`` times in a fresh folder and a
fresh SQLite store (median):

* **a demo-sized sweep**: ``cvn-sklearn demo``'s config (7 variants x 4
  symbols x 3 folds = 84 cells, boosters with ``--demo-rounds`` rounds);
* **tiny cells**: ``--cells`` cells of logistic regressions on 300 rows
  (``--cells / 10`` variants x 2 symbols x 5 folds).

For each, ``logging ... %`` is the time the driver spends in the sweep's
MLflow code (:class:`cvn_sklearn.sweep.tracking.SweepRuns`: the parent run,
every child run, the parent's metrics and tables, the champion's refit and
model) over the sweep's wall time (``screen()``, report included), after
a warm-up sweep that pays the imports once (printed too). The
logging runs in the driver's thread between the cells, so this is the wall
time it adds. The report's build time (``write_report``) is printed beside it.
Each sweep logs to a fresh SQLite store whose tables were created before the
timing (MLflow creates them once per store, a few seconds).
Then the cost of one child run written through ``MlflowClient``
(``create_run`` + ``log_batch`` + ``set_terminated``) against the SQL fast
path (one transaction per batch, :func:`cvn_sklearn.sweep.tracking.insert_runs`).

Run from the repository root::

    python benchmarks/mlflow_logging.py [--cells 1000] [--demo-rounds 100] [--demo-symbols 4] [--repeats 3]
"""

import os

os.environ["OMP_NUM_THREADS"] = "1"  # before numpy and the boosters start their thread pools

import argparse  # noqa: E402
import functools  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402
from time import perf_counter  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mlflow.tracking import MlflowClient  # noqa: E402

from cvn_sklearn.harness import screen  # noqa: E402
from cvn_sklearn.sweep import report, tracking  # noqa: E402
from cvn_sklearn.sweep.config import demo_config  # noqa: E402

from screen import market  # noqa: E402  (benchmarks/screen.py: a symbol with a weak signal)

SPENT = {"child": 0.0, "parent": 0.0, "report": 0.0}


def timed(owner, name, bucket):
    """Wrap ``owner.name`` so that its time adds up in ``SPENT[bucket]``."""
    inner = getattr(owner, name)

    @functools.wraps(inner)
    def wrapper(*args, **kwargs):
        started = perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            SPENT[bucket] += perf_counter() - started

    setattr(owner, name, wrapper)


timed(tracking.SweepRuns, "__init__", "parent")  # the parent run, and the child runs of cached cells (none here)
timed(tracking.SweepRuns, "cell", "child")  # each cell's child run, queued and written in batches
timed(tracking.SweepRuns, "finish", "parent")  # the last batch, the parent's metrics, tables, champion model
timed(report, "write_report", "report")


def measure(config, data, folder):
    """One sweep in ``folder``: (cells, wall s, child-run s, parent s, report s)."""
    for key in SPENT:
        SPENT[key] = 0.0
    folder.mkdir()
    config = {**config, "folder": str(folder / "sweep"), "mlflow": True, "tracking_uri": f"sqlite:///{folder}/mlflow.db"}
    MlflowClient(config["tracking_uri"]).search_experiments()  # the store's tables, created once per store: not timed
    started = perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = screen(config, data=data, report=folder / "report.html")
    wall = perf_counter() - started
    print(f"  {folder.name}: {len(result.cells)} cells, {wall:.1f} s, child runs {SPENT['child']:.2f} s, parent and "
          f"champion {SPENT['parent']:.2f} s, report {SPENT['report']:.2f} s", flush=True)
    return len(result.cells), wall, SPENT["child"], SPENT["parent"], SPENT["report"]


def demo_sized(rounds: int, n_symbols: int) -> dict:
    config = demo_config()
    for variant in config["variants"]:
        params = variant.get("params", {})
        for name in ("n_estimators", "iterations"):
            if name in params:
                params[name] = rounds
        for _, base in params.get("base_models", []):
            for name in ("n_estimators", "iterations"):
                if name in base:
                    base[name] = rounds
    config["symbols"] = config["symbols"][:n_symbols]
    return config


def tiny(n_cells: int):
    data = {f"t{i}": market(i, 300, 3) for i in range(2)}
    variants = [{"name": f"logreg_{i}", "model": "logreg", "params": {"C": 1.0 + i}} for i in range(max(1, n_cells // 10))]
    return {"variants": variants, "symbols": list(data), "folds": {"n_splits": 5}, "calibration": "sigmoid",
            "cost": 0.001}, data


def report_line(label, runs) -> None:
    cells = runs[0][0]
    wall, child, parent, built = (statistics.median(r[i] for r in runs) for i in range(1, 5))
    share = 100 * (child + parent) / wall
    print(f"logging, {label} ({cells} cells): {share:.1f}% of the sweep's {wall:.1f} s (child runs {child:.2f} s, "
          f"parent and champion {parent:.2f} s); report built in {built:.2f} s ({100 * built / wall:.1f}%)",
          flush=True)


def child_run_costs(n_runs: int, folder: Path) -> tuple[float, float]:
    """Milliseconds per child run (40 metrics, 3 params, 15 tags): through MlflowClient, and inserted in bulk."""
    client = MlflowClient(f"sqlite:///{folder}/costs.db")
    experiment = client.create_experiment("costs")
    parent = client.create_run(experiment).info.run_id
    location = client.get_experiment(experiment).artifact_location

    def run(i):
        tags = {"mlflow.runName": f"v{i}|s|0", "mlflow.parentRunId": parent, **{f"tag{j}": "x" for j in range(13)}}
        return {"tags": tags, "params": {"model": "logreg", "C": 1.0, "max_iter": 100},
                "metrics": {f"m{j}": 0.5 for j in range(40)}, "start": 1_700_000_000_000, "end": 1_700_000_001_000,
                "status": "FINISHED"}

    started = perf_counter()
    for i in range(n_runs):
        tracking.write_run(client, experiment, run(i))
    one_by_one = (perf_counter() - started) / n_runs
    started = perf_counter()
    tracking.insert_runs(client._tracking_client.store, experiment, location, [run(i) for i in range(n_runs)])
    bulk = (perf_counter() - started) / n_runs
    return 1000 * one_by_one, 1000 * bulk


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=1000, help="cells of the tiny sweep")
    parser.add_argument("--demo-rounds", type=int, default=100, help="booster rounds of the demo-sized sweep")
    parser.add_argument("--demo-symbols", type=int, default=4, help="symbols of the demo-sized sweep (4: the demo)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child-runs", type=int, default=200, help="child runs written each way for their cost")
    args = parser.parse_args(argv)
    print(f"median of {args.repeats}, cpu_count={os.cpu_count()}, every fit on one thread", flush=True)
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        os.chdir(scratch)  # MLflow's default artifact root is ./mlruns
        config, data = tiny(20)
        _, wall, child, parent, _ = measure(config, data, scratch / "warm-up")
        print(f"warm-up sweep (imports of MLflow's model flavour, skops, the report; once per process): logging "
              f"{child + parent:.2f} s of {wall:.1f} s", flush=True)
        demo = demo_sized(args.demo_rounds, args.demo_symbols)
        report_line("demo-sized sweep", [measure(demo, None, scratch / f"demo{i}") for i in range(args.repeats)])
        config, data = tiny(args.cells)
        report_line("tiny cells", [measure(config, data, scratch / f"tiny{i}") for i in range(args.repeats)])
        client, bulk = child_run_costs(args.child_runs, scratch)
        print(f"one child run: {client:.1f} ms through MlflowClient (create_run, log_batch, set_terminated), "
              f"{bulk:.1f} ms inserted in bulk: {client / bulk:.1f}x", flush=True)


if __name__ == "__main__":
    main()
