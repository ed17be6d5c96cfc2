"""What a screening sweep runs, declared and validated up front (pydantic).

:class:`ScreenConfig` is the sweep: its :class:`Variant` s (a registry model
or ensemble with parameters and a display name), its symbols, its
walk-forward :class:`FoldSettings`, the :class:`LabelSettings` of the shipped
prices, the training options every cell shares, and where the sweep runs and
keeps what it finds. :func:`read_config` turns the content of a YAML file
into one; :func:`check_config` does the same but collects every problem
(pydantic's, a stacker's unknown base model, ...) as :class:`Problem` s, each
naming its key, with a "did you mean" for a misspelt one; :class:`ConfigError`
is the one exception that lists them. :func:`demo_config` is the sweep of
``cvn-sklearn demo``.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from cvn_sklearn._heldout import OBJECTIVES, THETA_CONSTRAINTS, THETA_DEFAULTS, THETA_PARAMETER_CONSTRAINTS
from cvn_sklearn._symbols import SYMBOLS
from cvn_sklearn.calibration import METHODS
from cvn_sklearn.registry import registry

__all__ = ["ConfigError", "FoldSettings", "LabelSettings", "Problem", "ScreenConfig", "Variant", "check_config",
           "demo_config", "read_config"]

CALIBRATIONS = (*METHODS, "auto")
"""The ``calibration`` names a sweep accepts (besides null: raw probabilities)."""


class Problem(NamedTuple):
    """One problem of a sweep's config or inputs: the key to change (``folds.n_splits``, ``symbols``, ...) and what is wrong."""

    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.key}: {self.message}"


class ConfigError(ValueError):
    """Every problem of a sweep's config and inputs, found before any cell runs.

    ``problems`` holds them as :class:`Problem` s; the message lists them one
    per line.

    Examples
    --------
    >>> error = ConfigError([Problem("calibration", "unknown method 'isotonc'"), Problem("symbols", "...")])
    >>> print(error)
    2 problems in the sweep's config:
      calibration: unknown method 'isotonc'
      symbols: ...
    """

    def __init__(self, problems):
        self.problems = list(problems)
        n = len(self.problems)
        lines = [f"{n} problem{'s' if n != 1 else ''} in the sweep's config:", *(f"  {p}" for p in self.problems)]
        super().__init__("\n".join(lines))


def did_you_mean(name, known) -> str:
    """``" (did you mean 'x'?)"`` for a close match of ``name`` among ``known``, else ``""``.

    Examples
    --------
    >>> did_you_mean("calibraton", ["calibration", "objective"])
    " (did you mean 'calibration'?)"
    >>> did_you_mean("zzz", ["calibration"])
    ''
    """
    matches = difflib.get_close_matches(str(name), [str(k) for k in known], n=1)
    return f" (did you mean {matches[0]!r}?)" if matches else ""


def _known_name(value, known, what: str):
    """``value`` if it is one of ``known`` (or ``None``), else a ``ValueError`` with a close match and the known names."""
    if value is not None and value not in known:
        raise ValueError(f"unknown {what} {value!r}{did_you_mean(value, known)}; the known ones are {list(known)}, "
                         "or null")
    return value


class Variant(BaseModel):
    """One variant of the sweep: a registry entry, its parameters, and the name it is ranked under.

    Examples
    --------
    >>> Variant(name="lightgbm_depth3", model="lightgbm", params={"max_depth": 3}).model
    'lightgbm'
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, description=(
        "The name the variant is ranked under, unique in the sweep (e.g. lightgbm_depth3)."))
    model: str = Field(min_length=1, description=(
        "A registry name: a model or an ensemble (`cvn-sklearn models` lists them)."))
    params: dict[str, Any] = Field(default_factory=dict, description=(
        "Constructor parameters of the model, by their native names (n_estimators, max_depth, C, ...). A "
        "stacker's base_models: [[name, {model: lightgbm, <params>}], ...]."))

    @field_validator("model")
    @classmethod
    def _registered(cls, model: str) -> str:
        if model not in registry:
            try:
                registry.entry(model)
            except KeyError as exc:  # the registry's message: close matches and the known names
                raise ValueError(exc.args[0]) from None
        return model


class FoldSettings(BaseModel):
    """Walk-forward folds of every symbol (:class:`~cvn_sklearn.model_selection.WalkForwardSplit`) and their val rows."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    n_splits: int = Field(default=4, ge=1, description="Test blocks (folds) per symbol, in time order.")
    test_size: int | None = Field(default=None, ge=1, description=(
        "Rows per test block; null: the rows divided by n_splits + 1."))
    gap: int = Field(default=0, ge=0, description=(
        "Rows purged before each test block and before each validation block (at least the label's horizon)."))
    embargo: int = Field(default=0, ge=0, description="Rows dropped from training after each earlier test block.")
    max_train_size: int | None = Field(default=None, ge=1, description=(
        "Rows of a rolling training window; null: an expanding window (every earlier row)."))
    val_size: float = Field(default=0.2, gt=0, lt=1, description=(
        "Share of each training window, at its end, that calibrates the probabilities and tunes θ."))


class LabelSettings(BaseModel):
    """How each symbol's rows are labelled when the sweep loads them (:func:`cvn_sklearn.datasets.labelled_dataset`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["triple_barrier", "forward_return"] = Field(default="triple_barrier", description=(
        "The label: triple_barrier (which of profit-taking, stop-loss or max_holding bars comes first) or "
        "forward_return (the return over horizon bars above k volatilities)."))
    cusum: float | None = Field(default=None, gt=0, description=(
        "Sample events with the CUSUM filter at this threshold, in volatilities; null: every bar is a row."))
    pt_sl: tuple[float, float] = Field(default=(1.0, 1.0), description=(
        "Triple barrier: profit-taking and stop-loss barriers, in volatilities."))
    max_holding: int = Field(default=10, ge=1, description="Triple barrier: bars to the vertical barrier.")
    vol_span: int = Field(default=50, ge=2, description="Span (bars) of the volatility estimate.")
    vertical: Literal["zero", "sign"] = Field(default="zero", description=(
        "Triple barrier: the label when the vertical barrier comes first (zero: no buy; sign: the return's sign)."))
    horizon: int = Field(default=5, ge=1, description="Forward return: bars ahead.")
    k: float = Field(default=0.5, gt=0, description="Forward return: the volatility multiple a buy must exceed.")


class ScreenConfig(BaseModel):
    """What a screening sweep runs, and where it keeps what it finds.

    Examples
    --------
    >>> config = ScreenConfig(variants=[{"name": "logreg", "model": "logreg"}], symbols=["sp500"])
    >>> config.folds.n_splits, config.executor, config.calibration
    (4, 'local', 'isotonic')
    >>> ScreenConfig(variants=[{"name": "x", "model": "lightgbn"}], symbols=["sp500"])
    Traceback (most recent call last):
    ...
    pydantic_core._pydantic_core.ValidationError: 1 validation error for ScreenConfig
    ...
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    variants: list[Variant] = Field(min_length=1, description=(
        "The variants to rank: each a registry model or ensemble, its parameters, and the name it is ranked "
        "under."))
    symbols: list[str] = Field(min_length=1, description=(
        f"The symbols to screen on: shipped ones ({', '.join(SYMBOLS)}), or, from Python, the keys of "
        "the data given to screen()."))
    folds: FoldSettings = Field(default_factory=FoldSettings, description="The walk-forward folds of every symbol.")
    label: LabelSettings = Field(default_factory=LabelSettings, description=(
        "How the shipped prices are labelled (ignored for data you give screen())."))
    calibration: str | None = Field(default="isotonic", description=(
        f"How the probabilities are calibrated: {', '.join(CALIBRATIONS)}; null keeps the raw probabilities."))
    objective: str | None = Field(default=THETA_DEFAULTS["objective"], description=(
        f"What the threshold θ maximises on the validation rows: {', '.join(OBJECTIVES)}; null: θ = 0.5."))
    constraints: dict[str, Any] = Field(default_factory=dict, description=(
        f"θ's constraints and edge test, by name: {', '.join(THETA_CONSTRAINTS)} (their defaults when absent)."))
    pos_label: Any = Field(default=None, description=(
        "The label that means buy; null works for 0/1, -1/1 and boolean labels."))
    cost: float | None = Field(default=None, ge=0, description=(
        "Round-trip cost per trade as a return (0.0005 = 5 bps), for every symbol; null: each shipped symbol's "
        "default (index 5 bps, stock 10 bps, EUR/USD 2 bps). Data of your own needs one (0 screens gross "
        "returns)."))
    costs: dict[str, float] = Field(default_factory=dict, description=(
        "Cost per trade of single symbols, over cost (e.g. {goog: 0.0015})."))
    positions: Literal["one_at_a_time", "equal_weight"] = Field(default="one_at_a_time", description=(
        "How overlapping trades are held: one_at_a_time (no new entry while a position is open) or equal_weight "
        "(cvn_sklearn.trading.positions)."))
    sizing: Literal["binary", "probability"] = Field(default="binary", description=(
        "Position size: binary (1 per trade) or probability (from the calibrated P(buy), cvn_sklearn.trading.bet_size)."))
    break_even: float = Field(default=0.5, gt=0, lt=1, description=(
        "sizing: probability only: the P(buy) at which the position is zero."))
    executor: Literal["local", "dask", "auto"] = Field(default="local", description=(
        "Where the cells run: local (this process), dask (a LocalCluster of n_workers, or scheduler) or auto "
        "(Dask when a running scheduler is given or the cells' estimated time pays for starting a local cluster; "
        "cvn_sklearn.sweep.cluster.choose_executor)."))
    scheduler: str | None = Field(default=None, description=(
        "executor: dask or auto: tcp://host:port of a running Dask scheduler; null starts a LocalCluster when "
        "Dask is chosen."))
    n_workers: int = Field(default=2, ge=1, description="Worker processes of the LocalCluster started for executor: dask or auto.")
    folder: Path = Field(default=Path("screen"), description=(
        "The sweep's folder (created if missing, ~ expanded): its cell store, OOS store and result tables. A "
        "re-run reads the finished cells back from it."))
    mlflow: bool = Field(default=True, description="Log the sweep to MLflow: a parent run, and a child run per cell.")
    tracking_uri: str | None = Field(default=None, description=(
        "The MLflow store; null: MLFLOW_TRACKING_URI, else sqlite:///mlflow.db in the working directory."))
    experiment: str = Field(default="cvn-sklearn-screen", min_length=1, description="The MLflow experiment's name.")
    registered_model: str | None = Field(default=None, min_length=1, description=(
        "Register the champion's model (best DSR) in the MLflow model registry under this name; null: only log it."))
    retry_failed: bool = Field(default=False, description=(
        "Run the cells that failed in an earlier run again (they are otherwise read back as failed)."))

    @field_validator("variants")
    @classmethod
    def _unique_names(cls, variants: list[Variant]) -> list[Variant]:
        names = [variant.name for variant in variants]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"variant names must be unique; repeated: {repeated}. Give each variant its own name.")
        return variants

    @field_validator("symbols")
    @classmethod
    def _unique_symbols(cls, symbols: list[str]) -> list[str]:
        if len(set(symbols)) != len(symbols):
            raise ValueError(f"symbols must be unique, got {symbols}.")
        return symbols

    @field_validator("calibration")
    @classmethod
    def _calibration(cls, calibration: str | None) -> str | None:
        return _known_name(calibration, CALIBRATIONS, "calibration method")

    @field_validator("objective")
    @classmethod
    def _objective(cls, objective: str | None) -> str | None:
        return _known_name(objective, OBJECTIVES, "θ objective")

    @field_validator("constraints")
    @classmethod
    def _constraints(cls, constraints: dict) -> dict:
        from cvn_sklearn._sklearn_compat import validate_parameter_constraints

        errors = []
        unknown = [name for name in constraints if name not in THETA_CONSTRAINTS]
        if unknown:
            hints = "".join(did_you_mean(name, THETA_CONSTRAINTS) for name in unknown)
            errors.append(f"unknown θ constraints {unknown}{hints}; the known ones are {list(THETA_CONSTRAINTS)}")
        for name in [name for name in constraints if name in THETA_CONSTRAINTS]:
            try:
                validate_parameter_constraints({name: THETA_PARAMETER_CONSTRAINTS[name]}, {name: constraints[name]},
                                               caller_name="constraints")
            except ValueError as exc:
                errors.append(" ".join(str(exc).split()).rstrip("."))
        if errors:
            raise ValueError("; ".join(errors))
        return constraints

    @field_validator("costs")
    @classmethod
    def _costs(cls, costs: dict[str, float], info: ValidationInfo) -> dict[str, float]:
        negative = {symbol: cost for symbol, cost in costs.items() if not cost >= 0}
        symbols = info.data.get("symbols")  # absent when the symbols themselves are malformed
        unknown = [] if symbols is None else sorted(set(costs) - set(symbols))
        if negative or unknown:
            raise ValueError(f"{'negative ' + str(negative) if negative else ''}"
                             f"{'; ' if negative and unknown else ''}"
                             f"{'not in symbols: ' + str(unknown) if unknown else ''}; give each symbol "
                             "of the sweep a cost >= 0.")
        return costs

    @field_validator("scheduler")
    @classmethod
    def _scheduler(cls, scheduler: str | None, info: ValidationInfo) -> str | None:
        if scheduler is not None and info.data.get("executor", "dask") == "local":
            raise ValueError("scheduler is set but executor is 'local'; set executor: dask (or auto) to use it.")
        return scheduler

    @field_validator("folder")
    @classmethod
    def _folder(cls, folder: Path) -> Path:
        folder = folder.expanduser()
        if folder.exists() and not folder.is_dir():
            raise ValueError(f"{str(folder)!r} is a file, not a folder; give the sweep a folder (created if missing)")
        return folder

    @field_validator("tracking_uri")
    @classmethod
    def _tracking_uri(cls, uri: str | None) -> str | None:
        return None if uri is None else expand_tracking_uri(uri)

    def training_options(self) -> dict:
        """The options every cell's training shares (part of each cell's key)."""
        return {
            "calibration": self.calibration,
            "objective": self.objective,
            "constraints": dict(self.constraints),
            "pos_label": self.pos_label,
            "val_size": self.folds.val_size,
            "gap": self.folds.gap,
            "positions": self.positions,
            "sizing": self.sizing,
            "break_even": self.break_even,
        }

    def trading_rules(self) -> dict:
        """How each cell's test signal becomes trades (:func:`cvn_sklearn.trading.trading_metrics`)."""
        return {"rule": self.positions, "sizing": self.sizing, "break_even": self.break_even}

    def symbol_cost(self, symbol: str) -> float:
        """The cost per trade of ``symbol``: ``costs``, else ``cost``, else the shipped symbol's default.

        Raises
        ------
        ValueError
            For a symbol of your own with neither (what to set is in the message).
        """
        if symbol in self.costs:
            return float(self.costs[symbol])
        if self.cost is not None:
            return float(self.cost)
        from cvn_sklearn.datasets import trading_cost

        if symbol in SYMBOLS:
            return trading_cost(symbol)
        raise ValueError(
            f"symbols: {symbol!r} has no cost per trade (only the shipped symbols have defaults); set cost: "
            f"0.0005 (5 bps round trip, every symbol) or costs: {{{symbol}: 0.0005}} in the config; cost: 0 "
            "screens gross returns."
        )


def read_config(content: dict, **overrides) -> ScreenConfig:
    """A :class:`ScreenConfig` from a YAML file's content, ``overrides`` (non-``None`` ones) taking precedence.

    A stacker's ``base_models: [[name, {model: ..., <params>}], ...]`` entries
    become ``(name, estimator)`` pairs built from the registry.

    Raises
    ------
    ConfigError
        Listing every problem of the config, each naming its key (a
        ``ValueError``; :func:`check_config` returns them instead).

    Examples
    --------
    >>> config = read_config({"variants": [{"name": "logreg", "model": "logreg"}], "symbols": ["sp500"]},
    ...                      executor=None)
    >>> config.executor
    'local'
    """
    checked = check_config(with_overrides(content, **overrides))
    if checked.problems:
        raise ConfigError(checked.problems)
    return checked.config


def with_overrides(content: dict, **overrides) -> dict:
    """``content`` with the non-``None`` ``overrides`` (command-line options) taking precedence."""
    return {**content, **{key: value for key, value in overrides.items() if value is not None}}


class CheckedConfig(NamedTuple):
    """What :func:`check_config` found: the config, its problems, and the top-level keys that failed.

    With problems, ``config`` is the config with the failing keys left out
    (their defaults, or a stand-in for a required key): the later checks
    (:func:`cvn_sklearn.sweep.plan.check_plan_inputs`) run on it, skipping
    what depends on a key in ``failed``. ``None`` if even that does not validate.
    """

    config: ScreenConfig | None
    problems: list
    failed: frozenset


_STAND_INS = {"variants": [{"name": "-", "model": "logreg"}], "symbols": ["-"]}
"""Stand-ins for a failing required key, so the rest of a config can still be checked."""

_SECTIONS = {"folds": "FoldSettings", "label": "LabelSettings", "variants": "Variant"}


def check_config(content) -> CheckedConfig:
    """Validate a sweep's config, collecting every problem instead of stopping at the first.

    The problems: pydantic's (all of them, a misspelt key with a "did you
    mean"), a stacker's ``base_models`` naming an unknown registry entry, and
    a ``tracking_uri`` (or ``MLFLOW_TRACKING_URI``) MLflow cannot use when
    ``mlflow`` is on.

    Examples
    --------
    >>> checked = check_config({"variants": [{"name": "logreg", "model": "logreg"}], "symbols": ["sp500"],
    ...                         "calibraton": "sigmoid", "objective": "sortno"})
    >>> for problem in checked.problems:
    ...     print(problem)  # doctest: +ELLIPSIS
    objective: unknown θ objective 'sortno' (did you mean 'sortino'?); the known ones are [...], or null
    calibraton: unknown key (did you mean 'calibration'?)
    >>> checked.config.calibration  # the rest of the config, for the later checks
    'isotonic'
    """
    if isinstance(content, ScreenConfig):
        return CheckedConfig(content, tracking_problems(content), frozenset())
    if not isinstance(content, dict):
        return CheckedConfig(None, [Problem("config", f"a sweep's config is a mapping of keys (variants, symbols, "
                                            f"...), got {type(content).__name__}")], frozenset({"config"}))
    content, problems = _bases_as_tuples(content)
    try:
        config = ScreenConfig.model_validate(content)
    except ValidationError as exc:
        problems += [_problem(error) for error in exc.errors()]
    else:
        return CheckedConfig(config, problems + tracking_problems(config), frozenset())
    failed = {str(error_key.split(".")[0]) for error_key, _ in problems}
    config = None
    for _ in range(3):  # a key left out can make a key depending on it fail in turn (costs on symbols): leave it out too
        rest = {key: value for key, value in content.items() if key not in failed}
        rest.update({key: value for key, value in _STAND_INS.items() if key in failed})
        try:
            config = ScreenConfig.model_validate(rest)
            break
        except ValidationError as exc:
            failed |= {str(error["loc"][0]) for error in exc.errors() if error["loc"]}
    if config is not None and not failed & {"mlflow", "tracking_uri"}:
        problems += tracking_problems(config)
    return CheckedConfig(config, problems, frozenset(failed))


def _problem(error: dict) -> Problem:
    """One pydantic error as a :class:`Problem`: its key, and its message (a "did you mean" for an unknown key)."""
    loc = [str(part) for part in error["loc"]]
    key = ".".join(loc) or "config"
    if error["type"] == "extra_forbidden":
        model = globals()[_SECTIONS[loc[0]]] if len(loc) > 1 and loc[0] in _SECTIONS else ScreenConfig
        known = list(model.model_fields)
        hint = did_you_mean(loc[-1], known)
        return Problem(key, f"unknown key{hint}" if hint else f"unknown key; the known keys here are {known}")
    message = " ".join(error["msg"].removeprefix("Value error, ").split())
    described = _description(loc) if error["type"] != "value_error" else None  # a validator's own message says it all
    return Problem(key, f"{message} ({key}: {described.rstrip('.')})" if described else message)


def _description(loc: list) -> str | None:
    """The field description of the key at ``loc`` (``["folds", "n_splits"]``, ``["variants", "0", "model"]``), if any."""
    model, rest = ScreenConfig, list(loc)
    while rest:
        name = rest.pop(0)
        field = model.model_fields.get(name)
        if field is None:
            return None
        if not rest:
            return field.description
        if name == "variants" and rest[0].isdigit() and len(rest) > 1:
            model, rest = Variant, rest[1:]
        elif name in _SECTIONS:
            model = globals()[_SECTIONS[name]]
        else:
            return None
    return None


def expand_tracking_uri(uri: str) -> str:
    """``uri`` with a leading ``~`` of a path expanded: a plain path, or the path of a ``sqlite:///`` URI.

    Examples
    --------
    >>> import os
    >>> expand_tracking_uri("sqlite:///~/runs/mlflow.db") == f"sqlite:///{os.path.expanduser('~')}/runs/mlflow.db"
    True
    >>> expand_tracking_uri("http://localhost:5000")
    'http://localhost:5000'
    """
    if uri.startswith("sqlite:///~"):
        return "sqlite:///" + os.path.expanduser(uri.removeprefix("sqlite:///"))
    if uri.startswith("~"):
        return os.path.expanduser(uri)
    return uri


def tracking_problems(config: ScreenConfig) -> list:
    """The problems of the MLflow store the sweep would log to (none when ``mlflow`` is off).

    The store is ``tracking_uri``, else ``MLFLOW_TRACKING_URI``, else
    ``sqlite:///mlflow.db`` in the working directory (always usable). A URI
    whose scheme MLflow does not know, or a SQLite file in a folder that does
    not exist, is a problem naming the key it came from.
    """
    if not config.mlflow:
        return []
    key, uri = ("tracking_uri", config.tracking_uri) if config.tracking_uri else (
        "MLFLOW_TRACKING_URI", os.environ.get("MLFLOW_TRACKING_URI"))
    if not uri:
        return []
    uri = expand_tracking_uri(uri)
    if uri.startswith("sqlite:///"):
        path = uri.removeprefix("sqlite:///").partition("?")[0]
        if path and path != ":memory:" and not Path(path).parent.is_dir():
            return [Problem(key, f"the folder {str(Path(path).parent)!r} of the SQLite store {uri!r} does not exist; "
                                 "create it, or correct the path")]
        return []
    try:
        from mlflow.exceptions import MlflowException
        from mlflow.tracking._tracking_service.utils import _tracking_store_registry as stores
    except ImportError:  # another MLflow layout: its own error comes when the sweep logs
        return []
    try:
        stores.get_store_builder(uri)
    except MlflowException:
        from urllib.parse import urlparse

        scheme = urlparse(uri).scheme
        known = sorted(name for name in getattr(stores, "_registry", {}) if name)
        return [Problem(key, f"MLflow does not know the scheme {scheme!r} of {uri!r}{did_you_mean(scheme, known)}; "
                             f"it knows {known} (and plain paths)")]
    return []


def _bases_as_tuples(content: dict) -> tuple[dict, list]:
    """A config's ``base_models: [[name, {model: ..., params}], ...]`` entries as ``(name, estimator)`` pairs.

    Returns the content and the problems of the entries that could not be
    built (an unknown registry name, a parameter the model refuses), each
    naming its key; those entries are left as they are.
    """
    variants, problems = [], []
    for i, variant in enumerate(content.get("variants", []) if isinstance(content.get("variants"), list) else []):
        params = dict(variant.get("params") or {}) if isinstance(variant, dict) and isinstance(
            variant.get("params") or {}, dict) else {}
        bases = params.get("base_models")
        if isinstance(bases, list):
            built = []
            for j, base in enumerate(bases):
                if isinstance(base, (list, tuple)) and len(base) == 2 and isinstance(base[1], dict):
                    key = f"variants.{i}.params.base_models.{j}"
                    model = base[1].get("model")
                    if not isinstance(model, str):
                        problems.append(Problem(f"{key}.model", "missing: name the base model's registry entry "
                                                "([name, {model: lightgbm, <params>}])"))
                        built.append(base)
                        continue
                    try:
                        base = (base[0], registry[model](**{k: v for k, v in base[1].items() if k != "model"}))
                    except KeyError as exc:  # the registry's message: close matches and the known names
                        problems.append(Problem(f"{key}.model", " ".join(str(exc.args[0] if exc.args else exc).split())))
                    except (TypeError, ValueError) as exc:
                        problems.append(Problem(key, f"{model}: {' '.join(str(exc).split())}"))
                built.append(base)
            params["base_models"] = built
        variants.append({**variant, "params": params} if isinstance(variant, dict) and params else variant)
    return ({**content, "variants": variants} if variants else content), problems


def demo_config(folder: str = "demo") -> dict:
    """The embedded sweep of ``cvn-sklearn demo``: 4 single models and 3 ensembles, 4 symbols, 3 folds.

    Boosters have 100 rounds (the stackers' base models too) so the whole demo
    runs in a few minutes on 2 cores; the events are sampled with the CUSUM
    filter (threshold 1 volatility) and labelled with triple barriers, purged
    by their end times.

    Examples
    --------
    >>> config = read_config(demo_config())
    >>> len(config.variants), config.symbols
    (7, ['goog', 'aapl', 'msft', 'eurusd'])
    """
    from cvn_sklearn.model_selection import WalkForwardSplit

    boosters = {"xgboost": {"n_estimators": 100}, "lightgbm": {"n_estimators": 100},
                "catboost": {"iterations": 100}}
    singles = [{"name": name, "model": name, "params": params} for name, params in boosters.items()]
    bases = [[name, {"model": name, **params}] for name, params in boosters.items()]
    ensembles = [{"name": name, "model": name, "params": {"base_models": bases, "cv": WalkForwardSplit(3)}}
                 for name in ("blend_avg", "stack_logreg_shrink", "stack_nonneg")]
    return {"variants": [*singles, {"name": "logreg", "model": "logreg"}, *ensembles],
            "symbols": ["goog", "aapl", "msft", "eurusd"], "folds": {"n_splits": 3, "gap": 10},
            "label": {"kind": "triple_barrier", "cusum": 1.0, "max_holding": 10}, "folder": folder}
