"""Start-up of the command line: ``cvn-sklearn --help``, ``import cvn_sklearn``, and a cached sweep's imports.

Each measure runs in a fresh Python process (the cost is the imports), the
commands in turns, ``--repeats`` times (5 by default); the median is printed,
wall time and the process's CPU time (user + system) beside it, the CPU time
being the one a busy machine does not inflate:

* ``python -c pass``: the interpreter alone, the floor;
* ``import cvn_sklearn``;
* ``cvn-sklearn --help`` (``python -m cvn_sklearn.cli --help``);
* ``cvn-sklearn screen sweep.yaml`` on a finished 4-cell sweep (logreg, two
  variants, goog, two folds: every cell read back from the store), with and
  without MLflow, each with Hamilton's extension autoloading as cvn_sklearn
  sets it (only numpy's and pandas') and as Hamilton does by default
  (``HAMILTON_AUTOLOAD_EXTENSIONS=1``: every library it has an extension
  for, xgboost, lightgbm, MLflow, Dask, matplotlib, plotly, ...). For each,
  the share of the run spent importing modules (``python -X importtime``:
  the sum of the top-level imports' cumulative times).

Run from the repository root (``--code OTHER_CHECKOUT`` measures another
source tree with the same script, to compare)::

    python benchmarks/startup.py
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from time import perf_counter

ROOT = Path(__file__).resolve().parents[1]

SWEEP = """\
variants:
  - {name: logreg, model: logreg}
  - {name: logreg_weak, model: logreg, params: {C: 0.01}}
symbols: [goog]
folds: {n_splits: 2, gap: 10}
calibration: sigmoid
folder: sweep
mlflow: %s
"""


def run(command: list[str], cwd: Path, env: dict) -> tuple[float, float, str]:
    """``(wall seconds, CPU seconds, stderr)`` of one process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    wall = perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stderr


def import_seconds(importtime: str) -> float:
    """The seconds a process spent importing: the sum of the top-level imports' cumulative times (``-X importtime``)."""
    total = 0
    for line in importtime.splitlines():
        if line.startswith("import time:") and "|" in line:
            _, cumulative, name = line.removeprefix("import time:").split("|")
            if cumulative.strip().isdigit() and not name.startswith("  "):  # top level: one space of indent
                total += int(cumulative)
    return total / 1e6


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--code", type=Path, default=ROOT,
                        help="the source tree to measure (another checkout, to compare; default: this one)")
    args = parser.parse_args(argv)

    python = sys.executable
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(args.code.resolve()), os.environ.get("PYTHONPATH", "")])
           .rstrip(os.pathsep)}
    env.pop("HAMILTON_AUTOLOAD_EXTENSIONS", None)
    env.pop("MLFLOW_TRACKING_URI", None)
    with tempfile.TemporaryDirectory() as folder:
        cwd = Path(folder)
        for mlflow in ("false", "true"):
            (cwd / f"mlflow_{mlflow}").mkdir()
            (cwd / f"mlflow_{mlflow}" / "sweep.yaml").write_text(SWEEP % mlflow)
            run([python, "-m", "cvn_sklearn.cli", "screen", "sweep.yaml"], cwd / f"mlflow_{mlflow}", env)  # fill the store
        autoload = {**env, "HAMILTON_AUTOLOAD_EXTENSIONS": "1"}
        commands = {
            "python -c pass": ([python, "-c", "pass"], cwd, env),
            "import cvn_sklearn": ([python, "-c", "import cvn_sklearn"], cwd, env),
            "cvn-sklearn --help": ([python, "-m", "cvn_sklearn.cli", "--help"], cwd, env),
        }
        for mlflow in ("false", "true"):
            for label, environment in (("as set", env), ("autoload", autoload)):
                commands[f"cached sweep, mlflow {mlflow:<5}, Hamilton {label}"] = (
                    [python, "-X", "importtime", "-m", "cvn_sklearn.cli", "screen", "sweep.yaml"],
                    cwd / f"mlflow_{mlflow}", environment)
        results = {name: [] for name in commands}
        for _ in range(args.repeats):
            for name, (command, where, environment) in commands.items():
                results[name].append(run(command, where, environment))
    width = max(map(len, results))
    print(f"{'':<{width}}  {'wall s':>7}  {'CPU s':>7}  {'imports s':>9}  {'imports %':>9}   "
          f"(median of {args.repeats}, each in a fresh process)")
    for name, runs in results.items():
        wall = statistics.median(r[0] for r in runs)
        cpu = statistics.median(r[1] for r in runs)
        line = f"{name:<{width}}  {wall:>7.3f}  {cpu:>7.3f}"
        if "cached sweep" in name:
            imports = statistics.median(import_seconds(r[2]) for r in runs)
            share = statistics.median(import_seconds(r[2]) / r[0] for r in runs)
            line += f"  {imports:>9.3f}  {share:>8.0%}"
        print(line)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
