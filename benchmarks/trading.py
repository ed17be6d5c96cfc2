"""Benchmark: the per-bar strategy series of the screening sweep's cells against the sweep's own wall time.

Issue bar: building the per-bar series for 1,000 cells of 5,000 bars costs at
most 5% of the sweep's wall time.

Printed in one run:

* **per-bar series + metrics**: ``cvn_sklearn.trading.trading_metrics`` (which
  builds :func:`~cvn_sklearn.trading.positions`' per-bar series) on each of
  ``--cells`` synthetic cells of ``--bars`` daily bars, for both position
  rules, marked to market (``close``) and realised on the exit bar
  (``close=None``); median of ``--repeats`` after one warm-up. The inputs
  (calendar, random-walk close, CUSUM-like event rows on ``--events`` of the
  bars, exits 1..10 bars later, ~30% buys, cost 0.001) are built once,
  outside the timing;
* **the exact equivalent**: a plain-Python reference written here from the
  rules documented in ``cvn_sklearn/trading.py`` (loops over the trades and
  the bars) on ``--check`` cells, every rule and mode; the per-bar net and
  gross series must agree to 1e-12; its time per cell against the vectorised
  one;
* **the sweep's wall time**: a real ``cvn_sklearn.sweep.screen`` of LightGBM
  (``--trees`` trees) on two synthetic symbols of ``--bars`` bars (the same
  kind of inputs, 4 folds: 8 cells), in a temporary folder, median of
  ``--repeats`` after one warm-up, extrapolated to ``--cells`` cells from its
  cells per second;
* **the share**: the slowest rule/mode's series time over the extrapolated
  sweep time (target <= 5%), and over the extrapolated sum of the cells' own
  ``seconds`` (without the sweep's fixed costs, which a linear extrapolation
  from 8 cells spreads over every cell).

Run from the repository root::

    python benchmarks/trading.py [--cells 1000] [--bars 5000] [--events 0.4] [--trees 100] [--repeats 3] [--check 5]
"""

import os

os.environ["OMP_NUM_THREADS"] = "1"  # before numpy and the boosters start their thread pools (the sweep pins them too)

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402
from time import perf_counter  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from cvn_sklearn.sweep import SymbolData, screen  # noqa: E402
from cvn_sklearn.trading import POSITION_RULES, positions, trading_metrics  # noqa: E402

COST = 0.001
PERIODS_PER_YEAR = 252
MODES = ("marked to market", "realised")


def cell_inputs(seed: int, n_bars: int, events: float) -> dict:
    """One cell's inputs: a daily calendar, a random-walk close, event rows, their exits, trade returns and a signal."""
    rng = np.random.RandomState(seed)
    calendar = pd.bdate_range("2000-01-03", periods=n_bars)
    close = pd.Series(100.0 * np.exp(np.cumsum(rng.normal(0.0002, 0.01, n_bars))), index=calendar)
    rows = np.flatnonzero(rng.random_sample(n_bars) < events)  # a CUSUM-like subset of the bars
    exits = np.minimum(rows + rng.randint(1, 11, len(rows)), n_bars - 1)  # triple-barrier-like: 1..10 bars later
    prices = close.to_numpy()
    return {
        "signal": (rng.random_sample(len(rows)) < 0.3).astype(np.int8),
        "returns": prices[exits] / prices[rows] - 1.0,
        "times": calendar[rows],
        "t1": calendar[exits],
        "close": close,
    }


def vectorised(cells, rule, mode) -> list:
    """``trading_metrics`` of every cell (what the sweep's ``cell_record`` computes per cell)."""
    return [trading_metrics(c["signal"], c["returns"], periods_per_year=PERIODS_PER_YEAR, cost=COST, times=c["times"],
                            t1=c["t1"], close=c["close"] if mode == MODES[0] else None, rule=rule)
            for c in cells]


def reference(cell, rule, mode):
    """The per-bar (gross, net) series written from trading.py's documented rules, in plain Python.

    A buy on row i enters at its bar e and exits at its bar x; it is open on the
    bars e+1..x. one_at_a_time: no entry while a position is open, a signal on
    the exit bar of the open one is taken. equal_weight: every signal is a
    trade, a trade's weight is the mean over its open bars of 1 / (positions
    open). Marked to market: each bar earns its price change times the exposure
    (the open size under one_at_a_time, the mean size of the open positions
    under equal_weight); realised: a trade's size x weight x return on its exit
    bar. The cost x size x weight of a trade is charged on its exit bar. The
    calendar is the close prices' bars, without them the sorted union of the
    rows' bars and exits; the series spans the first row's bar to the last
    row's exit.
    """
    if mode == MODES[0]:
        calendar = list(cell["close"].index)
    else:
        calendar = sorted(set(cell["times"]) | set(cell["t1"]))
    where = {bar: number for number, bar in enumerate(calendar)}
    entries = [where[t] for t in cell["times"]]
    exits = [where[t] for t in cell["t1"]]
    signal, returns = cell["signal"].tolist(), cell["returns"].tolist()
    trades, free_from = [], -1
    for row in range(len(signal)):
        if not signal[row]:
            continue
        if rule == "equal_weight" or entries[row] >= free_from:
            trades.append(row)
            free_from = exits[row]
    n_bars = len(calendar)
    count = [0] * n_bars
    for row in trades:
        for bar in range(entries[row] + 1, exits[row] + 1):
            count[bar] += 1
    weight = {}
    for row in trades:
        e, x = entries[row], exits[row]
        weight[row] = 1.0
        if rule == "equal_weight" and x > e:
            weight[row] = sum(1.0 / count[bar] for bar in range(e + 1, x + 1)) / (x - e)
    gross, charge = [0.0] * n_bars, [0.0] * n_bars
    if mode == MODES[0]:
        prices = cell["close"].tolist()
        exposure = [0.0] * n_bars
        for row in trades:
            for bar in range(entries[row] + 1, exits[row] + 1):
                exposure[bar] += 1.0  # size 1
        for bar in range(1, n_bars):
            held = exposure[bar] if rule == "one_at_a_time" else (exposure[bar] / count[bar] if count[bar] else 0.0)
            gross[bar] = held * (prices[bar] / prices[bar - 1] - 1.0)
    else:
        for row in trades:
            gross[exits[row]] += weight[row] * returns[row]
    for row in trades:
        charge[exits[row]] += COST * weight[row]
    start, stop = entries[0], max(exits) + 1
    gross = np.array(gross[start:stop])
    return gross, gross - np.array(charge[start:stop])


def timed(run, repeats):
    """Median seconds of ``repeats`` runs after one warm-up, and the last result."""
    run()
    seconds, result = [], None
    for _ in range(repeats):
        started = perf_counter()
        result = run()
        seconds.append(perf_counter() - started)
    return statistics.median(seconds), result


def symbol_data(seed: int, n_bars: int, events: float) -> SymbolData:
    """A symbol for the sweep on the same kind of inputs: features with a weak signal on the event rows."""
    cell = cell_inputs(seed, n_bars, events)
    rng = np.random.RandomState(seed + 10_000)
    n = len(cell["times"])
    y = (cell["returns"] > 0).astype(int)
    X = pd.DataFrame(rng.normal(size=(n, 10)), index=cell["times"], columns=[f"f{i}" for i in range(10)])
    X["f0"] += 0.5 * y
    t1 = pd.Series(cell["t1"], index=cell["times"])
    return SymbolData(X, pd.Series(y, index=cell["times"]), pd.Series(cell["returns"], index=cell["times"]), t1,
                      PERIODS_PER_YEAR, None, cell["close"])


def sweep_seconds(n_bars, events, trees, repeats) -> tuple:
    """Median wall time of a fresh LightGBM sweep (2 symbols x 4 folds), its cells' own seconds, cells, failed cells."""
    data = {f"s{i}": symbol_data(100 + i, n_bars, events) for i in range(2)}
    with tempfile.TemporaryDirectory() as scratch:
        runs = iter(range(repeats + 1))

        def run():
            config = {"variants": [{"name": "lightgbm", "model": "lightgbm", "params": {"n_estimators": trees}}],
                      "symbols": list(data), "folds": {"n_splits": 4}, "cost": COST, "mlflow": False,
                      "folder": str(Path(scratch, f"run{next(runs)}"))}  # a fresh folder: every cell computed
            cells = screen(config, data=data).cells
            own.append(cells["seconds"].sum())
            return len(cells), int((cells["status"] != "ok").sum())

        own = []
        seconds, (n_cells, n_failed) = timed(run, repeats)
        return seconds, statistics.median(own[1:]), n_cells, n_failed


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=1000)
    parser.add_argument("--bars", type=int, default=5000)
    parser.add_argument("--events", type=float, default=0.4, help="share of the bars that are event rows")
    parser.add_argument("--trees", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--check", type=int, default=5, help="cells checked against (and timed with) the reference")
    args = parser.parse_args(argv)
    cells = [cell_inputs(seed, args.bars, args.events) for seed in range(args.cells)]
    rows = np.mean([len(c["signal"]) for c in cells])
    print(f"{args.cells} cells x {args.bars} daily bars, {rows:.0f} event rows a cell ({args.events:.0%}), exits 1-10 "
          f"bars later, ~30% buys, cost {COST}; median of {args.repeats} after a warm-up, cpu_count={os.cpu_count()}")
    series = {}
    for rule in POSITION_RULES:
        for mode in MODES:
            series[rule, mode] = timed(lambda rule=rule, mode=mode: vectorised(cells, rule, mode), args.repeats)[0]
            print(f"per-bar series + metrics, {args.cells} cells x {args.bars} bars : {series[rule, mode]:.2f} s "
                  f"({rule}, {mode})")

    checked = cells[:args.check]
    same, reference_seconds = True, []
    for rule in POSITION_RULES:
        for mode in MODES:
            for cell in checked:
                started = perf_counter()
                gross, net = reference(cell, rule, mode)
                reference_seconds.append(perf_counter() - started)
                bars = positions(cell["signal"], cell["returns"], times=cell["times"], t1=cell["t1"],
                                 close=cell["close"] if mode == MODES[0] else None, cost=COST, rule=rule).bars
                same &= len(bars) == len(net) and bool(np.allclose(bars["net"], net, rtol=0, atol=1e-12)
                                                       and np.allclose(bars["gross"], gross, rtol=0, atol=1e-12))
    per_cell = statistics.median(reference_seconds)
    vector_per_cell = statistics.median(series.values()) / args.cells
    print(f"reference loop: {per_cell:.3f} s per cell, vectorised {per_cell / vector_per_cell:.1f}x faster "
          f"(same series: {same}; {len(checked)} cells x 4 rule/modes)")

    sweep, own, n_measured, n_failed = sweep_seconds(args.bars, args.events, args.trees, args.repeats)
    extrapolated = sweep / n_measured * args.cells
    print(f"sweep wall time, extrapolated from {n_measured} measured cells : {extrapolated:.1f} s for {args.cells} "
          f"cells ({sweep:.2f} s for {n_measured}, {n_failed} failed; LightGBM {args.trees} trees, 4 folds)")
    worst = max(series.values())
    print(f"series share of the sweep's wall time : {100 * worst / extrapolated:.2f}% (target <= 5%; the slowest "
          f"rule/mode; {100 * worst / (own / n_measured * args.cells):.2f}% of the cells' own seconds)")
    if not same:
        sys.exit("The vectorised per-bar series differ from the reference.")


if __name__ == "__main__":
    main()
