"""The screening report's build time, for sweeps of 200 to 10,000 cells.

A sweep's report (:func:`cvn_sklearn.sweep.report.write_report`) is built once,
after the cells; this times it alone, on synthetic
:class:`~cvn_sklearn.sweep.tables.ScreenResult` s of the shape a real sweep
gives (every column the report reads, a few failed cells, the test windows'
daily bars, ranked by :func:`cvn_sklearn.sweep.tables.screen_result`'s own
ranking code), so the sizes can go where a real sweep would take hours. Each
size is timed ``--repeats`` times (median wall time, and the process's CPU
time, which a busy machine inflates less), with
:func:`cvn_sklearn.sweep.report.report_build_seconds`, the function the sweep
benchmark calls too.

Run from the repository root::

    python benchmarks/report.py [--variants 10,100,500] [--symbols 4] [--folds 5] [--bars 250] [--repeats 3]

(10 variants x 4 symbols x 5 folds = 200 cells; 500 variants = 10,000 cells.)
"""

import argparse
import statistics
import sys
import tempfile
from pathlib import Path
from time import perf_counter, process_time

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from cvn_sklearn.sweep import ScreenConfig  # noqa: E402
from cvn_sklearn.sweep.report import report_build_seconds  # noqa: E402
from cvn_sklearn.sweep.tables import ScreenResult, _by_variant, _ranking  # noqa: E402


def synthetic_result(n_variants: int, n_symbols: int, n_folds: int, bars: int, folder: Path, seed: int = 0):
    """``(result, config)``: a sweep's result of ``n_variants x n_symbols x n_folds`` cells, 1 in 50 variants failing."""
    rng = np.random.default_rng(seed)
    names = [f"variant_{i:05d}" for i in range(n_variants)]
    symbols = [f"sym{i}" for i in range(n_symbols)]
    config = ScreenConfig(variants=[{"name": name, "model": "logreg"} for name in names], symbols=symbols,
                          folds={"n_splits": n_folds}, cost=0.001, mlflow=False, folder=folder)
    broken = set(names[1::50])
    thresholds = np.linspace(0.05, 0.95, 60).tolist()
    records = []
    for name in names:
        for symbol in symbols:
            for fold in range(n_folds):
                failed = name in broken
                count = rng.integers(0, 40, 10)
                record = {"key": f"{name}-{symbol}-{fold}", "variant": name, "model": "logreg", "symbol": symbol,
                          "fold": fold, "cost": 0.001, "status": "failed" if failed else "ok",
                          "error_type": "ValueError" if failed else None,
                          "error": "C must be > 0; got -1.0 (a made-up failure)" if failed else None,
                          "cached": False, "seconds": 0.01, "threshold": 0.55, "no_edge": False, "periods_per_year": 252.0,
                          "n_trades": np.nan if failed else int(rng.integers(0, 30)),
                          "sortino_ann": np.nan if failed else rng.normal(), "win_rate": np.nan if failed else rng.random()}
                if not failed:
                    for split in ("reliability", "reliability_test"):
                        record |= {f"{split}_count": count.tolist(),
                                   f"{split}_positives": (count * rng.random(10)).astype(int).tolist(),
                                   f"{split}_mean_proba": (np.arange(10) / 10 + 0.05).tolist()}
                    record |= {"theta_thresholds": thresholds, "theta_scores": rng.random(60).tolist(),
                               "theta_positive_rates": np.linspace(1, 0, 60).tolist(),
                               "theta_test_scores": rng.random(60).tolist(),
                               "theta_test_positive_rates": np.linspace(1, 0, 60).tolist()}
                records.append(record)
    cells = pd.DataFrame(records)
    times = pd.bdate_range("2015-01-01", periods=n_folds * bars)
    net, gross, hold = {}, {}, {}
    for symbol in symbols:
        values = np.where(rng.random((len(times), n_variants)) < 0.3, rng.normal(0.0003, 0.01, (len(times), n_variants)), 0.0)
        frame = pd.DataFrame(values, index=times, columns=pd.Index(names, name="variant"))
        frame.loc[:, sorted(broken)] = np.nan
        net[symbol], gross[symbol] = frame - 0.0001 * (frame != 0), frame
        hold[symbol] = pd.DataFrame({"buy_and_hold": rng.normal(0.0003, 0.01, len(times))}, index=times)
    frames = {kind: pd.concat(parts, names=["symbol", "time"]) for kind, parts in
              (("net", net), ("gross", gross), ("hold", hold))}
    complete = [name for name in names if name not in broken]
    pooled = {"net": frames["net"].groupby(level="time").mean(), "gross": frames["gross"].groupby(level="time").mean()}
    trades = cells.groupby("variant")["n_trades"].sum()
    wins = (trades * 0.5).round()
    ranking, pbo, pbo_note = _ranking(cells, pooled, complete, trades, wins, 252.0, config)
    result = ScreenResult(cells, _by_variant(cells), ranking, pbo, frames["net"], frames["gross"], pooled["net"],
                          pooled["gross"], 252.0, "bars", folder, pbo_note=pbo_note, buy_and_hold=frames["hold"])
    return result, config


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", default="10,100,500", help="comma-separated numbers of variants")
    parser.add_argument("--symbols", type=int, default=4)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--bars", type=int, default=250, help="test bars per fold")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        for n_variants in (int(n) for n in args.variants.split(",")):
            start = perf_counter()
            result, config = synthetic_result(n_variants, args.symbols, args.folds, args.bars, Path(folder))
            built = perf_counter() - start
            path = Path(folder) / "report.html"
            seconds, cpu = [], []
            for _ in range(args.repeats):
                started = process_time()
                seconds.append(report_build_seconds(result, config, path))
                cpu.append(process_time() - started)
            print(f"report of {len(result.cells):,} cells ({n_variants} variants x {args.symbols} symbols x "
                  f"{args.folds} folds): {statistics.median(seconds):.2f} s (median of {args.repeats}, "
                  f"{statistics.median(cpu):.2f} s of CPU; {path.stat().st_size / 1e6:.2f} MB; the synthetic result "
                  f"took {built:.1f} s)", flush=True)


if __name__ == "__main__":
    main()
