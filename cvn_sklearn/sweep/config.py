"""What a screening sweep runs, declared and validated up front (pydantic).

:class:`ScreenConfig` is the sweep: its :class:`Variant` s (a registry model
or ensemble with parameters and a display name), its symbols, its
walk-forward :class:`FoldSettings`, the :class:`LabelSettings` of the shipped
prices, the training options every cell shares, and where the sweep runs and
keeps what it finds. :func:`read_config` turns the content of a YAML file
into one; :func:`demo_config` is the sweep of ``cvn-sklearn demo``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from cvn_sklearn._heldout import THETA_DEFAULTS
from cvn_sklearn.registry import registry

__all__ = ["FoldSettings", "LabelSettings", "ScreenConfig", "Variant", "demo_config", "read_config"]


class Variant(BaseModel):
    """One variant of the sweep: a registry entry, its parameters, and the name it is ranked under.

    Examples
    --------
    >>> Variant(name="lightgbm_depth3", model="lightgbm", params={"max_depth": 3}).model
    'lightgbm'
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, description="Display name, unique in the sweep (e.g. 'lightgbm_depth3').")
    model: str = Field(min_length=1, description="A registry name: a model or an ensemble.")
    params: dict[str, Any] = Field(default_factory=dict, description="Constructor parameters, by native name.")

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

    n_splits: int = Field(default=4, ge=1, description="Test blocks per symbol.")
    test_size: int | None = Field(default=None, ge=1, description="Rows per test block (default: n // (n_splits + 1)).")
    gap: int = Field(default=0, ge=0, description="Rows purged before each test block and before each val block.")
    embargo: int = Field(default=0, ge=0, description="Rows dropped after each earlier test block.")
    max_train_size: int | None = Field(default=None, ge=1, description="Rolling window length (default: expanding).")
    val_size: float = Field(default=0.2, gt=0, lt=1, description="Share of each training window for calibration and θ.")


class LabelSettings(BaseModel):
    """How each symbol's rows are labelled when the sweep loads them (:func:`cvn_sklearn.datasets.labelled_dataset`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["triple_barrier", "forward_return"] = Field(default="triple_barrier", description="The label.")
    cusum: float | None = Field(default=None, gt=0, description="CUSUM event threshold in volatilities; null: every bar.")
    pt_sl: tuple[float, float] = Field(default=(1.0, 1.0), description="Profit-taking and stop-loss multiples.")
    max_holding: int = Field(default=10, ge=1, description="Bars to the vertical barrier.")
    vol_span: int = Field(default=50, ge=2, description="Span of the volatility estimate (bars).")
    vertical: Literal["zero", "sign"] = Field(default="zero", description="Label when the vertical barrier comes first.")
    horizon: int = Field(default=5, ge=1, description="Bars of the forward-return label.")
    k: float = Field(default=0.5, gt=0, description="Volatility multiple of the forward-return label.")


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

    variants: list[Variant] = Field(min_length=1, description="The variants to rank.")
    symbols: list[str] = Field(min_length=1, description="Symbols (keys of the data given to screen()).")
    folds: FoldSettings = Field(default_factory=FoldSettings)
    label: LabelSettings = Field(default_factory=LabelSettings, description="Labels of the shipped prices.")
    calibration: str | None = Field(default="isotonic", description="Calibration method; null keeps raw probabilities.")
    objective: str | None = Field(default=THETA_DEFAULTS["objective"], description="What θ maximises; null uses θ = 0.5.")
    constraints: dict[str, Any] = Field(default_factory=dict, description="θ constraints (min_positives, ...).")
    pos_label: Any = Field(default=None, description="The buy label (required for labels other than 0/1, -1/1, bool).")
    cost: float | None = Field(default=None, ge=0, description=(
        "Round-trip cost per trade as a return (0.0005 = 5 bps), for every symbol; null: each shipped symbol's "
        "default (cvn_sklearn.datasets.trading_cost). A symbol you supply needs one (0 screens gross returns)."))
    costs: dict[str, float] = Field(default_factory=dict, description="Per-symbol cost per trade, over `cost`.")
    positions: Literal["one_at_a_time", "equal_weight"] = Field(
        default="one_at_a_time", description="How concurrent trades are held (cvn_sklearn.trading.positions).")
    sizing: Literal["binary", "probability"] = Field(
        default="binary", description="Position size: 1 per trade, or from the calibrated probability (bet_size).")
    break_even: float = Field(default=0.5, gt=0, lt=1, description="Break-even probability of sizing: probability.")
    executor: Literal["local", "dask"] = Field(default="local", description="Where the cells run.")
    scheduler: str | None = Field(default=None, description="tcp://host:port of a running Dask scheduler.")
    n_workers: int = Field(default=2, ge=1, description="Workers of the LocalCluster started for executor='dask'.")
    folder: Path = Field(default=Path("screen"), description="The sweep's folder: cell store, OOS store, results.")
    mlflow: bool = Field(default=True, description="Log a parent run and a child run per cell.")
    tracking_uri: str | None = Field(default=None, description="MLflow store (default: sqlite:///mlflow.db here).")
    experiment: str = Field(default="cvn-sklearn-screen", min_length=1, description="MLflow experiment.")
    retry_failed: bool = Field(default=False, description="Run the cells that failed before again.")

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

    @model_validator(mode="after")
    def _options(self) -> ScreenConfig:
        from cvn_sklearn.threshold import check_theta_names

        try:
            check_theta_names(self.constraints)
        except ValueError as exc:
            raise ValueError(f"constraints: {exc}") from None
        negative = {symbol: cost for symbol, cost in self.costs.items() if not cost >= 0}
        unknown = sorted(set(self.costs) - set(self.symbols))
        if negative or unknown:
            raise ValueError(f"costs: {'negative ' + str(negative) if negative else ''}"
                             f"{'not in symbols: ' + str(unknown) if unknown else ''}; give each symbol "
                             "of the sweep a cost >= 0.")
        if self.scheduler is not None and self.executor != "dask":
            raise ValueError("scheduler is set but executor is 'local'; set executor: dask to use it.")
        return self

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
        from cvn_sklearn.datasets import SYMBOLS, trading_cost

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
    pydantic.ValidationError
        For a malformed config, naming the key.

    Examples
    --------
    >>> config = read_config({"variants": [{"name": "logreg", "model": "logreg"}], "symbols": ["sp500"]},
    ...                      executor=None)
    >>> config.executor
    'local'
    """
    overrides = {key: value for key, value in overrides.items() if value is not None}
    return ScreenConfig.model_validate({**_bases_as_tuples(content), **overrides})


def _bases_as_tuples(content: dict) -> dict:
    """A config's ``base_models: [[name, {model: ..., params}], ...]`` entries as ``(name, estimator)`` pairs."""
    variants = []
    for variant in content.get("variants", []) if isinstance(content.get("variants"), list) else []:
        params = dict(variant.get("params") or {}) if isinstance(variant, dict) else {}
        bases = params.get("base_models")
        if isinstance(bases, list):
            params["base_models"] = [
                (base[0], registry[base[1]["model"]](**{k: v for k, v in base[1].items() if k != "model"}))
                if isinstance(base, (list, tuple)) and len(base) == 2 and isinstance(base[1], dict) else base
                for base in bases
            ]
        variants.append({**variant, "params": params} if isinstance(variant, dict) else variant)
    return {**content, "variants": variants} if variants else content


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
