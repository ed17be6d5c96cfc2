"""The ``cvn-sklearn`` command.

``cvn-sklearn models`` lists the registry; ``cvn-sklearn train`` is the main
job: it trains every registered model on real market data with
:func:`cvn_sklearn.harness.train_one`, logs each run to MLflow and prints a
table read from the :class:`~cvn_sklearn.contracts.TrainedArtifact` s.
"""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

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


TABLE = ["model", "auc", "f1_buy", "brier", "ece", "theta", "trades", "win_rate", "sortino", "train_sec"]


def _train_command(args) -> int:
    from cvn_sklearn.contracts import Datasets
    from cvn_sklearn.datasets import load_dataset, periods_per_year
    from cvn_sklearn.harness import train_one
    from cvn_sklearn.registry import registry

    X, y, returns = load_dataset(args.symbol)
    names = args.models.split(",") if args.models else list(registry.models)
    for name in names:
        registry[name]  # an unknown name fails now, with the registry's close-match message
    data = Datasets.temporal_split(
        X, y, returns=returns, val_size=args.val_size, test_size=args.test_size,
        periods_per_year=periods_per_year(args.symbol),
    )
    shape = data.shape()
    print(f"{args.symbol}: {shape.n_train} training rows, {shape.n_val} validation rows, {shape.n_test} test rows "
          f"(in time order; the test rows are the last {args.test_size:.0%}), {shape.n_features} features, "
          f"{y.mean():.1%} positives", flush=True)
    print("for each of them, cvn_sklearn.harness.train_one: fit on the training rows -> calibrate (isotonic) and tune θ "
          "(F1, at most the base rate of trades) on the validation rows -> score the test rows", flush=True)
    rows = []
    for i, name in enumerate(names, 1):
        print(f"[{i}/{len(names)}] training {name} ...", flush=True)
        artifact = train_one(name, data)
        rows.append(_table_row(artifact))
        if not args.no_mlflow:
            from cvn_sklearn.persist import log_artifact

            log_artifact(artifact, experiment=args.experiment, tracking_uri=args.tracking_uri)
        if args.plots:
            _save_plots(args.plots, name, artifact, data)
    print()
    print(format_table(rows, TABLE))
    test = data.test
    print(f"\ntest rows: {len(test.y)}, positives: {int(test.y.sum())} ({test.y.mean():.1%}); "
          "metrics at each model's own θ, trading results on the label's forward return")
    if not args.no_mlflow:
        where = args.tracking_uri or "sqlite:///mlflow.db (this folder)"
        print(f"MLflow: one run per model in experiment {args.experiment!r} at {where}")
    if args.plots:
        print(f"plots: {args.plots}/<model>_reliability.png, {args.plots}/<model>_theta.png")
    return 0


def _table_row(artifact) -> dict:
    """The printed row of one model: test metrics and trades, read from its :class:`TrainedArtifact`."""
    test, trades = artifact.metrics_test, artifact.trading_test
    return {"model": artifact.model_name, "auc": test.auc, "f1_buy": test.f1_buy, "brier": test.brier,
            "ece": test.ece, "theta": artifact.threshold, "trades": trades.n_trades, "win_rate": trades.win_rate,
            "sortino": trades.sortino, "train_sec": artifact.training_time_sec}


def _save_plots(directory: str, name: str, artifact, data) -> None:
    from cvn_sklearn.plots import reliability_diagram, theta_curve

    Path(directory).mkdir(parents=True, exist_ok=True)
    fitted, test = artifact.estimator, data.test
    raw = fitted.estimators_[0].predict_proba(test.X)[:, 1]
    calibrated = fitted.predict_proba(test.X)[:, 1]
    reliability_diagram(test.y, raw, calibrated).savefig(Path(directory) / f"{name}_reliability.png", dpi=100)
    theta_curve(fitted.theta_result_).savefig(Path(directory) / f"{name}_theta.png", dpi=100)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cvn-sklearn", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("models", help="list registered models and ensembles").set_defaults(run=_models_command)
    train = commands.add_parser("train", help="train every registered model on real market data")
    train.add_argument("--symbol", default="sp500", choices=["sp500", "goog", "eurusd"])
    train.add_argument("--models", default=None, help="comma-separated registry names (default: every model)")
    train.add_argument("--test-size", type=float, default=0.3, help="share of the last rows held out for testing")
    train.add_argument("--val-size", type=float, default=0.15,
                       help="share of the rows before them that calibrates and tunes θ")
    train.add_argument("--plots", default=None, metavar="DIR", help="save reliability and θ-curve PNGs here")
    train.add_argument("--tracking-uri", default=None,
                       help="MLflow tracking URI (default: sqlite:///mlflow.db in the working directory)")
    train.add_argument("--experiment", default="cvn-sklearn-train", help="MLflow experiment name")
    train.add_argument("--no-mlflow", action="store_true", help="do not log the runs to MLflow")
    train.set_defaults(run=_train_command)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``cvn-sklearn`` command."""
    args = _parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
