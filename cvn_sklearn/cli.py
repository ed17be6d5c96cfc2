"""The ``cvn-sklearn`` command.

``cvn-sklearn models`` lists the registry; ``cvn-sklearn train`` is the main
job: it trains every registered model on real market data and prints a table.
"""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import PackageNotFoundError, version

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
    from sklearn.metrics import brier_score_loss, f1_score, roc_auc_score

    from cvn_sklearn.datasets import load_dataset
    from cvn_sklearn.registry import registry

    X, y, _ = load_dataset(args.symbol)
    n_test = int(len(X) * args.test_size)
    X_train, X_test, y_train, y_test = X.iloc[:-n_test], X.iloc[-n_test:], y.iloc[:-n_test], y.iloc[-n_test:]
    names = args.models.split(",") if args.models else list(registry.models)
    print(f"{args.symbol}: {len(X_train)} training rows, {len(X_test)} test rows (the last {args.test_size:.0%}, "
          f"in time order), {X.shape[1]} features, {y.mean():.1%} positives", flush=True)
    rows = []
    for i, name in enumerate(names, 1):
        print(f"[{i}/{len(names)}] training {name} ...", flush=True)
        model = registry[name]().fit(X_train, y_train)
        proba = model.predict_proba(X_test)[:, 1]
        rows.append({
            "model": name,
            "auc": roc_auc_score(y_test, proba),
            "f1@0.5": f1_score(y_test, proba >= 0.5),
            "brier": brier_score_loss(y_test, proba),
            "train_sec": model.training_time_sec_,
        })
    print()
    print(format_table(rows, ["model", "auc", "f1@0.5", "brier", "train_sec"]))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cvn-sklearn", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("models", help="list registered models and ensembles").set_defaults(run=_models_command)
    train = commands.add_parser("train", help="train every registered model on real market data")
    train.add_argument("--symbol", default="sp500", choices=["sp500", "goog", "eurusd"])
    train.add_argument("--models", default=None, help="comma-separated registry names (default: every model)")
    train.add_argument("--test-size", type=float, default=0.3, help="share of the last rows held out for testing")
    train.set_defaults(run=_train_command)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``cvn-sklearn`` command."""
    args = _parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
