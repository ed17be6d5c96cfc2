"""The reliability matrix: bad or edge inputs across the public surface, each a clear error.

Every case asserts the error type, that the message names the problem, and that
it names the fix. ``docs/reliability.md`` lists the same cases as a table (a
test below keeps the two in step). Also here: quiet failures (nothing on
stderr) and determinism across processes.
"""

import contextlib
import io
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np
import pandas as pd
import pytest
import skops.io
import tempfile
import yaml
from sklearn.datasets import make_classification
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.exceptions import NotFittedError

from cvn_sklearn import Calibrate, ThetaSweep, make_pipeline, registry
from cvn_sklearn.cli import main
from cvn_sklearn.contracts import Datasets
from cvn_sklearn.harness import train_one, tune, walk_forward
from cvn_sklearn.metrics import evaluate, trading_metrics
from cvn_sklearn.model_selection import WalkForwardSplit
from cvn_sklearn.persist import UntrustedModelError, load_artifact, trusted_types
from cvn_sklearn.threshold import theta_sweep
from cvn_sklearn import datasets, labels, ranking, trading
from cvn_sklearn.sweep import ConfigError, SymbolData, screen

X, y = make_classification(n_samples=200, n_features=5, random_state=0)
P = np.linspace(0.01, 0.99, 200)
R = np.linspace(-0.02, 0.02, 200)
DATA = Datasets.temporal_split(X, y)
DOC = Path(__file__).parents[1] / "docs" / "reliability.md"


class CliError(Exception):
    """What the CLI printed on stderr, with its exit status, for the matrix."""


def _cli(*argv):
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            code = main(list(argv))
        except SystemExit as exc:
            code = exc.code
    if code:
        raise CliError(f"exit {code}: {err.getvalue()}")


def _fit(name, X=X, y=y, **params):
    return lambda: registry[name](**params).fit(X, y)


# ---------------------------------------------------------------- the sweep, its CLI, trading, ranking, data
_SWEEP_DIR = Path(tempfile.mkdtemp(prefix="cvn-reliability-"))  # nothing is written here: every case fails first
_RNG = np.random.RandomState(0)
_SX = _RNG.normal(size=(300, 3))
_SY = (_SX[:, 0] > 0).astype(int)
_SR = np.where(_SY == 1, 0.01, -0.01)
_SDATA = {"a": SymbolData(_SX, _SY, _SR)}
_V = [{"name": "logreg", "model": "logreg"}]
_CLOSE = pd.Series(np.linspace(100.0, 110.0, 20), index=pd.date_range("2020-01-01", periods=20))
_CONFIG = "sweep config"


def _sweep(**changes):
    config = {"variants": _V, "symbols": ["a"], "mlflow": False, "cost": 0.0, "folder": str(_SWEEP_DIR / "s"), **changes}
    return lambda: screen({k: v for k, v in config.items() if v is not _DROP}, data=_SDATA)


_DROP = object()


def _screen_cli(content, *extra):
    path = _SWEEP_DIR / f"{abs(hash(repr(content)))}.yaml"
    path.write_text(content if isinstance(content, str) else yaml.safe_dump(content))
    return lambda: _cli("screen", str(path), *extra)


def _goog_close():
    from cvn_sklearn.datasets import load_prices

    return load_prices("goog")["close"]


_SHIPPED = {"variants": _V, "symbols": ["goog"], "mlflow": False, "folder": str(_SWEEP_DIR / "cli")}


class Case(NamedTuple):
    id: str
    surface: str
    call: Callable
    error: type
    problem: str  # regex the message must match: what is wrong
    fix: str  # regex the message must match: what to do


_TWO = [int(np.argmin(y)), int(np.argmax(y))]  # one row of each class
_X_NAN = np.where(X > 2, np.nan, X)
_X_CAT = pd.DataFrame({"a": X[:, 0], "sector": pd.Categorical(np.where(y == 1, "x", "y"))})
_MUST_BE = r"must be (an int|a float|a str|an instance)"

CASES = [
    # registry
    Case("registry-typo", "registry", lambda: registry["lightgmb"], KeyError, "Unknown registry name 'lightgmb'", "Did you mean 'lightgbm'"),
    Case("registry-unknown", "registry", lambda: registry["transformer"], KeyError, "Unknown registry name 'transformer'", "Available: blend_avg"),
    # adapter: hyperparameters validated up front
    Case("logreg-C-negative", "adapter", _fit("logreg", C=-1), InvalidParameterError, "'C' parameter of LogReg", _MUST_BE),
    Case("hist_gb-learning-rate-negative", "adapter", _fit("hist_gb", learning_rate=-1), InvalidParameterError, "'learning_rate' parameter of HistGB", _MUST_BE),
    Case("extra_trees-max-depth-negative", "adapter", _fit("extra_trees", max_depth=-3), InvalidParameterError, "'max_depth' parameter of ExtraTrees", _MUST_BE),
    Case("catboost-learning-rate-negative", "adapter", _fit("catboost", learning_rate=-1), InvalidParameterError, "'learning_rate' parameter of CatBoost", _MUST_BE),
    Case("catboost-depth-zero", "adapter", _fit("catboost", depth=0), InvalidParameterError, "'depth' parameter of CatBoost", r"range \[1, 16\]"),
    Case("xgboost-learning-rate-negative", "adapter", _fit("xgboost", learning_rate=-0.1), InvalidParameterError, "'learning_rate' parameter of XGBoost", _MUST_BE),
    Case("xgboost-max-depth-negative", "adapter", _fit("xgboost", max_depth=-1), InvalidParameterError, "'max_depth' parameter of XGBoost", _MUST_BE),
    Case("xgboost-subsample-above-1", "adapter", _fit("xgboost", subsample=1.5), InvalidParameterError, "'subsample' parameter of XGBoost", r"range \(0.0, 1.0\]"),
    Case("xgboost-tree-method-typo", "adapter", _fit("xgboost", tree_method="hsit"), InvalidParameterError, "'tree_method' parameter of XGBoost", "str among"),
    Case("lightgbm-learning-rate-zero", "adapter", _fit("lightgbm", learning_rate=0), InvalidParameterError, "'learning_rate' parameter of LightGBM", _MUST_BE),
    Case("lightgbm-num-leaves-1", "adapter", _fit("lightgbm", num_leaves=1), InvalidParameterError, "'num_leaves' parameter of LightGBM", r"range \[2, 131072\]"),
    Case("random_forest-n-estimators-string", "adapter", _fit("random_forest", n_estimators="10"), InvalidParameterError, "'n_estimators' parameter of RandomForest", _MUST_BE),
    Case("extra_trees-max-features-typo", "adapter", _fit("extra_trees", max_features="sqroot"), InvalidParameterError, "'max_features' parameter of ExtraTrees", "str among"),
    Case("random_forest-criterion-typo-in-params", "adapter", _fit("random_forest", params={"criterion": "ginni"}), InvalidParameterError, "'criterion' parameter of RandomForestClassifier", "str among"),
    Case("lightgbm-params-typo", "adapter", _fit("lightgbm", params={"num_leavs": 3}), ValueError, r"LightGBM does not know the params \['num_leavs'\]", "Did you mean 'num_leaves'"),
    Case("catboost-params-typo", "adapter", _fit("catboost", params={"depht": 3}), ValueError, r"CatBoost does not know the params \['depht'\]", "Did you mean 'depth'"),
    Case("params-repeats-a-constructor-parameter", "adapter", _fit("xgboost", params={"max_depth": 3}), ValueError, r"params repeats the constructor parameters \['max_depth'\]", "set them directly"),
    Case("class-weight-typo", "adapter", _fit("logreg", class_weight="balance"), InvalidParameterError, "'class_weight' parameter", r"\{'balanced'\}"),
    Case("early-stopping-rounds-zero", "adapter", _fit("xgboost", early_stopping_rounds=0), InvalidParameterError, "'early_stopping_rounds' parameter", _MUST_BE),
    Case("validation-fraction-above-1", "adapter", _fit("lightgbm", early_stopping_rounds=3, validation_fraction=1.5), InvalidParameterError, "'validation_fraction' parameter", r"range \(0.0, 1.0\)"),
    Case("early-stopping-rows-one-class", "adapter", _fit("lightgbm", X=X[np.argsort(y, kind="stable")], y=np.sort(y), early_stopping_rounds=3), ValueError, "held out for early stopping hold one class only", "larger validation_fraction"),
    Case("early-stopping-too-few-rows", "adapter", _fit("xgboost", X=X[_TWO], y=y[_TWO], early_stopping_rounds=3), ValueError, "early stopping needs both fit and validation rows", "Pass more rows or set early_stopping_rounds=None"),
    Case("one-class-y", "adapter", _fit("logreg", y=np.zeros(200)), ValueError, "y contains only one class", "Check the labels"),
    Case("nan-for-a-model-without-nan", "adapter", _fit("logreg", X=_X_NAN), ValueError, "Input X contains NaN", "HistGradientBoostingClassifier"),
    Case("category-column-for-logreg", "adapter", _fit("logreg", X=_X_CAT), ValueError, "does not support pandas 'category' columns", "Encode them first"),
    Case("negative-sample-weight", "adapter", lambda: registry["logreg"]().fit(X, y, sample_weight=-np.ones(200)), ValueError, "sample_weight holds negative values", "weights must be >= 0"),
    Case("predict-before-fit", "adapter", lambda: registry["logreg"]().predict(X), NotFittedError, "is not fitted yet", "Call 'fit'"),
    # meta-estimators and θ
    Case("calibrate-method-typo", "meta-estimators", lambda: Calibrate(registry["logreg"](), method="isotonik").fit(X, y), InvalidParameterError, "'method' parameter of Calibrate", "str among"),
    Case("pipeline-without-classifier", "meta-estimators", lambda: make_pipeline(Calibrate(), ThetaSweep()), ValueError, "make_pipeline needs a classifier as its last step", r"e\.g\. make_pipeline"),
    Case("theta-sweep-returns-wrong-length", "meta-estimators", lambda: ThetaSweep(registry["logreg"]()).fit(X, y, returns=R[:50]), ValueError, "returns has 50 rows but X has 200", "one forward return per training row"),
    Case("sweep-single-class", "theta_sweep", lambda: theta_sweep(np.zeros(200), P), ValueError, "hold a single class", "Use a longer validation window"),
    Case("sweep-unknown-objective", "theta_sweep", lambda: theta_sweep(y, P, objective="sharpe"), ValueError, "got 'sharpe'", "objective must be one of"),
    Case("sweep-negative-weights", "theta_sweep", lambda: theta_sweep(y, P, sample_weight=np.r_[-np.ones(100), np.ones(100)]), ValueError, "sample_weight holds negative values", "weights must be >= 0"),
    Case("sweep-scores-not-probabilities", "theta_sweep", lambda: theta_sweep(y, P * 2), ValueError, r"proba_val must be probabilities in \[0, 1\]", "pass predict_proba output"),
    Case("sweep-return-objective-without-returns", "theta_sweep", lambda: theta_sweep(y, P, objective="expected_return"), ValueError, "needs per-sample forward returns", "pass returns="),
    # metrics
    Case("returns-in-percent", "trading_metrics", lambda: trading_metrics(y, R * 400, periods_per_year=252), ValueError, "returns holds values below -1", "not percent"),
    Case("signal-not-binary", "trading_metrics", lambda: trading_metrics(np.full(200, 2), R, periods_per_year=252), ValueError, "signal must hold booleans or 0/1", "1 = take the trade"),
    Case("periods-per-year-zero", "trading_metrics", lambda: trading_metrics(y, R, periods_per_year=0), ValueError, "periods_per_year must be a positive number", "got 0"),
    Case("returns-wrong-length", "trading_metrics", lambda: trading_metrics(y, R[:100], periods_per_year=252), ValueError, "signal has 200 rows but returns has 100", "one forward return per signal row"),
    Case("returns-nan", "trading_metrics", lambda: trading_metrics(y, np.r_[np.nan, R[1:]], periods_per_year=252), ValueError, "returns must be finite numbers", "drop or fill the rows"),
    Case("evaluate-probabilities-out-of-range", "evaluate", lambda: evaluate(y, P * 2, 0.5), ValueError, r"Probabilities must lie in \[0, 1\]", "without NaN"),
    # walk-forward
    Case("walk-forward-too-many-blocks", "WalkForwardSplit", lambda: list(WalkForwardSplit(5, test_size=100).split(X)), ValueError, "Cannot make 5 walk-forward test blocks", "Use fewer splits"),
    Case("walk-forward-negative-gap", "WalkForwardSplit", lambda: list(WalkForwardSplit(3, gap=-1).split(X)), InvalidParameterError, "'gap' parameter of WalkForwardSplit", _MUST_BE),
    # Datasets
    Case("datasets-shares-above-1", "Datasets", lambda: Datasets.temporal_split(X, y, val_size=0.9), ValueError, "val_size and test_size must be in", "sum below 1"),
    Case("datasets-too-few-rows", "Datasets", lambda: Datasets.temporal_split(X[:2], y[:2]), ValueError, "leaves 0 row", "pass more rows or a smaller share"),
    Case("datasets-misaligned-rows", "Datasets", lambda: Datasets.temporal_split(X, y[:100]), ValueError, "X has 200 rows but y has 100", "aligned row by row"),
    # harness
    Case("train-one-unknown-model", "train_one", lambda: train_one("logrge", DATA), KeyError, "Unknown registry name 'logrge'", "Did you mean 'logreg'"),
    Case("train-one-invalid-hyperparameter", "train_one", lambda: train_one("logreg", DATA, {"C": -1}), InvalidParameterError, r"^logreg: The 'C' parameter", _MUST_BE),
    Case("train-one-calibration-typo", "train_one", lambda: train_one("logreg", DATA, calibration="isotonik"), InvalidParameterError, "'calibration' parameter", "str among"),
    Case("train-one-unknown-constraint", "train_one", lambda: train_one("logreg", DATA, constraints={"max_trades": 3}), ValueError, r"Unknown θ constraints \['max_trades'\]", "the known ones are"),
    Case("train-one-constraints-without-objective", "train_one", lambda: train_one("logreg", DATA, objective=None, constraints={"min_positives": 3}), ValueError, "constraints apply to the θ search", "pass an objective"),
    Case("walk-forward-invalid-hyperparameter", "walk_forward", lambda: walk_forward("logreg", X, y, cv=3, hpo_params={"C": -1}), InvalidParameterError, r"^logreg, fold 0: The 'C' parameter", _MUST_BE),
    Case("tune-zero-trials", "tune", lambda: tune("logreg", DATA, n_trials=0), ValueError, "n_trials must be a positive integer", "got 0"),
    Case("tune-model-without-search-space", "tune", lambda: tune("blend_avg", DATA, n_trials=1, storage="sqlite:///:memory:"), ValueError, "declares no search_space", "only models with one can be tuned"),
    Case("tune-unknown-metric", "tune", lambda: tune("logreg", DATA, n_trials=1, storage="sqlite:///:memory:", metric="accuracy"), ValueError, "got 'accuracy'", "metric must be one of"),
    # persistence
    Case("load-unknown-run", "load_artifact", lambda: load_artifact("0" * 32, tracking_uri="sqlite:///:memory:"), ValueError, "does not exist in the store", "Check the run id"),
    Case("load-unknown-part", "load_artifact", lambda: load_artifact("x", part="calibrator"), ValueError, "got 'calibrator'", r"part must be one of \['estimator', 'meta_label_model'\]"),
    Case("model-file-with-foreign-types", "load_artifact", lambda: trusted_types(skops.io.dumps(FunctionTransformer(print))), UntrustedModelError, "types that cvn_sklearn does not trust", "Refusing to load it"),
    Case("model-file-shadowing-the-class", "load_artifact", lambda: skops.io.loads(_shadowing_file(), trusted=trusted_types(_shadowing_file())), UntrustedModelError, r"sets \['native'\], which the class declares itself", "load models only from a store you trust"),
    # CLI
    Case("cli-test-size-negative", "CLI", lambda: _cli("train", "--test-size", "-0.5"), CliError, "exit 2: .*-0.5 is not strictly between 0 and 1", "pass a share such as 0.3"),
    Case("cli-test-size-zero", "CLI", lambda: _cli("train", "--test-size", "0"), CliError, "exit 2: .*0 is not strictly between 0 and 1", "pass a share such as 0.3"),
    Case("cli-test-size-above-1", "CLI", lambda: _cli("train", "--test-size", "1.5"), CliError, "exit 2: .*1.5 is not strictly between 0 and 1", "pass a share such as 0.3"),
    Case("cli-test-size-not-a-number", "CLI", lambda: _cli("train", "--test-size", "abc"), CliError, "exit 2: .*'abc' is not a number", "pass a share such as 0.3"),
    Case("cli-unknown-model", "CLI", lambda: _cli("train", "--models", "lightgmb"), CliError, "exit 2: .*Unknown registry name 'lightgmb'", "Did you mean 'lightgbm'"),
    Case("cli-empty-model-list", "CLI", lambda: _cli("train", "--models", ","), CliError, "exit 2: .*no model name given", "pass registry names"),
    Case("cli-unknown-symbol", "CLI", lambda: _cli("train", "--symbol", "btc"), CliError, "exit 2: .*invalid choice: 'btc'", "choose from"),
    Case("cli-plots-is-a-file", "CLI", lambda: _cli("train", "--plots", __file__), CliError, "exit 2: .*is a file, not a folder", "pass a folder"),
    Case("cli-unknown-command", "CLI", lambda: _cli("serve"), CliError, "exit 2: .*invalid choice: 'serve'", "choose from"),
    # trading: from a signal to P&L
    Case("positions-rows-out-of-order", "trading", lambda: trading.positions([1, 0, 1], [0.01, 0.02, 0.03], times=[2, 1, 3]), ValueError, "rows must be in time order", "sort them first"),
    Case("positions-exit-before-entry", "trading", lambda: trading.positions([1, 0, 1], [0.01, 0.02, 0.03], times=[0, 1, 2], t1=[1, 0, 3]), ValueError, "t1 must be at or after each row's time", "a trade exits after its entry"),
    Case("positions-t1-without-times", "trading", lambda: trading.positions([1, 0, 1], [0.01, 0.02, 0.03], t1=[1, 2, 3]), ValueError, "t1 needs times", "pass each row's bar"),
    Case("positions-close-without-t1", "trading", lambda: trading.positions([1, 0], [0.01, 0.02], times=_CLOSE.index[:2], close=_CLOSE), ValueError, "close needs t1", "pass t1 .and times., or leave close out"),
    Case("positions-time-off-the-calendar", "trading", lambda: trading.positions([1, 0, 1], [0.01, 0.02, 0.03], times=[0, 1, 2], bars=[0, 1]), ValueError, "not bars of the calendar", "pass the symbol's own bar times"),
    Case("positions-unknown-rule", "trading", lambda: trading.positions([1], [0.01], rule="fifo"), ValueError, "got 'fifo'", "rule must be one of .'one_at_a_time', 'equal_weight'."),
    Case("positions-negative-cost", "trading", lambda: trading.positions([1], [0.01], cost=-0.001), ValueError, "got -0.001", r"cost must be a number >= 0 \(the round-trip cost"),
    Case("positions-size-above-1", "trading", lambda: trading.positions([1], [0.01], size=[2.0]), ValueError, "size must hold", r"in \[0, 1\] per row"),
    Case("positions-signal-not-binary", "trading", lambda: trading.positions([2], [0.01]), ValueError, "signal must hold booleans or 0/1", "1 = take the trade"),
    Case("positions-returns-in-percent", "trading", lambda: trading.positions([1], [-5.0]), ValueError, "returns holds values below -1", "not percent"),
    Case("positions-price-missing", "trading", lambda: trading.positions([1, 0], [0.01, 0.0], times=_CLOSE.index[:2], t1=_CLOSE.index[2:4], close=_CLOSE.where(_CLOSE.index != _CLOSE.index[1])), ValueError, "close must hold a positive price", "on every bar of the calendar"),
    Case("bet-size-not-a-probability", "trading", lambda: trading.bet_size([1.5]), ValueError, "proba must be probabilities", r"in \[0, 1\] without NaN"),
    Case("bet-size-break-even-1", "trading", lambda: trading.bet_size([0.5], break_even=1.0), ValueError, "got 1.0", r"break_even must be a probability in \(0, 1\)"),
    Case("bet-size-step-2", "trading", lambda: trading.bet_size([0.5], step=2), ValueError, "got 2", r"step must be in \(0, 1\] or None"),
    Case("pool-nothing", "trading", lambda: trading.pool({}, {}), ValueError, "pool needs at least one", "symbol's series"),
    Case("pool-mixed-frequencies-without-dates", "trading", lambda: trading.pool({"a": pd.Series([1.0]), "b": pd.Series([2.0])}, {"a": 252, "b": 6240}), ValueError, "'a' has no datetime bar times", "give every symbol a DatetimeIndex or screen them separately"),
    # data and labels
    Case("trading-cost-unknown-symbol", "datasets", lambda: datasets.trading_cost("tsla"), ValueError, "Unknown symbol 'tsla'", "the prices shipped are: sp500"),
    Case("periods-per-year-unknown-symbol", "datasets", lambda: datasets.periods_per_year("tsla"), ValueError, "Unknown symbol 'tsla'", "the prices shipped are: sp500"),
    Case("labelled-dataset-unknown-label", "datasets", lambda: datasets.labelled_dataset("goog", label="meta"), ValueError, "got 'meta'", "label must be 'triple_barrier' or 'forward_return'"),
    Case("labelled-dataset-cusum-too-high", "datasets", lambda: datasets.labelled_dataset("goog", cusum=10.0), ValueError, "leaves 45 labelled rows, fewer than min_rows=100", "lower cusum"),
    Case("labels-negative-barrier", "labels", lambda: labels.triple_barrier_labels(_goog_close(), pt_sl=(-1, 1)), ValueError, "got \\(-1, 1\\)", "finite and >= 0 .0 disables a barrier."),
    Case("labels-max-holding-0", "labels", lambda: labels.triple_barrier_labels(_goog_close(), max_holding=0), ValueError, "got 0", "max_holding must be an integer >= 1"),
    Case("labels-vertical-typo", "labels", lambda: labels.triple_barrier_labels(_goog_close(), vertical="up"), ValueError, "got 'up'", "vertical must be 'zero' or 'sign'"),
    Case("labels-unsorted-prices", "labels", lambda: labels.triple_barrier_labels(_goog_close().iloc[::-1]), ValueError, "must be sorted and without duplicates", "close.sort_index"),
    Case("cusum-threshold-0", "labels", lambda: labels.cusum_events(_goog_close(), threshold=0), ValueError, "got 0", "threshold must be a positive number"),
    Case("forward-label-horizon-0", "labels", lambda: labels.forward_return_label(_goog_close(), horizon=0), ValueError, "got 0", "horizon must be an integer >= 1"),
    Case("features-without-volume", "features", lambda: datasets.features(datasets.load_prices("goog").drop(columns="volume")), ValueError, r"lacks the column\(s\) \['volume'\]", "pass OHLCV with lower-case names"),
    # ranking
    Case("rank-one-period", "ranking", lambda: ranking.rank_variants(pd.DataFrame({"a": [0.1]}), periods_per_year=252), ValueError, "returns has 1 period", "needs at least 2"),
    Case("rank-fewer-trials-than-variants", "ranking", lambda: ranking.rank_variants(pd.DataFrame({"a": [0.1, 0.2], "b": [0.1, 0.3]}), periods_per_year=252, n_trials=1), ValueError, "got 1", r"n_trials must be an integer >= the number of variants \(2\)"),
    Case("psr-one-observation", "ranking", lambda: ranking.probabilistic_sharpe_ratio(0.1, n_obs=1, skew=0, kurtosis=3), ValueError, "got 1", "n_obs must be at least 2"),
    Case("psr-excess-kurtosis", "ranking", lambda: ranking.probabilistic_sharpe_ratio(0.1, n_obs=10, skew=0, kurtosis=-1), ValueError, "not the excess kurtosis", "add 3"),
    Case("expected-max-sharpe-no-trials", "ranking", lambda: ranking.expected_max_sharpe(0, 0.1), ValueError, "got 0", "n_trials must be an integer >= 1"),
    Case("pbo-odd-partitions", "ranking", lambda: ranking.probability_of_backtest_overfitting(_RNG.normal(size=(100, 3)), n_partitions=5), ValueError, "got 5", "n_partitions must be an even integer"),
    Case("pbo-unknown-metric", "ranking", lambda: ranking.probability_of_backtest_overfitting(_RNG.normal(size=(100, 3)), metric="sortino"), ValueError, "got 'sortino'", "metric must be 'sharpe' or a callable"),
    Case("pbo-nan-returns", "ranking", lambda: ranking.probability_of_backtest_overfitting(np.full((100, 3), np.nan)), ValueError, "returns holds NaN or inf", "fill periods without a position with 0"),
    # the sweep: every config problem, before any cell runs
    Case("sweep-unknown-model", _CONFIG, _sweep(variants=[{"name": "x", "model": "lightgmb"}]), ConfigError, "variants.0.model: Unknown registry name 'lightgmb'", "Did you mean 'lightgbm'"),
    Case("sweep-unknown-base-model", _CONFIG, _sweep(variants=[{"name": "s", "model": "stack_logreg", "params": {"base_models": [["x", {"model": "lightgmb"}]]}}]), ConfigError, "base_models.0.model: Unknown registry name 'lightgmb'", "Did you mean 'lightgbm'"),
    Case("sweep-repeated-variant-names", _CONFIG, _sweep(variants=_V + _V), ConfigError, r"repeated: \['logreg'\]", "Give each variant its own name"),
    Case("sweep-repeated-symbols", _CONFIG, _sweep(symbols=["a", "a"]), ConfigError, "symbols must be unique", r"got \['a', 'a'\]"),
    Case("sweep-no-folds", _CONFIG, _sweep(folds={"n_splits": 0}), ConfigError, "folds.n_splits", "greater than or equal to 1"),
    Case("sweep-val-size-1", _CONFIG, _sweep(folds={"val_size": 1.0}), ConfigError, "folds.val_size", "less than 1"),
    Case("sweep-misspelt-key", _CONFIG, _sweep(calibraton="isotonic"), ConfigError, "calibraton: unknown key", "did you mean 'calibration'"),
    Case("sweep-misspelt-variant-key", _CONFIG, _sweep(variants=[{"name": "x", "model": "logreg", "parms": {}}]), ConfigError, "variants.0.parms: unknown key", "did you mean 'params'"),
    Case("sweep-calibration-typo", _CONFIG, _sweep(calibration="isotonik"), ConfigError, "unknown calibration method 'isotonik'", "did you mean 'isotonic'"),
    Case("sweep-objective-typo", _CONFIG, _sweep(objective="sharpe"), ConfigError, "unknown θ objective 'sharpe'", "the known ones are"),
    Case("sweep-unknown-constraint", _CONFIG, _sweep(constraints={"max_trades": 3}), ConfigError, r"unknown θ constraints \['max_trades'\]", "the known ones are"),
    Case("sweep-negative-cost", _CONFIG, _sweep(cost=-0.1), ConfigError, "cost:", "greater than or equal to 0"),
    Case("sweep-cost-for-a-symbol-not-swept", _CONFIG, _sweep(costs={"b": 0.001}), ConfigError, r"not in symbols: \['b'\]", "give each symbol of the sweep a cost"),
    Case("sweep-own-symbol-without-cost", _CONFIG, _sweep(cost=_DROP), ConfigError, "'a' has no cost per trade", "cost: 0 screens gross returns"),
    Case("sweep-scheduler-with-local-executor", _CONFIG, _sweep(scheduler="tcp://host:8786"), ConfigError, "scheduler is set but executor is 'local'", "set executor: dask"),
    Case("sweep-positions-typo", _CONFIG, _sweep(positions="fifo"), ConfigError, "positions:", "'one_at_a_time' or 'equal_weight'"),
    Case("sweep-sizing-typo", _CONFIG, _sweep(sizing="kelly"), ConfigError, "sizing:", "'binary' or 'probability'"),
    Case("sweep-break-even-1", _CONFIG, _sweep(break_even=1.0), ConfigError, "break_even:", "less than 1"),
    Case("sweep-symbol-without-data", _CONFIG, _sweep(symbols=["a", "b"]), ConfigError, r"no data for \['b'\]", "Add them or drop them"),
    Case("sweep-unknown-shipped-symbol", _CONFIG, lambda: screen({**_SHIPPED, "symbols": ["tsla"]}), ConfigError, "unknown symbol 'tsla'", "the shipped symbols are"),
    Case("sweep-labels-without-buy-label", _CONFIG, lambda: screen({"variants": _V, "symbols": ["a"], "mlflow": False, "cost": 0.0, "folder": str(_SWEEP_DIR / "s")}, data={"a": SymbolData(_SX, np.where(_SY == 1, "buy", "hold"), _SR)}), ConfigError, "the buy label is not known", "pass pos_label="),
    Case("sweep-misaligned-rows", _CONFIG, lambda: screen({"variants": _V, "symbols": ["a"], "mlflow": False, "cost": 0.0, "folder": str(_SWEEP_DIR / "s")}, data={"a": SymbolData(_SX, _SY[:100], _SR)}), ConfigError, "X has 300 rows but y has 100", "aligned row by row"),
    Case("sweep-folder-is-a-file", _CONFIG, _sweep(folder=__file__), ConfigError, "is a file, not a folder", "give the sweep a folder"),
    Case("sweep-report-folder-missing", _CONFIG, lambda: screen({"variants": _V, "symbols": ["a"], "mlflow": False, "cost": 0.0, "folder": str(_SWEEP_DIR / "s")}, data=_SDATA, report=str(_SWEEP_DIR / "missing" / "r.html")), ConfigError, "report: the folder .* does not exist", "create it, or correct the path"),
    Case("sweep-tracking-uri-unknown-scheme", _CONFIG, _sweep(mlflow=True, tracking_uri="foo://bar"), ConfigError, "MLflow does not know the scheme 'foo'", "it knows"),
    # cvn-sklearn screen: exit 2, one line naming the key
    Case("screen-config-missing", "CLI", lambda: _cli("screen", str(_SWEEP_DIR / "nope.yaml")), CliError, "exit 2: .*nope.yaml does not exist", "pass the path of a YAML sweep config"),
    Case("screen-config-not-yaml", "CLI", _screen_cli("variants: [unclosed"), CliError, "exit 2: .*is not valid YAML", "cvn-sklearn screen"),
    Case("screen-unknown-symbol", "CLI", _screen_cli({**_SHIPPED, "symbols": ["btc"]}), CliError, "exit 2: .*config error: symbols: unknown symbol 'btc'", "the shipped symbols are"),
    Case("screen-misspelt-key", "CLI", _screen_cli({**_SHIPPED, "foldz": {"n_splits": 2}}), CliError, "exit 2: .*config error: foldz: unknown key", "did you mean 'folds'"),
    Case("screen-folder-is-a-file", "CLI", _screen_cli({**_SHIPPED, "folder": __file__}), CliError, "exit 2: .*config error: folder: .* is a file", "give the sweep a folder"),
    Case("screen-report-folder-missing", "CLI", _screen_cli(_SHIPPED, "--report", str(_SWEEP_DIR / "missing" / "r.html")), CliError, "exit 2: .*config error: --report: the folder", "create it, or correct the path"),
]


def _shadowing_file() -> bytes:
    model = registry["logreg"]().fit(X, y)
    model.native = "os:system"
    return skops.io.dumps(model)


def test_the_matrix_has_at_least_60_cases_with_unique_ids():
    assert len(CASES) >= 60
    assert sum(case.surface in ("trading", "datasets", "labels", "features", "ranking", _CONFIG) or case.id.startswith("screen-")
               for case in CASES) >= 60  # issue 19: the sweep, its CLI, the ranking, the data and labels modules
    assert len({case.id for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_gives_a_clear_error(case):
    with pytest.raises(case.error) as info:
        case.call()
    message = info.value.args[0] if isinstance(info.value, KeyError) else str(info.value)
    assert re.search(case.problem, message, re.S), f"the message does not name the problem: {message}"
    assert re.search(case.fix, message, re.S), f"the message does not name the fix: {message}"


def test_docs_reliability_lists_every_case():
    table = DOC.read_text()
    missing = [case.id for case in CASES if f"`{case.id}`" not in table]
    assert not missing, f"docs/reliability.md misses {missing}; regenerate it with python tests/test_reliability.py"


def _doc() -> str:
    lines = [
        "# Reliability: what a bad input gives",
        "",
        "Each row is a case of `tests/test_reliability.py`: the input, the error it raises, and two",
        "patterns the message must match, one naming the problem and one naming the fix. Regenerate",
        "this page with `python tests/test_reliability.py` after adding a case.",
        "",
        "| case | surface | error | the message says (problem) | and (fix) |",
        "|---|---|---|---|---|",
    ]
    for case in CASES:
        cells = [f"`{case.id}`", case.surface, _error_cell(case.error), f"`{case.problem}`", f"`{case.fix}`"]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines) + "\n"


def _error_cell(error: type) -> str:
    """The error's name, linked to its API page when the package documents it (in its module's ``__all__``)."""
    import importlib

    module = error.__module__
    if module.startswith("cvn_sklearn") and error.__name__ in getattr(importlib.import_module(module), "__all__", ()):
        return f"{{class}}`~{module}.{error.__name__}`"
    return f"`{error.__name__}`"


# -- quiet failures and determinism, across processes -----------------------------------------------
def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=600)


def test_a_failing_train_one_writes_nothing_to_stderr():
    done = _python("""
        import numpy as np
        from cvn_sklearn.contracts import Datasets
        from cvn_sklearn.harness import train_one
        X = np.random.RandomState(0).normal(size=(200, 3)); y = (X[:, 0] > 0).astype(int)
        try:
            train_one("logreg", Datasets.temporal_split(X, y), {"C": -1})
        except Exception as exc:
            print(type(exc).__name__, exc)
    """)
    assert done.stderr == ""
    assert done.stdout.startswith("InvalidParameterError logreg: The 'C' parameter of LogReg")


def test_the_same_seed_gives_bitwise_identical_theta_and_probabilities_across_processes():
    code = """
        import hashlib
        from sklearn.datasets import make_classification
        from cvn_sklearn.contracts import Datasets
        from cvn_sklearn.harness import train_one
        X, y = make_classification(n_samples=400, n_features=6, random_state=0)
        data = Datasets.temporal_split(X, y)
        for name, params in [("xgboost", {"n_estimators": 20}), ("lightgbm", {"n_estimators": 20}),
                             ("catboost", {"iterations": 20}), ("random_forest", {"n_estimators": 20})]:
            artifact = train_one(name, data, params)
            proba = artifact.estimator.predict_proba(data.test.X)
            print(name, artifact.threshold.hex(), hashlib.sha256(proba.tobytes()).hexdigest())
    """
    first, second = _python(code), _python(code)
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout and len(first.stdout.splitlines()) == 4


if __name__ == "__main__":
    DOC.write_text(_doc())
