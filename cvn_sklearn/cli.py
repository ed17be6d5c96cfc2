"""Screen trading-signal classifiers across symbols with walk-forward folds, ranked by out-of-sample trading results.

The ``cvn-sklearn`` command. ``cvn-sklearn screen sweep.yaml`` is the main
job: every variant (a registry model or ensemble with its parameters) on every
symbol's every walk-forward fold, ranked by net trading results with the
deflated Sharpe ratio and the probability of backtest overfitting
(:func:`cvn_sklearn.sweep.run.screen`); ``cvn-sklearn init`` writes a
commented ``sweep.yaml`` to start from, ``cvn-sklearn demo`` runs an embedded
sweep on real prices. ``cvn-sklearn train`` trains every registered model on
one symbol's temporal split with :func:`cvn_sklearn.harness.train_one`, and
``cvn-sklearn models`` lists the registry.

Importing this module imports neither the boosting libraries nor MLflow,
Dask, matplotlib, Hamilton or pandas: ``cvn-sklearn --help`` stays fast;
each command imports what it runs.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import textwrap
from pathlib import Path

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
            return f"{value:.4f}" if math.isfinite(value) else "nan"
        return "" if value is None else str(value)

    cells = [[cell(row.get(c)) for c in columns] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    lines = [columns, ["-" * w for w in widths], *cells]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(line, widths)).rstrip() for line in lines)


def _models_command(args) -> int:
    from cvn_sklearn._disk import library_version
    from cvn_sklearn.registry import registry

    rows = [
        {"name": name, "kind": e.kind, "library": e.library, "version": library_version(e.library) or "not installed", "source": e.source}
        for name, e in ((n, registry.entry(n)) for n in registry)
    ]
    print(format_table(rows, ["name", "kind", "library", "version", "source"]))
    if registry.unavailable:
        print("\nUnavailable:")
        rows = [{"name": u.name, "kind": u.kind, "reason": u.reason, "fix": u.hint} for u in registry.unavailable.values()]
        print(format_table(rows, ["name", "kind", "reason", "fix"]))
    return 0


TABLE = ["model", "auc", "f1_buy", "brier", "ece", "theta", "trades", "win_rate", "sortino_ann", "train_sec"]


def _train_command(args) -> int:
    from cvn_sklearn.contracts import Datasets
    from cvn_sklearn.datasets import load_dataset, periods_per_year, trading_cost
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
    rows, cost = [], trading_cost(args.symbol)
    for i, name in enumerate(names, 1):
        print(f"[{i}/{len(names)}] training {name} ...", flush=True)
        artifact = train_one(name, data, constraints={"cost": cost})
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
          "metrics at each model's own θ; trading results on the label's forward return, net of "
          f"{cost * 1e4:g} bps a trade, Sortino annualised ({data.periods_per_year:g} bars a year); "
          "θ = no trade when a model shows no edge on the validation rows")
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
            "sortino_ann": trades.sortino, "train_sec": artifact.training_time_sec}


def _save_plots(directory: str, name: str, artifact, data) -> None:
    from cvn_sklearn.plots import reliability_diagram, theta_curve

    Path(directory).mkdir(parents=True, exist_ok=True)
    fitted, test = artifact.estimator, data.test
    raw = fitted.estimators_[0].predict_proba(test.X)[:, 1]
    calibrated = fitted.predict_proba(test.X)[:, 1]
    reliability_diagram(test.y, raw, calibrated).savefig(Path(directory) / f"{name}_reliability.png", dpi=100)
    theta_curve(fitted.theta_result_).savefig(Path(directory) / f"{name}_theta.png", dpi=100)


def _share(text: str) -> float:
    """argparse type: a share strictly between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number; pass a share such as 0.3") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not strictly between 0 and 1; pass a share such as 0.3")
    return value


def _model_names(text: str) -> str:
    """argparse type: comma-separated registry names, each known (returned comma-separated, spaces removed)."""
    from cvn_sklearn.registry import registry

    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError("no model name given; pass registry names such as xgboost,lightgbm")
    for name in names:
        if name not in registry:
            try:
                registry.entry(name)
            except KeyError as exc:
                raise argparse.ArgumentTypeError(f"{exc.args[0]} (see: cvn-sklearn models)") from None
    return ",".join(names)


def dsr_notes(ranking) -> list[str]:
    """Each distinct ``dsr_note`` of the ranking once, with the variants it applies to (why a DSR is n/a, or its basis).

    Examples
    --------
    >>> import pandas as pd
    >>> ranking = pd.DataFrame({"dsr_note": ["variance unknown", None, "variance unknown"]}, index=["a", "b", "c"])
    >>> dsr_notes(ranking)
    ['DSR of a, c: variance unknown']
    """
    if "dsr_note" not in ranking:
        return []
    notes = ranking["dsr_note"].dropna()
    return [f"DSR of {', '.join(map(str, notes.index[notes == note]))}: {note}" for note in dict.fromkeys(notes)]


def _directory(text: str) -> str:
    """argparse type: a folder path that is not an existing file."""
    if Path(text).exists() and not Path(text).is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a file, not a folder; pass a folder for the plots")
    return text


# -- screen and demo -------------------------------------------------------------------------------
RANKING = {"variant": "variant", "trades": "trades", "win_rate": "win_rate", "sharpe_ann": "sharpe_ann",
           "sharpe_ann_gross": "gross", "sortino_ann": "sortino_ann", "dsr": "dsr", "no_edge_cells": "no_edge",
           "failed_cells": "failed"}
"""The ranking's columns the CLI prints, and their short headers (ranking.csv and --json hold every column)."""


def _screen_command(args) -> int:
    import yaml

    try:
        content = yaml.safe_load(Path(args.config).read_text())
    except yaml.YAMLError as exc:
        print(f"cvn-sklearn screen: error: {args.config} is not valid YAML: {_one_line(exc)}", file=sys.stderr)
        return 2
    if not isinstance(content, dict):
        print(f"cvn-sklearn screen: config error: config: {args.config} holds {type(content).__name__}, not a mapping "
              "of keys (variants, symbols, ...); see docs/screening.md", file=sys.stderr)
        return 2
    return _run_sweep(args, content)


def _demo_command(args) -> int:
    from cvn_sklearn.sweep.config import demo_config

    return _run_sweep(args, demo_config(args.folder))


def _run_sweep(args, content: dict) -> int:
    """Check the sweep (exit 2 listing every config error), run it, print its table; exit 1 if a cell failed."""
    import numpy as np

    from cvn_sklearn.sweep import Progress, screen
    from cvn_sklearn.sweep.config import ConfigError, with_overrides
    from cvn_sklearn.sweep.report import failure_rows
    from cvn_sklearn.sweep.run import check_inputs

    executor = "dask" if args.executor is None and args.scheduler is not None else args.executor
    content = with_overrides(content, executor=executor, scheduler=args.scheduler,
                             retry_failed=True if args.retry_failed else None, tracking_uri=args.tracking_uri,
                             mlflow=False if args.no_mlflow else None, registered_model=args.register)
    try:
        config, data, report, _ = check_inputs(content, report=args.report)  # screen() checks again: cheap, and alone it is the library call
    except ConfigError as exc:
        for problem in exc.problems:
            key = "--report" if problem.key == "report" else problem.key
            print(f"cvn-sklearn {args.command}: config error: {key}: {problem.message}", file=sys.stderr)
        return 2
    result = screen(config, data, report=report,
                    progress=Progress(quiet=args.quiet or args.json, verbose=args.verbose, capture=True))
    failures = _failures(result.cells)
    if args.json:
        print(json.dumps({"ranking": json.loads(result.ranking.reset_index().to_json(orient="records")),
                          "pbo": None if not np.isfinite(result.pbo) else result.pbo, "pbo_note": result.pbo_note,
                          "failures": json.loads(failure_rows(result.cells).to_json(orient="records")),
                          "periods_per_year": result.periods_per_year, "calendar": result.calendar,
                          "costs": result.cells.groupby("symbol")["cost"].first().to_dict(),
                          "folder": str(result.folder), "parent_run_id": result.parent_run_id}, indent=2))
    else:
        from cvn_sklearn.sweep.report import units

        print()
        print(textwrap.fill(units(result) + " gross: sharpe_ann before costs; no_edge: cells whose model showed no "
                            "edge (no trade); psr, max_drawdown, T and more in ranking.csv.", width=100))
        rows = [{RANKING[k]: v for k, v in row.items() if k in RANKING}
                for row in result.ranking.reset_index().to_dict("records")]
        print(format_table(rows, list(RANKING.values())))
        for line in dsr_notes(result.ranking):
            print(line)
        failed = int((result.cells["status"] != "ok").sum())
        if failed:
            print("\nFailed cells (not ranked; fix the cause, then run again with --retry-failed):")
            print(_failed_cells_table(result.cells))
        pbo = f"{result.pbo:.3f}" if np.isfinite(result.pbo) else f"n/a ({(result.pbo_note or 'not computed').removeprefix('PBO not computed: ')})"
        print()
        print(textwrap.fill(f"PBO (probability of backtest overfitting): {pbo}", width=100, subsequent_indent="  "))
        print(f"cells: {len(result.cells)}, failed: {failed}, from the store: {int(result.cells['cached'].sum())}")
        for line in _where(config, result, report):
            print(line, flush=True)
    for line in failures:
        print(f"cvn-sklearn {args.command}: failed: {line}", file=sys.stderr)
    return 1 if failures else 0


FAILED_CELLS_SHOWN = 20
"""At most this many failed cells are listed under the table (the rest are in cells.csv and the report)."""


def _failed_cells_table(cells) -> str:
    """The failed cells as a text table: variant, symbol, fold, error type and scrubbed message (at most 20 rows).

    Examples
    --------
    >>> import pandas as pd
    >>> cells = pd.DataFrame({"variant": ["a", "b"], "symbol": ["goog", "goog"], "fold": [1, 0],
    ...                       "status": ["failed", "ok"], "error_type": ["ValueError", None], "error": ["bad C", None]})
    >>> print(_failed_cells_table(cells))
    variant  symbol  fold  error
    -------  ------  ----  -----------------
    a        goog    1     ValueError: bad C
    """
    from cvn_sklearn.sweep.report import failure_rows

    rows = failure_rows(cells).to_dict("records")
    table = format_table(rows[:FAILED_CELLS_SHOWN], ["variant", "symbol", "fold", "error"])
    more = len(rows) - FAILED_CELLS_SHOWN
    return table + (f"\n... and {more} more failed cells (cells.csv, the report)" if more > 0 else "")


def _where(config, result, report) -> list[str]:
    """The last lines of a sweep: where its folder, tables, returns, report and MLflow runs went, and how to open them."""
    from cvn_sklearn.sweep.tracking import where_lines

    folder = result.folder
    lines = [f"folder: {folder}/ (cell store: cells/, OOS store: oos/)",
             f"tables: {folder}/ranking.csv, by_variant.csv, cells.csv (and .parquet); returns: {folder}/returns.parquet, "
             "returns_gross.parquet, pooled.parquet, pooled_gross.parquet, buy_and_hold.parquet; summary: result.json"]
    if report:
        lines.append(f"report: {report}")
    return lines + where_lines(config, result)


def _failures(cells) -> list[str]:
    """One line per variant with a failed cell: how many of its cells failed, and the first one's error.

    Examples
    --------
    >>> import pandas as pd
    >>> cells = pd.DataFrame({"variant": ["a", "a", "b"], "symbol": "goog", "fold": [0, 1, 0],
    ...                       "status": ["failed", "failed", "ok"], "error_type": ["ValueError", "ValueError", None],
    ...                       "error": ["bad\\n  C", "bad C", None]})
    >>> _failures(cells)
    ['a: 2 of 2 cells failed; first: ValueError: bad C']
    """
    from cvn_sklearn.sweep.report import failure_rows

    failed, total = failure_rows(cells), cells.groupby("variant", sort=False).size()
    return [f"{variant}: {len(group)} of {total[variant]} cells failed; first: {group['error'].iloc[0]}"
            for variant, group in failed.groupby("variant", sort=False)]


def _sweep_arguments(command) -> None:
    command.add_argument("--json", action="store_true", help="print the ranking as JSON (no progress, no table)")
    talk = command.add_mutually_exclusive_group()
    talk.add_argument("-q", "--quiet", action="store_true", help="no progress bar: only the results and errors")
    talk.add_argument("-v", "--verbose", action="store_true",
                      help="print the sweep's events and the libraries' warnings and logs to stderr")
    command.add_argument("--executor", choices=["local", "dask", "auto"], default=None, help="where the cells run")
    command.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT", help="a running Dask scheduler")
    command.add_argument("--report", default=None, metavar="HTML", help="write the self-contained HTML report here")
    command.add_argument("--retry-failed", action="store_true", help="run the cells that failed before again")
    command.add_argument("--tracking-uri", default=None, metavar="URI",
                         help="MLflow store (default: the config's, else MLFLOW_TRACKING_URI, else sqlite:///mlflow.db here)")
    command.add_argument("--no-mlflow", action="store_true", help="log nothing to MLflow (no mlflow.db is written)")
    command.add_argument("--register", default=None, metavar="NAME",
                         help="register the champion's model (best DSR) in the MLflow model registry as NAME")


def _config_file(text: str) -> str:
    """argparse type: an existing file."""
    if not Path(text).is_file():
        raise argparse.ArgumentTypeError(f"{text} does not exist; pass the path of a YAML sweep config")
    return text


def _init_command(args) -> int:
    from cvn_sklearn.sweep.template import write_template

    path = write_template(args.path, force=args.force)
    print(f"wrote {path}: every key of a sweep with its default and what it does, two variants on sp500 to "
          f"start from\nnext: cvn-sklearn screen {path}")
    return 0


def _version() -> str:
    """The installed distribution's version; the package's own ``__version__`` in a source tree not installed."""
    import cvn_sklearn
    from cvn_sklearn._disk import library_version

    return library_version("cvn_sklearn") or cvn_sklearn.__version__


class _Version(argparse.Action):
    """``--version``: print the version and exit 0 (the version is read only when asked for)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"cvn-sklearn {_version()}")
        parser.exit()


def _parser() -> argparse.ArgumentParser:
    from cvn_sklearn._symbols import SYMBOLS

    parser = argparse.ArgumentParser(
        prog="cvn-sklearn", description=__doc__.splitlines()[0],
        epilog="Start with: cvn-sklearn init && cvn-sklearn screen sweep.yaml (or cvn-sklearn demo). "
               "cvn-sklearn COMMAND --help for a command's options; docs/screening.md for the sweep.")
    parser.add_argument("--version", action=_Version, help="print the version and exit")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    init = commands.add_parser("init", help="write a commented sweep.yaml: every key with its default")
    init.add_argument("path", nargs="?", default="sweep.yaml", metavar="PATH",
                      help="the file to write, or a folder for its sweep.yaml (default: sweep.yaml)")
    init.add_argument("--force", action="store_true", help="overwrite the file if it exists")
    init.set_defaults(run=_init_command)
    commands.add_parser("models", help="list registered models and ensembles").set_defaults(run=_models_command)
    train = commands.add_parser("train", help="train every registered model on real market data")
    train.add_argument("--symbol", default="sp500", choices=SYMBOLS, help="shipped prices (see docs/data_and_labels.md)")
    train.add_argument("--models", type=_model_names, default=None,
                       help="comma-separated registry names (default: every model)")
    train.add_argument("--test-size", type=_share, default=0.3,
                       help="share of the last rows held out for testing, strictly between 0 and 1")
    train.add_argument("--val-size", type=_share, default=0.15,
                       help="share of the rows before them that calibrates and tunes θ, strictly between 0 and 1")
    train.add_argument("--plots", type=_directory, default=None, metavar="DIR",
                       help="save reliability and θ-curve PNGs here")
    train.add_argument("--tracking-uri", default=None,
                       help="MLflow tracking URI (default: sqlite:///mlflow.db in the working directory)")
    train.add_argument("--experiment", default="cvn-sklearn-train", help="MLflow experiment name")
    train.add_argument("--no-mlflow", action="store_true", help="do not log the runs to MLflow")
    train.set_defaults(run=_train_command)
    sweep = commands.add_parser("screen", help="run a screening sweep from a YAML config")
    sweep.add_argument("config", type=_config_file, help="the sweep's YAML config (see docs/screening.md)")
    _sweep_arguments(sweep)
    sweep.set_defaults(run=_screen_command)
    demo = commands.add_parser("demo", help="screen 4 models and 3 ensembles on 4 symbols of real prices")
    demo.add_argument("--folder", default="demo", help="the sweep's folder (cell store, tables)")
    _sweep_arguments(demo)
    demo.set_defaults(run=_demo_command, report="report.html")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``cvn-sklearn`` command.

    Invalid arguments exit with status 2 and argparse's usage line; so does a
    sweep's config with errors (``screen``, ``demo``), every one found before
    any cell runs and printed on its own line, ``cvn-sklearn <command>:
    config error: <key>: <what is wrong>``. A user mistake found while
    running (an unknown name, a file that does not exist, a value a model
    refuses) prints one line, ``cvn-sklearn <command>: error: <what is wrong
    and what to do>``, and exits with status 1; so does a sweep that ran with
    failed cells (one line per failing variant after the table,
    ``cvn-sklearn <command>: failed: <variant>: ...``). Otherwise the status is 0.

    Examples
    --------
    >>> import contextlib, io
    >>> stderr = io.StringIO()
    >>> with contextlib.redirect_stderr(stderr):
    ...     try:
    ...         main(["train", "--test-size", "1.5"])
    ...     except SystemExit as exit:
    ...         print("exit status", exit.code)
    exit status 2
    >>> print(stderr.getvalue().splitlines()[-1])
    cvn-sklearn train: error: argument --test-size: 1.5 is not strictly between 0 and 1; pass a share such as 0.3
    """
    args = _parser().parse_args(argv)
    try:
        return args.run(args)
    except _USER_ERRORS as exc:
        print(f"cvn-sklearn {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 1


_USER_ERRORS = (KeyError, ValueError, FileNotFoundError, FileExistsError, NotADirectoryError, PermissionError,
                ConnectionError)


def _one_line(exc: BaseException) -> str:
    """The exception's own message (a KeyError's without quotes), on one line."""
    message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
    return " ".join(str(message).split())


if __name__ == "__main__":
    sys.exit(main())
