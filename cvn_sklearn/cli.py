"""The ``cvn-sklearn`` command.

``cvn-sklearn models`` lists the registry; ``cvn-sklearn train`` is the main
job: it trains every registered model on real market data and prints a table.
"""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from time import perf_counter

import numpy as np

__all__ = ["format_table", "main"]


def format_table(rows: list[dict], columns: list[str]) -> str:
    """Render ``rows`` as a fixed-width text table with a header rule.

    Examples
    --------
    >>> print(format_table([{"model": "xgboost", "auc": 0.5123}], ["model", "auc"]))
    model    auc
    -------  ------
    xgboost  0.5123
    """

    def cell(value) -> str:
        if isinstance(value, float):
            return f"{value:.4f}" if np.isfinite(value) else "nan"
        return "" if value is None else str(value)

    cells = [[cell(row.get(c)) for c in columns] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    lines = [columns, ["-" * w for w in widths], *cells]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(line, widths)).rstrip() for line in lines)


def _library_version(library: str) -> str:
    try:
        return version(library)
    except PackageNotFoundError:
        return "not installed"


def _models_command(args) -> int:
    from cvn_sklearn.registry import registry

    rows = [
        {"name": name, "kind": e.kind, "library": e.library, "version": _library_version(e.library), "source": e.source}
        for name, e in ((n, registry.entry(n)) for n in registry)
    ]
    print(format_table(rows, ["name", "kind", "library", "version", "source"]))
    if registry.unavailable:
        print("\nUnavailable:")
        rows = [{"name": u.name, "kind": u.kind, "reason": u.reason, "fix": u.hint} for u in registry.unavailable.values()]
        print(format_table(rows, ["name", "kind", "reason", "fix"]))
    return 0


def _train_command(args) -> int:
    from cvn_sklearn.calibration import Calibrate
    from cvn_sklearn.datasets import load_dataset, periods_per_year
    from cvn_sklearn.metrics import evaluate, trading_metrics
    from cvn_sklearn.pipeline import make_pipeline
    from cvn_sklearn.registry import registry
    from cvn_sklearn.threshold import ThetaSweep

    X, y, returns = load_dataset(args.symbol)
    n_test = int(len(X) * args.test_size)
    X_train, X_test, y_train, y_test = X.iloc[:-n_test], X.iloc[-n_test:], y.iloc[:-n_test], y.iloc[-n_test:]
    names = args.models.split(",") if args.models else list(registry.models)
    print(f"{args.symbol}: {len(X_train)} training rows, {len(X_test)} test rows (the last {args.test_size:.0%}, "
          f"in time order), {X.shape[1]} features, {y.mean():.1%} positives", flush=True)
    print("each model: fit -> calibrate (isotonic) -> tune θ (F1, at most the base rate of trades), "
          "on successive time-ordered hold-outs of the training rows", flush=True)
    rows = []
    for i, name in enumerate(names, 1):
        print(f"[{i}/{len(names)}] training {name} ...", flush=True)
        clf = make_pipeline(Calibrate(), ThetaSweep(), registry[name]())
        started = perf_counter()
        clf.fit(X_train, y_train)
        seconds = perf_counter() - started
        final = clf[-1]
        proba = clf.predict_proba(X_test)[:, 1]
        test = evaluate(y_test, proba, final.theta_, pos_label=clf.classes_[1])
        trades = trading_metrics(proba >= final.theta_, returns.iloc[-n_test:], periods_per_year=periods_per_year(args.symbol))
        rows.append({"model": name, "auc": test.auc, "f1_buy": test.f1_buy, "brier": test.brier, "ece": test.ece,
                     "theta": final.theta_, "trades": trades.n_trades, "win_rate": trades.win_rate,
                     "sortino": trades.sortino, "train_sec": seconds})
        if args.plots:
            _save_plots(args.plots, name, final, X_test, y_test, proba)
    print()
    print(format_table(rows, ["model", "auc", "f1_buy", "brier", "ece", "theta", "trades", "win_rate", "sortino",
                              "train_sec"]))
    print(f"\ntest rows: {len(X_test)}, positives: {int(y_test.sum())} ({y_test.mean():.1%}); "
          "metrics at each model's own θ, trading results on the label's forward return")
    if args.plots:
        print(f"plots: {args.plots}/<model>_reliability.png, {args.plots}/<model>_theta.png")
    return 0


def _save_plots(directory: str, name: str, final, X_test, y_test, proba) -> None:
    from cvn_sklearn.plots import reliability_diagram, theta_curve

    Path(directory).mkdir(parents=True, exist_ok=True)
    raw = final.estimators_[0].predict_proba(X_test)[:, 1]
    reliability_diagram(y_test, raw, proba).savefig(Path(directory) / f"{name}_reliability.png", dpi=100)
    theta_curve(final.theta_result_).savefig(Path(directory) / f"{name}_theta.png", dpi=100)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cvn-sklearn", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("models", help="list registered models and ensembles").set_defaults(run=_models_command)
    train = commands.add_parser("train", help="train every registered model on real market data")
    train.add_argument("--symbol", default="sp500", choices=["sp500", "goog", "eurusd"])
    train.add_argument("--models", default=None, help="comma-separated registry names (default: every model)")
    train.add_argument("--test-size", type=float, default=0.3, help="share of the last rows held out for testing")
    train.add_argument("--plots", default=None, metavar="DIR", help="save reliability and θ-curve PNGs here")
    train.set_defaults(run=_train_command)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``cvn-sklearn`` command."""
    args = _parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
