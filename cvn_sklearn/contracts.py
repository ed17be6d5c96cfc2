"""The payloads every consumer reads: :class:`Datasets` in, :class:`TrainedArtifact` out.

Notebooks, the screening sweep and scheduled retraining all hand the harness a
:class:`Datasets` and read back a :class:`TrainedArtifact`, whatever the model.
Both are frozen dataclasses. :class:`SplitMetrics` is defined next to the one
metrics function, :func:`cvn_sklearn.metrics.evaluate`, and re-exported here.

Examples
--------
>>> import numpy as np
>>> from cvn_sklearn.contracts import Datasets
>>> rng = np.random.RandomState(0)
>>> X, y = rng.normal(size=(100, 3)), np.tile([0, 1], 50)
>>> data = Datasets.temporal_split(X, y, val_size=0.2, test_size=0.2)
>>> data.shape().n_train, data.shape().n_val, data.shape().n_test
(60, 20, 20)
"""

from __future__ import annotations

import functools
import json
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from numbers import Real
from typing import Any, NamedTuple

import numpy as np

from cvn_sklearn._disk import fingerprint, plain
from cvn_sklearn._rows import check_aligned, last_rows, n_last_rows, take_rows
from cvn_sklearn.metrics import SplitMetrics, TradingMetrics, buy_label, buy_pct

__all__ = [
    "DatasetShape",
    "Datasets",
    "FeatureVersion",
    "ReliabilityBins",
    "Split",
    "SplitMetrics",
    "TrainedArtifact",
    "buy_column",
    "buy_proba",
    "code_commit",
    "confirmed_signal",
    "feature_set_hash",
    "meta_features",
    "take_rows",
]

_SPLITS = ("train", "val", "test")


def feature_set_hash(X) -> str:
    """SHA-256 of the feature set: column names and dtypes, in order.

    The values are not hashed (that would cost time proportional to the data
    and change with every new bar); the hash changes when a feature is added,
    removed, renamed, reordered or changes dtype. Arrays without column names
    hash as ``x0, x1, ...`` with their dtype.

    Parameters
    ----------
    X : DataFrame or array-like of shape (n_samples, n_features)

    Returns
    -------
    str
        64 hexadecimal characters.

    Examples
    --------
    >>> import pandas as pd
    >>> a = feature_set_hash(pd.DataFrame({"ret_1": [0.1], "vol_20": [0.2]}))
    >>> b = feature_set_hash(pd.DataFrame({"vol_20": [0.2], "ret_1": [0.1]}))
    >>> len(a), a == b
    (64, False)
    """
    names, dtypes = _columns(X)
    return fingerprint([f"{name}:{dtype}" for name, dtype in zip(names, dtypes)])


def code_commit(path: str | Path | None = None) -> str:
    """The git commit of the code at ``path``, or ``"unknown"`` outside a git checkout.

    A ``"+dirty"`` suffix marks uncommitted changes to tracked files, so a
    model trained on edited code is never mistaken for one trained on the commit.
    Resolved once per process and directory (``git`` runs on the first call
    only), so building many :class:`Datasets` starts no process.

    Parameters
    ----------
    path : str or Path, default=None
        A directory inside the repository; the working directory by default
        (the research project whose code builds the features and runs the
        training, not wherever cvn_sklearn is installed).

    Returns
    -------
    str

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as empty:
    ...     code_commit(empty)
    'unknown'
    """
    return _commit_at((Path(path) if path is not None else Path.cwd()).resolve())


@functools.lru_cache(maxsize=None)
def _commit_at(cwd: Path) -> str:
    try:
        commit = _git(cwd, "rev-parse", "HEAD")
        dirty = _git(cwd, "status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


def _git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True, timeout=10)
    return done.stdout.strip()


def _columns(X) -> tuple[list[str], list[str]]:
    """Column names and dtype names of a DataFrame or a 2-D array."""
    if hasattr(X, "columns") and hasattr(X, "dtypes"):
        return [str(c) for c in X.columns], [str(d) for d in X.dtypes]
    array = np.asarray(X)
    if array.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features), got shape {array.shape}.")
    return [f"x{i}" for i in range(array.shape[1])], [str(array.dtype)] * array.shape[1]


@dataclass(frozen=True)
class FeatureVersion:
    """Which code and which feature set produced a model.

    Attributes
    ----------
    code_commit : str
        Git commit of the code (``"+dirty"`` with uncommitted changes,
        ``"unknown"`` outside git); see :func:`code_commit`.
    feature_set_hash : str
        See :func:`feature_set_hash`.
    feature_store_hash : str or None
        Version of the upstream feature store snapshot, when there is one.

    Examples
    --------
    >>> import pandas as pd
    >>> version = FeatureVersion.of(pd.DataFrame({"ret_1": [0.1]}), commit="abc123")
    >>> version.to_dict()["code_commit"], len(version.feature_set_hash)
    ('abc123', 64)
    """

    code_commit: str
    feature_set_hash: str
    feature_store_hash: str | None = None

    @classmethod
    def of(cls, X, *, commit: str | None = None, feature_store_hash: str | None = None) -> FeatureVersion:
        """The version of the features ``X`` under the current code.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
        commit : str, default=None
            The code commit; read from git (:func:`code_commit`) when ``None``.
        feature_store_hash : str, default=None
            Version of the feature store snapshot ``X`` came from.

        Returns
        -------
        FeatureVersion
        """
        return cls(commit if commit is not None else code_commit(), feature_set_hash(X), feature_store_hash)

    def to_dict(self) -> dict[str, str | None]:
        """Return the fields as a flat ``dict`` (logged as MLflow tags)."""
        return asdict(self)


@dataclass(frozen=True)
class DatasetShape:
    """Sizes and class balance of the data a model saw; no rows, only counts.

    Attributes
    ----------
    n_train, n_val, n_test : int
        Rows per split.
    n_features : int
    buy_pct_train, buy_pct_val, buy_pct_test : float
        Share of the buy label (see :func:`~cvn_sklearn.metrics.buy_label`) per split, in percent.
    rows_fit : int or None
        Rows the model itself was fitted on: every ``train`` row but the
        early-stopping rows. ``None`` until a model is trained.
    rows_early_stopping : int or None
        The last ``train`` rows held back for early stopping (0 without it).
    rows_calibration, rows_theta : int or None
        Rows the calibrator and θ were fitted on: the ``val`` rows, shared
        (0 when that stage does not run).
    rows_test : int or None
        Rows only scored.
    """

    n_train: int
    n_val: int
    n_test: int
    n_features: int
    buy_pct_train: float
    buy_pct_val: float
    buy_pct_test: float
    rows_fit: int | None = None
    rows_early_stopping: int | None = None
    rows_calibration: int | None = None
    rows_theta: int | None = None
    rows_test: int | None = None

    def to_dict(self) -> dict[str, int | float]:
        """Return the fields as a flat ``dict``."""
        return asdict(self)


@dataclass(frozen=True)
class ReliabilityBins:
    """The reliability diagram of P(buy) on one split, as per-bin counts: no rows.

    The bins are the ``n_bins`` equal-width bins of
    :func:`~cvn_sklearn.metrics.expected_calibration_error` (a row with
    probability ``p`` is in the bin ``(edge_b, edge_b+1]``). Counts and means
    are all a reliability diagram and the ECE depend on, so an artifact can
    carry its validation diagram without carrying validation rows.

    Attributes
    ----------
    count : tuple of int
        Rows per bin.
    positives : tuple of int
        Buy rows per bin.
    mean_proba : tuple of float
        Mean P(buy) per bin (0.0 for an empty bin).

    Examples
    --------
    >>> bins = ReliabilityBins.of([0, 1, 1, 0], [0.1, 0.8, 0.85, 0.3], n_bins=2)
    >>> bins.count, bins.positives
    ((2, 2), (0, 2))
    """

    count: tuple[int, ...]
    positives: tuple[int, ...]
    mean_proba: tuple[float, ...]

    @classmethod
    def of(cls, is_buy, proba, *, n_bins: int = 10) -> ReliabilityBins:
        """Summarise 0/1 buy labels and P(buy) into ``n_bins`` bins.

        Parameters
        ----------
        is_buy : array-like of shape (n_samples,)
            1 (or ``True``) for buy rows.
        proba : array-like of shape (n_samples,)
            P(buy).
        n_bins : int, default=10

        Returns
        -------
        ReliabilityBins
        """
        is_buy, proba = np.asarray(is_buy, dtype=np.float64), np.asarray(proba, dtype=np.float64)
        bins = np.searchsorted(np.linspace(0.0, 1.0, n_bins + 1)[1:-1], proba)
        count = np.bincount(bins, minlength=n_bins)
        total = np.bincount(bins, weights=proba, minlength=n_bins)
        mean = np.divide(total, count, out=np.zeros(n_bins), where=count > 0)
        positives = np.bincount(bins, weights=is_buy, minlength=n_bins)
        return cls(tuple(int(c) for c in count), tuple(int(round(k)) for k in positives), tuple(float(m) for m in mean))

    def rows(self) -> tuple[np.ndarray, np.ndarray]:
        """Representative ``(is_buy, proba)`` rows with exactly these bins.

        Each bin becomes ``count`` rows at its mean probability, ``positives``
        of them buys: the reliability curve and the ECE of these rows equal
        those of the rows summarised, so
        :func:`cvn_sklearn.plots.reliability_diagram` can draw them.

        Returns
        -------
        is_buy : ndarray of int of shape (n,)
        proba : ndarray of float of shape (n,)
        """
        proba = np.repeat(self.mean_proba, self.count)
        is_buy = np.concatenate(
            [np.r_[np.ones(k, dtype=int), np.zeros(n - k, dtype=int)] for n, k in zip(self.count, self.positives)]
        )
        return is_buy, proba


class Split(NamedTuple):
    """One split: features, labels and optional per-row forward returns."""

    X: Any
    y: Any
    returns: Any = None


@dataclass(frozen=True)
class Datasets:
    """Train, validation and test splits, validated once on construction.

    Each split is ``(X, y)`` or ``(X, y, returns)``; it is stored as a
    :class:`Split`. The model is fitted on ``train``, calibration and θ are
    tuned on ``val``, and ``test`` is only scored.

    Parameters
    ----------
    train, val, test : tuple
        ``(X, y)`` or ``(X, y, returns)``, aligned row by row: equal lengths,
        and for pandas parts the same index as ``X``.
    feature_version : FeatureVersion, default=None
        Computed from ``train``'s columns and the git commit when ``None``.
    periods_per_year : float, default=252
        Rows per year, to annualise the trading metrics of the splits' returns
        (252 for daily bars).

    Raises
    ------
    ValueError
        If a split is empty, its parts are not aligned, the splits do not have
        the same columns, only some splits carry returns, or (for pandas
        inputs with sorted indexes) a ``train`` row comes after a ``val`` row
        or a ``val`` row after a ``test`` row.

    Examples
    --------
    >>> import numpy as np
    >>> X, y = np.zeros((10, 2)), np.tile([0, 1], 5)
    >>> data = Datasets(train=(X[:6], y[:6]), val=(X[6:8], y[6:8]), test=(X[8:], y[8:]))
    >>> data.val.X.shape
    (2, 2)
    >>> Datasets(train=(X, y), val=(X[:2], y[:3]), test=(X, y))
    Traceback (most recent call last):
    ...
    ValueError: Datasets.val: X has 2 rows but y has 3; they must be aligned row by row (one y value per row of X).
    """

    train: Split
    val: Split
    test: Split
    feature_version: FeatureVersion | None = None
    periods_per_year: float = 252.0

    def __post_init__(self):
        for name in _SPLITS:
            object.__setattr__(self, name, _check_split(name, getattr(self, name)))
        _check_same_columns(self.train.X, self.val.X, self.test.X)
        _check_time_order(self.train.X, self.val.X, self.test.X)
        if len({split.returns is None for split in self.splits()}) > 1:
            raise ValueError("Datasets: pass returns for every split or for none of them.")
        if not (isinstance(self.periods_per_year, Real) and self.periods_per_year > 0):
            raise ValueError(f"Datasets: periods_per_year must be a positive number, got {self.periods_per_year!r}.")
        if self.feature_version is None:
            object.__setattr__(self, "feature_version", FeatureVersion.of(self.train.X))

    def splits(self) -> tuple[Split, Split, Split]:
        """``(train, val, test)``."""
        return self.train, self.val, self.test

    @property
    def has_returns(self) -> bool:
        """Whether the splits carry per-row forward returns."""
        return self.train.returns is not None

    def labels(self) -> np.ndarray:
        """The distinct labels over every split."""
        return np.unique(np.concatenate([np.unique(np.asarray(split.y)) for split in self.splits()]))

    def shape(self, pos_label=None) -> DatasetShape:
        """Row counts and class balance, as a :class:`DatasetShape`.

        Parameters
        ----------
        pos_label : scalar, default=None
            The buy label; ``None`` follows :func:`~cvn_sklearn.metrics.buy_label`.

        Returns
        -------
        DatasetShape
        """
        buy = buy_label(self.labels(), pos_label)
        pct = [buy_pct(split.y, buy) for split in self.splits()]
        return DatasetShape(len(self.train.y), len(self.val.y), len(self.test.y), _n_features(self.train.X), *pct)

    @classmethod
    def temporal_split(
        cls, X, y, *, returns=None, val_size=0.15, test_size=0.15, feature_version=None, periods_per_year=252.0
    ) -> Datasets:
        """Cut rows in time order: the oldest for train, then val, the newest for test.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Rows in time order.
        y : array-like of shape (n_samples,)
            Aligned with ``X``: same length, and the same index when both are pandas.
        returns : array-like of shape (n_samples,), default=None
            Per-row forward returns, aligned with ``X`` likewise.
        val_size, test_size : float, default=0.15
            Shares of all rows for validation and test, each in (0, 1), rounded
            up to whole rows.
        feature_version : FeatureVersion, default=None
        periods_per_year : float, default=252
            See :class:`Datasets`.

        Returns
        -------
        Datasets

        Raises
        ------
        ValueError
            If the shares are out of range or leave a split empty, or ``y`` /
            ``returns`` are not aligned with ``X`` (different lengths, or
            different pandas indexes): rows are never paired by position.

        Examples
        --------
        >>> import numpy as np
        >>> Datasets.temporal_split(np.zeros((600, 2)), np.zeros(500))
        Traceback (most recent call last):
        ...
        ValueError: Datasets.temporal_split: X has 600 rows but y has 500; they must be aligned row by row (one y value per row of X).
        """
        if not (0 < val_size < 1 and 0 < test_size < 1 and val_size + test_size < 1):
            raise ValueError(
                f"val_size and test_size must be in (0, 1) with a sum below 1, got {val_size}, {test_size}."
            )
        check_aligned("Datasets.temporal_split", X, y=y, returns=returns)
        n = len(X)
        n_test, n_val = n_last_rows(n, test_size), n_last_rows(n, val_size)
        rest, test = last_rows(n, n_test / n, owner="Datasets.temporal_split", what="test rows")
        train, val = last_rows(len(rest), n_val / len(rest), owner="Datasets.temporal_split", what="validation rows")
        pieces = [
            Split(take_rows(X, rows), take_rows(y, rows), None if returns is None else take_rows(returns, rows))
            for rows in (train, val, test)
        ]
        return cls(*pieces, feature_version=feature_version, periods_per_year=periods_per_year)


def _check_split(name: str, split) -> Split:
    if not isinstance(split, tuple) or len(split) not in (2, 3):
        raise TypeError(f"Datasets.{name} must be a tuple (X, y) or (X, y, returns), got {type(split).__name__}.")
    split = Split(*split)
    if len(split.X) == 0:
        raise ValueError(f"Datasets.{name} is empty; every split needs at least one row.")
    check_aligned(f"Datasets.{name}", split.X, y=split.y, returns=split.returns)
    return split


def _check_time_order(*frames) -> None:
    """Refuse train rows after val rows, or val rows after test rows, when pandas indexes tell the time."""
    indexes = [getattr(X, "index", None) for X in frames]
    if any(index is None or not index.is_monotonic_increasing for index in indexes):
        return
    for (earlier, later), (a, b) in zip((("train", "val"), ("val", "test")), zip(indexes, indexes[1:])):
        try:
            after = a[-1] >= b[0]
        except TypeError:
            return
        if after:
            raise ValueError(
                f"Datasets: the last {earlier} row ({a[-1]!r}) is not before the first {later} row ({b[0]!r}); "
                f"a model would learn from rows after the ones it is scored on. Split in time order "
                f"(Datasets.temporal_split, or cvn_sklearn.model_selection.WalkForwardSplit)."
            )


def _check_same_columns(*frames) -> None:
    columns = [[str(c) for c in X.columns] if hasattr(X, "columns") else _n_features(X) for X in frames]  # no dtypes
    for name, found in zip(_SPLITS[1:], columns[1:]):
        if found != columns[0]:
            raise ValueError(
                f"Datasets.{name} does not have the same columns as Datasets.train: {found!r} vs {columns[0]!r}. "
                "Build every split from the same feature table."
            )


def _n_features(X) -> int:
    return len(_columns(X)[0])


@dataclass(frozen=True)
class TrainedArtifact:
    """The result of one training run: what every consumer reads, for every model.

    It holds the fitted estimator and summaries of the data (counts, hashes,
    metrics), never the rows themselves.

    Attributes
    ----------
    model_name : str
        The registry name.
    estimator : estimator
        The fitted estimator (calibrated and thresholded unless trained raw).
    metrics_val, metrics_test : SplitMetrics
        :func:`cvn_sklearn.metrics.evaluate` at ``threshold`` on val and test.
    threshold : float
        θ: a row is a buy when calibrated P(buy) >= θ.
    selected_features : tuple of str
        The feature names the estimator uses, in order.
    hyperparams : dict
        The model's hyperparameters (``estimator.get_params()`` of the model).
    training_time_sec : float
        Wall-clock time of the whole fit (model, calibration, θ).
    dataset_shape : DatasetShape
    feature_version : FeatureVersion
    cusum_metadata : dict or None
        Scalars describing a CUSUM event filter applied upstream, if any.
    meta_label_model : estimator or None
        Secondary classifier deciding whether to take a primary buy signal:
        trained on the validation rows where the primary model said buy, to
        predict whether that buy was right (see :meth:`predict`).
    reliability_val : ReliabilityBins or None
        The validation reliability diagram as per-bin counts (logged as
        ``plots/reliability_val.png`` by :func:`cvn_sklearn.persist.log_artifact`).
        Not part of :meth:`to_dict`, which stays flat.
    pos_label : scalar or None
        The buy label the run was given (``None``: the rule of
        :func:`~cvn_sklearn.metrics.buy_label`, 1 for ``{0, 1}`` labels).
    trading_val, trading_test : TradingMetrics or None
        :func:`~cvn_sklearn.metrics.trading_metrics` of the buy signal on each
        split's returns, when the data carry returns.

    Examples
    --------
    Built by :func:`cvn_sklearn.harness.train_one`:

    >>> import numpy as np
    >>> from cvn_sklearn.contracts import Datasets
    >>> from cvn_sklearn.harness import train_one
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(300, 3)); y = (X[:, 0] + rng.normal(size=300) > 0).astype(int)
    >>> artifact = train_one("logreg", Datasets.temporal_split(X, y), calibration="sigmoid")
    >>> flat = artifact.to_dict()
    >>> flat["model_name"], flat["n_train"], flat["threshold"] == artifact.threshold
    ('logreg', 210, True)
    >>> artifact.metrics_val.n, sum(artifact.reliability_val.count)
    (45, 45)
    """

    model_name: str
    estimator: Any
    metrics_val: SplitMetrics
    metrics_test: SplitMetrics
    threshold: float
    selected_features: tuple[str, ...]
    hyperparams: dict
    training_time_sec: float
    dataset_shape: DatasetShape
    feature_version: FeatureVersion
    cusum_metadata: dict | None = None
    meta_label_model: Any = field(default=None, repr=False)
    reliability_val: ReliabilityBins | None = field(default=None, repr=False)
    pos_label: Any = None
    trading_val: TradingMetrics | None = None
    trading_test: TradingMetrics | None = None

    def __post_init__(self):
        for name in ("hyperparams", "cusum_metadata"):
            for key, value in (getattr(self, name) or {}).items():
                if hasattr(value, "shape") and np.ndim(value) > 0:
                    raise ValueError(
                        f"TrainedArtifact.{name}[{key!r}] is an array; an artifact holds summaries, never data rows."
                    )

    def to_dict(self) -> dict[str, Any]:
        """One flat ``dict`` of plain values: no estimator, no nesting.

        Metrics are prefixed ``val_`` / ``test_``, hyperparameters ``param_``,
        CUSUM metadata ``cusum_``; ``selected_features`` is a JSON list.

        Returns
        -------
        dict
        """
        flat = {
            "model_name": self.model_name,
            "pos_label": _flat(self.pos_label),
            "threshold": self.threshold,
            "training_time_sec": self.training_time_sec,
            "selected_features": json.dumps(list(self.selected_features)),
            "meta_label": self.meta_label_model is not None,
            **self.dataset_shape.to_dict(),
            **self.feature_version.to_dict(),
        }
        for prefix, metrics in (("val_", self.metrics_val), ("test_", self.metrics_test)):
            flat |= _prefixed(prefix, metrics.to_dict())
        for prefix, trading in (("val_", self.trading_val), ("test_", self.trading_test)):
            flat |= _prefixed(prefix, {} if trading is None else trading.to_dict())
        return flat | _prefixed("param_", self.hyperparams) | _prefixed("cusum_", self.cusum_metadata or {})

    @property
    def buy_label(self):
        """The buy label among the estimator's ``classes_``."""
        return buy_label(self.estimator.classes_, self.pos_label)

    def predict(self, X):
        """Buy signals: the estimator's own ``predict`` is the buy label, confirmed by the meta-label model if any.

        θ is applied in one place, the estimator's ``predict`` (for a
        calibrated and thresholded estimator: calibrated P(buy) >= θ). With a
        meta-label model, a primary buy is kept only where the meta-label model
        predicts it is a true positive; its input is ``X`` plus the primary
        P(buy) as the last column (see :func:`meta_features`).

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)

        Returns
        -------
        signal : ndarray of int of shape (n_samples,)
            1 = buy.
        """
        signal = np.asarray(self.estimator.predict(X)) == self.buy_label
        proba = None
        if self.meta_label_model is not None and signal.any():
            proba = np.zeros(len(signal))
            proba[signal] = buy_proba(self.estimator, take_rows(X, signal), self.buy_label)
        return confirmed_signal(self.meta_label_model, X, signal, proba)


def confirmed_signal(meta_label_model, X, signal, proba) -> np.ndarray:
    """The primary buy ``signal`` (booleans) kept where ``meta_label_model`` confirms it, as 0/1 ints.

    ``proba`` is the primary P(buy) of the rows of ``X`` (only the rows of
    ``signal`` are read); without a meta-label model the signal is returned as
    is. :meth:`TrainedArtifact.predict` ends here, and so does the
    ``fixed_params`` DAG's ``buy_signal_test``, from probabilities it already has.
    """
    signal = np.array(signal, dtype=bool)
    if meta_label_model is not None and signal.any():
        confirmed = meta_label_model.predict(meta_features(take_rows(X, signal), np.asarray(proba)[signal]))
        signal[signal] = confirmed == 1
    return signal.astype(int)


def buy_column(estimator, buy) -> int:
    """The column of ``estimator.predict_proba`` that holds P(``buy``)."""
    classes = list(estimator.classes_)
    if buy not in classes:
        raise ValueError(f"The buy label {buy!r} is not one of the model's classes {classes}.")
    return classes.index(buy)


def buy_proba(estimator, X, buy) -> np.ndarray:
    """P(``buy``) from a fitted binary classifier: the ``predict_proba`` column of the buy label.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> model = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], ["hold", "buy", "hold", "buy"])
    >>> bool(np.allclose(buy_proba(model, [[1.0]], "buy"), model.predict_proba([[1.0]])[:, 0]))
    True
    """
    return estimator.predict_proba(X)[:, buy_column(estimator, buy)]


def meta_features(X, proba):
    """The meta-label model's input: ``X`` with the primary P(buy) appended as column ``primary_proba``.

    Parameters
    ----------
    X : DataFrame or array-like of shape (n_samples, n_features)
    proba : array-like of shape (n_samples,)

    Returns
    -------
    DataFrame or ndarray of shape (n_samples, n_features + 1)

    Examples
    --------
    >>> import numpy as np
    >>> meta_features(np.zeros((2, 3)), [0.7, 0.9]).shape
    (2, 4)
    """
    if hasattr(X, "assign"):
        return X.assign(primary_proba=np.asarray(proba, dtype=np.float64))
    return np.column_stack([np.asarray(X, dtype=np.float64), proba])


def _prefixed(prefix: str, values: dict) -> dict:
    return {f"{prefix}{key}": _flat(value) for key, value in values.items()}


def _flat(value):
    """``value`` if it is a scalar, else its JSON text (so ``to_dict`` stays flat)."""
    value = plain(value)
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    return json.dumps(value, default=str, sort_keys=True)
