"""Structured events: one schema per event, emitted through structlog.

Library code only calls :func:`emit`; it never configures logging. Applications
(the CLI, a notebook, a scheduled job) call :func:`configure_logging` once.

Every event has one ``TypedDict`` below. :func:`emit` checks the fields it is
given against that schema, so the same event carries the same field names for
every model and ensemble, and one log query returns them all.

Examples
--------
>>> from structlog.testing import capture_logs
>>> from cvn_sklearn.events import emit
>>> with capture_logs() as logs:
...     emit("adapter_unavailable", name="xgboost", library="xgboost",
...          reason="No module named 'xgboost'", hint="pip install xgboost")
>>> logs[0]["event"], logs[0]["name"]
('adapter_unavailable', 'xgboost')
"""

from __future__ import annotations

import logging
import sys
from typing import TypedDict

from cvn_sklearn.scrubbing import scrub

__all__ = ["EVENTS", "WARNINGS", "configure_logging", "emit", "get_logger", "model_type"]


class TrainingStarted(TypedDict):
    model_type: str
    dataset_n_train: int
    dataset_n_features: int
    n_classes: int
    class_dist_buy_pct: float
    early_stopping_rounds: int | None
    n_val_early_stopping: int


class ClassBalanceApplied(TypedDict):
    model_type: str
    class_weight: str
    weight_per_class: dict
    class_counts: dict
    user_sample_weight: bool


class ModelFit(TypedDict):
    """The native model's own fit finished (emitted by every adapter ``fit``).

    Registry ensembles emit it too, with ``n_estimators_final`` the number of
    base models kept and ``best_iteration`` ``None``.
    """

    model_type: str
    n_estimators_final: int | None
    best_iteration: int | None
    training_time_sec: float
    dataset_n_train: int
    dataset_n_features: int
    class_dist_buy_pct: float


class TrainingComplete(ModelFit):
    """A whole training run finished: model, calibration, θ and validation metrics.

    Emitted once per :func:`cvn_sklearn.harness.train_one`, for models and
    ensembles alike, with every field of ``model_fit`` (``training_time_sec``
    covers the whole run and ``dataset_n_train`` the rows it was given), θ,
    the validation metrics, and the rows of each stage: ``rows_fit`` (the model
    learned from), ``rows_early_stopping`` (held back from the end of ``train``),
    ``rows_calibration`` and ``rows_theta`` (the ``val`` rows, shared),
    ``rows_test`` (only scored).
    """

    theta_picked: float
    auc_val: float
    f1_buy_val: float
    brier_val: float
    ece_val: float
    rows_fit: int
    rows_early_stopping: int
    rows_calibration: int
    rows_theta: int
    rows_test: int


class CalibratorFit(TypedDict):
    model_type: str
    method: str
    n_calibration: int
    n_folds: int
    brier_before: float
    brier_after: float
    ece_before: float
    ece_after: float


class ThetaPicked(TypedDict):
    model_type: str
    theta: float
    objective: str
    objective_value: float
    positive_rate_val: float
    n_positives_val: int
    n_val: int


class NoEdge(TypedDict):
    """The θ search found no edge on the validation rows: the model will not trade (θ above 1).

    Emitted by every θ search whose edge test fails, just before its
    ``theta_picked`` (which then carries the no-trade θ). The fields are the
    evidence of :attr:`cvn_sklearn.threshold.ThetaSweepResult.edge`.
    """

    model_type: str
    objective: str
    test: str
    auc: float
    p_value: float
    alpha: float
    mean_net_return: float | None
    cost: float
    n_val: int
    theta_tested: float
    n_positives_tested: int
    reason: str


class AdapterUnavailable(TypedDict):
    name: str
    library: str
    reason: str
    hint: str


class ScreenStarted(TypedDict):
    """A screening sweep starts: its cells, and how many come from the cell store."""

    n_cells: int
    n_cached: int
    n_variants: int
    n_symbols: int
    n_folds: int
    executor: str


class ExecutorChosen(TypedDict):
    """Where a sweep's cells run, and why: for ``executor: auto``, and for ``executor: dask`` where auto would not.

    ``requested`` is the config's ``executor``, ``executor`` where the cells
    run (``"local"`` or ``"dask"``), ``reason`` one sentence,
    ``estimated_seconds`` the cells' rough serial time
    (:func:`cvn_sklearn.sweep.cluster.choose_executor`).
    """

    requested: str
    executor: str
    reason: str
    estimated_seconds: float


class CellComplete(TypedDict):
    """One sweep cell (a variant on one symbol's one fold) finished, or was read back from the store."""

    variant: str
    symbol: str
    fold: int
    status: str
    cached: bool
    seconds: float


class ScreenComplete(TypedDict):
    """A screening sweep finished."""

    n_cells: int
    n_cached: int
    n_failed: int
    seconds: float


class BaseModelComplete(TypedDict):
    """A sweep's shared base-model job finished: one stacker base model's OOS predictions and refit on one symbol's fold."""

    model: str
    symbol: str
    seconds: float


class LibraryWarning(TypedDict):
    """A Python warning another library (or this one) raised while the command line ran a sweep, kept out of stderr.

    ``where`` is the warning's file name (not its full path) and line.
    """

    category: str
    message: str
    where: str


class LibraryLog(TypedDict):
    """A log record of another library (MLflow's, ...) while the command line ran a sweep, kept out of stderr.

    ``logger`` is ``"stderr"`` for text written to ``sys.stderr`` directly (``level`` ``"STDERR"``).
    """

    logger: str
    level: str
    message: str


class StoreFileRejected(TypedDict):
    """A file, or a cell in a segment, of a sweep's store could not be trusted and is treated as absent: computed again.

    Emitted at WARNING level, once per entry read: ``store`` is ``"cells"``
    (the cell store: ``path`` the segment file, ``reason`` ending with the
    cell's byte offset in it) or ``"oos"`` (the OOS store: ``path`` the
    file), ``reason`` what is wrong (torn, truncated, corrupt, checksum
    mismatch, pickled objects, another key's entry, untrusted types, bytes
    that are not a cell).
    """

    store: str
    path: str
    reason: str


EVENTS: dict[str, type] = {
    "training_started": TrainingStarted,
    "class_balance_applied": ClassBalanceApplied,
    "model_fit": ModelFit,
    "training_complete": TrainingComplete,
    "calibrator_fit": CalibratorFit,
    "theta_picked": ThetaPicked,
    "no_edge": NoEdge,
    "adapter_unavailable": AdapterUnavailable,
    "screen_started": ScreenStarted,
    "executor_chosen": ExecutorChosen,
    "cell_complete": CellComplete,
    "screen_complete": ScreenComplete,
    "base_model_complete": BaseModelComplete,
    "library_warning": LibraryWarning,
    "library_log": LibraryLog,
    "store_file_rejected": StoreFileRejected,
}

WARNINGS = frozenset({"store_file_rejected", "library_warning"})
"""Events emitted at WARNING level (every other one at INFO)."""

SKIPPED = "; skipped"
"""How a ``store_file_rejected`` reason ends when what it names held no entry (nothing is computed again)."""

_NOT_SCRUBBED = {"store_file_rejected": frozenset({"path"})}
# fields this package builds itself, logged as they are: a store file's path is the store's folder and the
# entry's key or segment's name (hex characters, which the value rule of scrubbing would otherwise blank, hiding it)


_STDLIB_LOGGER = logging.getLogger("cvn_sklearn")


def get_logger():
    """Return the package's logger; never configures anything.

    Once the application has configured structlog (for example with
    :func:`configure_logging`, or inside ``structlog.testing.capture_logs``),
    events go through structlog. Before that they go to the standard-library
    logger ``"cvn_sklearn"`` as JSON strings at INFO level, which Python keeps
    silent unless the application enables it: a library does not print.
    """
    import structlog  # here, not at the top: ``import cvn_sklearn`` (and ``cvn-sklearn --help``) stay fast

    if structlog.is_configured():
        return structlog.get_logger("cvn_sklearn")
    return structlog.wrap_logger(_STDLIB_LOGGER, processors=[structlog.processors.JSONRenderer()])


def model_type(estimator) -> str:
    """The ``model_type`` field of an estimator's events: its class's registry name, else its class name.

    The registry name is the one given to
    :func:`~cvn_sklearn.registry.register_model` or
    :func:`~cvn_sklearn.registry.register_ensemble`.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from cvn_sklearn.registry import registry
    >>> model_type(registry["logreg"]()), model_type(LogisticRegression())
    ('logreg', 'LogisticRegression')
    """
    return getattr(type(estimator), "_cvn_name", type(estimator).__name__)


def emit(event: str, **fields) -> None:
    """Emit one schema-checked event.

    Parameters
    ----------
    event : str
        A key of :data:`EVENTS`.
    **fields
        Exactly the fields declared by the event's ``TypedDict``; extra fields
        are allowed only for keys the schema marks as optional (none today).
        Secret-looking values are replaced by ``***scrubbed***``
        (:mod:`cvn_sklearn.scrubbing`) before they are logged, except the
        ``path`` of ``store_file_rejected`` (a store's folder and an entry's
        key, which the package builds). Events of :data:`WARNINGS` are logged
        at WARNING level, the others at INFO.

    Raises
    ------
    ValueError
        If ``event`` is unknown or the fields do not match its schema. This is
        a programming error in the library, never a user error.
    """
    try:
        schema = EVENTS[event]
    except KeyError:
        raise ValueError(f"Unknown event {event!r}; known events: {sorted(EVENTS)}") from None
    expected = set(schema.__annotations__)
    if set(fields) != expected:
        missing, extra = sorted(expected - set(fields)), sorted(set(fields) - expected)
        raise ValueError(f"Event {event!r} fields do not match its schema: missing {missing}, extra {extra}")
    level = logging.WARNING if event in WARNINGS else logging.INFO
    if not _listened(level):  # nobody would see it: neither scrubbed nor rendered, as structlog's filter_by_level
        return
    kept = _NOT_SCRUBBED.get(event, frozenset())
    fields = {**scrub({k: v for k, v in fields.items() if k not in kept}), **{k: fields[k] for k in kept}}
    logger = get_logger()
    (logger.warning if level == logging.WARNING else logger.info)(event, **fields)


def _listened(level: int) -> bool:
    """Whether an event at ``level`` reaches anyone: structlog is configured, or the stdlib logger is enabled for it."""
    import structlog

    return structlog.is_configured() or _STDLIB_LOGGER.isEnabledFor(level)


def configure_logging(*, json: bool = False, level: int | str = "INFO") -> None:
    """Configure structlog and the standard library logging once, for applications.

    Parameters
    ----------
    json : bool, default=False
        ``True`` renders one JSON object per line (for log collectors);
        ``False`` renders readable console lines.
    level : int or str, default="INFO"
        Minimum level, applied to structlog events and to the standard-library
        loggers of the boosting libraries and MLflow, which are routed through
        the same renderer.

    Examples
    --------
    >>> from cvn_sklearn.events import configure_logging
    >>> configure_logging(json=True, level="WARNING")
    """
    import structlog

    level = logging.getLevelName(level) if isinstance(level, str) else level
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(level),
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
