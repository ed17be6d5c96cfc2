"""The one adapter: every registered model is a subclass of :class:`Adapter`.

A model file declares *what* its native model is (class path, library,
hyperparameters with their native names and defaults, whether it is iterative,
accepts NaN or pandas categories); the adapter does everything else once, the
same way for every library:

* a generated, explicit ``__init__`` whose keyword-only parameters are the
  native hyperparameters, so ``get_params``/``set_params``/``clone``/
  ``GridSearchCV`` and ``Pipeline`` parameter paths work;
* input validation, label encoding (``classes_`` holds the user's own labels
  of any dtype), ``n_features_in_`` and ``feature_names_in_``;
* class balancing (``class_weight``) turned into sample weights and combined
  with the user's ``sample_weight``;
* early stopping on the **last** rows, in order (time-series safe);
* pandas ``category`` columns passed to the library's native categorical
  support;
* the ``training_started`` / ``class_balance_applied`` / ``model_fit``
  events, with the same fields for every model (``training_complete``, with
  validation metrics and θ, is emitted once per run by
  :func:`cvn_sklearn.harness.train_one`).
"""

from __future__ import annotations

import importlib
from numbers import Integral, Real
from time import perf_counter
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_consistent_length, check_is_fitted, column_or_1d, validate_data

from cvn_sklearn._disk import plain
from cvn_sklearn._rows import last_rows, n_last_rows, take_rows
from cvn_sklearn._sklearn_compat import (
    Interval,
    InvalidParameterError,
    _openmp_effective_n_threads,
    StrOptions,
    _check_sample_weight,
    _fit_context,
)
from cvn_sklearn.events import emit, model_type
from cvn_sklearn.metrics import buy_pct

__all__ = ["Adapter", "THREAD_PARAMETERS", "UntrustedModelError", "categorical_columns"]

THREAD_PARAMETERS = ("n_jobs", "thread_count")
"""The native thread parameters a model may have (see :mod:`cvn_sklearn.threads`)."""

_COMMON_CONSTRAINTS = {
    "class_weight": [dict, StrOptions({"balanced"}), None],
    "params": [dict, None],
}
_ITERATIVE_CONSTRAINTS = {
    "early_stopping_rounds": [Interval(Integral, 1, None, closed="left"), None],
    "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
}


class UntrustedModelError(ValueError):
    """A model file that must not be loaded: a type that is not trusted, or state that is not data.

    Raised by :func:`cvn_sklearn.persist.load_artifact` (and re-exported
    there), and by :meth:`Adapter.__setstate__` when a file's instance state
    shadows what the class itself declares (which native class to import and
    how to build it).
    """


def categorical_columns(X) -> list:
    """Names of the pandas ``category`` columns of ``X`` (empty for arrays).

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"a": [1.0, 2.0], "sector": pd.Categorical(["x", "y"])})
    >>> categorical_columns(X)
    ['sector']
    """
    dtypes = getattr(X, "dtypes", None)
    if dtypes is None or not hasattr(dtypes, "items"):
        return []
    return [name for name, dtype in dtypes.items() if str(dtype) == "category"]


def _make_init(names: list[str], defaults: dict[str, Any]):
    """Build an explicit keyword-only ``__init__`` that only stores its arguments.

    Generated like :mod:`dataclasses` does, so ``inspect.signature`` (and hence
    ``get_params``) sees every native hyperparameter by name.
    """
    signature = ", ".join(f"{n}=__defaults[{n!r}]" for n in names)
    body = "\n".join(f"    self.{n} = {n}" for n in names) or "    pass"
    namespace = {"__defaults": defaults}
    exec(f"def __init__(self, *, {signature}):\n{body}\n", namespace)  # noqa: S102 - names are identifiers
    return namespace["__init__"]


def _import(path: str):
    """The object ``"module:name"`` names."""
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def _hyperparameter_constraints(cls) -> dict:
    """Each hyperparameter's constraint: the model file's ``parameter_constraints``, else scikit-learn's own.

    A scikit-learn native keeps scikit-learn's validation (its class's
    ``_parameter_constraints``); any other native must declare a constraint for
    every hyperparameter it names (``"no_validation"`` says so explicitly).
    """
    declared = cls.__dict__.get("parameter_constraints", {})
    native = _import(cls.native)._parameter_constraints if cls.native.startswith("sklearn.") else {}
    missing = [name for name in cls.hyperparameters if name not in declared and name not in native]
    if missing:
        raise TypeError(
            f"{cls.__name__} declares no constraint for the hyperparameters {missing}. Add them to its "
            "parameter_constraints (scikit-learn's Interval / StrOptions, see cvn_sklearn/models/xgboost.py), "
            "or 'no_validation' to say they are not checked."
        )
    return {name: declared.get(name, native.get(name)) for name in cls.hyperparameters}


class Adapter(ClassifierMixin, BaseEstimator):
    """Base class of every registered model.

    Subclasses declare class attributes; the constructor is generated from
    ``hyperparameters`` plus the common parameters below.

    Notes
    -----
    Class attributes declared by a model file:

    native : str
        ``"module:ClassName"`` of the native estimator, imported at fit time.
    library : str
        The distribution to ``pip install`` for it.
    import_name : str
        The module whose presence makes the model available.
    hyperparameters : dict
        Native hyperparameter names and their defaults.
    parameter_constraints : dict
        scikit-learn constraints (``Interval``, ``StrOptions``, types) of
        those hyperparameters, validated at the start of ``fit``. Not needed
        for a scikit-learn native, which keeps scikit-learn's own.
    iterative : bool
        Whether the model boosts in rounds and supports early stopping.
    allow_nan : bool
        Whether the native model accepts missing values.
    categorical : bool
        Whether the native model accepts pandas ``category`` columns.
    default_calibration : str
        The calibration method ``Calibrate(method="auto")`` uses for it.
    fit_cost : tuple
        Which constructor parameters multiply the work of one pass over the
        rows, e.g. ``("n_estimators", "num_leaves")``: read by
        :func:`cvn_sklearn.cost.fit_cost` to order the screening sweep's
        cells. Default ``()``, one pass.

    Parameters
    ----------
    class_weight : dict, "balanced" or None
        Turned into per-row weights with
        :func:`sklearn.utils.class_weight.compute_sample_weight` and multiplied
        with ``sample_weight``. The same implementation for every model.
    early_stopping_rounds : int or None (iterative models only)
        Stop when the validation loss has not improved for this many rounds.
    validation_fraction : float (iterative models only)
        Share of rows used for early stopping: the **last** rows, in order,
        never shuffled.
    params : dict or None
        Any other native hyperparameter, by its native name.

    Attributes
    ----------
    classes_, n_features_in_, feature_names_in_, native_, best_iteration_,
    n_estimators_final_, training_time_sec_, categorical_features_,
    rows_fit_ (rows the native model was fitted on), rows_early_stopping_
    (the last rows held back for early stopping; 0 without it)

    Examples
    --------
    A model file is a subclass like this one, decorated with
    ``@register_model("<name>")`` (left out here, to keep the registry as it is):

    >>> from sklearn.datasets import make_classification
    >>> from cvn_sklearn.adapter import Adapter
    >>> class NaiveBayes(Adapter):
    ...     native = "sklearn.naive_bayes:GaussianNB"
    ...     hyperparameters = dict(var_smoothing=1e-9)
    >>> X, y = make_classification(n_samples=200, random_state=0)
    >>> clf = NaiveBayes(var_smoothing=1e-6, class_weight="balanced").fit(X, y)
    >>> sorted(clf.get_params())
    ['class_weight', 'params', 'var_smoothing']
    >>> type(clf.native_).__name__, clf.best_iteration_, clf.classes_.tolist()
    ('GaussianNB', None, [0, 1])
    """

    native: ClassVar[str]
    library: ClassVar[str] = "scikit-learn"
    import_name: ClassVar[str] = "sklearn"
    hyperparameters: ClassVar[dict[str, Any]] = {}
    parameter_constraints: ClassVar[dict[str, list]] = {}
    iterative: ClassVar[bool] = False
    allow_nan: ClassVar[bool] = False
    categorical: ClassVar[bool] = False
    default_calibration: ClassVar[str] = "isotonic"
    fit_cost: ClassVar[tuple] = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "hyperparameters" not in cls.__dict__:
            return
        common = {"class_weight": None, "params": None}
        if cls.iterative:
            common |= {"early_stopping_rounds": None, "validation_fraction": 0.1}
        clash = set(common) & set(cls.hyperparameters)
        if clash:
            raise TypeError(f"{cls.__name__}.hyperparameters must not redefine the common parameters {sorted(clash)}")
        defaults = {**cls.hyperparameters, **common}
        cls.__init__ = _make_init(list(defaults), defaults)
        cls.__init__.__qualname__ = f"{cls.__qualname__}.__init__"
        cls._parameter_constraints = {
            **_hyperparameter_constraints(cls),
            **_COMMON_CONSTRAINTS,
            **(_ITERATIVE_CONSTRAINTS if cls.iterative else {}),
        }

    # -- hooks a model file may override ----------------------------------------------
    def _native_params(self, categorical: list) -> dict:
        """Keyword arguments for the native constructor.

        A thread parameter left at ``None`` (``n_jobs``, ``thread_count``) becomes
        the number of OpenMP threads this fit may use (scikit-learn's
        ``_openmp_effective_n_threads``: all cores, unless a caller capped them
        with ``threadpoolctl``, ``OMP_NUM_THREADS`` or joblib's workers), so a
        fit under a parallel caller does not take every core.
        """
        params = {**{n: getattr(self, n) for n in self.hyperparameters}, **(self.params or {})}
        threads = {name: _openmp_effective_n_threads() for name in THREAD_PARAMETERS if name in params
                   and params[name] is None}
        return params | threads

    def _check_params(self) -> None:
        """Refuse ``params`` the native library does not know (a typo would be silently ignored)."""

    def _fit_native(self, native, X, y, sample_weight, eval_set, categorical: list) -> None:
        """Fit ``native``; ``eval_set`` is ``(X_val, y_val, w_val)`` or None."""
        native.fit(X, y, sample_weight=sample_weight)

    def _native_X(self, X):
        """``X`` as the native model receives it, at fit and at predict.

        Category columns are matched by value to the categories seen at fit; a
        category unseen at fit becomes a missing value, the same for every library.
        """
        if not self.categorical_features_:
            return X
        X = X.copy()
        for column in self.categorical_features_:
            X[column] = X[column].cat.set_categories(self._fit_categories[column])
        return X

    def _rounds(self, native) -> tuple[int | None, int | None]:
        """``(best_iteration, n_estimators_final)`` of a fitted native model."""
        return None, getattr(native, "n_estimators", None)

    def _native_to_bytes(self, native):
        """The fitted native model in its library's own file format, as bytes.

        Used by pickling and :mod:`skops` (see ``__getstate__``), so no
        pickled booster object is ever stored. The default keeps the native
        object itself: scikit-learn natives are plain estimators that skops
        persists safely.
        """
        return native

    def _native_from_bytes(self, data):
        """Inverse of :meth:`_native_to_bytes`; ``self``'s parameters are already set."""
        return data

    # -- persistence: the native model travels in its own format ---------------------
    def __getstate__(self):
        state = super().__getstate__()
        if "native_" in state:
            state = {**state, "native_": self._native_to_bytes(state["native_"])}
        return state

    def __setstate__(self, state):
        """Restore from ``state`` (pickle, :mod:`skops`, ``copy``); the native model is rebuilt by the class's code.

        State that shadows a class-level attribute (``native``,
        ``hyperparameters``, a method, ...) is refused: which class is imported
        and how it is built come from the package, never from a file. The
        parameters are validated before the native model is rebuilt.

        Raises
        ------
        UntrustedModelError
            If ``state`` sets a class-level name, or holds invalid parameters.
        """
        shadowing = sorted(str(name) for name in state if not isinstance(name, str) or hasattr(type(self), name))
        if shadowing:
            raise UntrustedModelError(
                f"The saved state of {type(self).__name__} sets {shadowing}, which the class declares itself "
                "(what to import and how to build it); refusing to load it. cvn_sklearn never writes these, "
                "so the file was tampered with: load models only from a store you trust, and re-log this one."
            )
        super().__setstate__(state)
        try:
            self._validate_params()
        except InvalidParameterError as exc:
            raise UntrustedModelError(
                f"The saved state of {type(self).__name__} holds invalid parameters ({exc}); refusing to load it. "
                "Re-log the model from a fitted estimator."
            ) from None
        if "native_" in self.__dict__:
            self.native_ = self._native_from_bytes(self.native_)

    # -- fit ------------------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the native model.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Training rows, in time order when early stopping is used.
        y : array-like of shape (n_samples,)
            Labels of any dtype (strings, ``{-1, 1}``, bools, ...).
        sample_weight : array-like of shape (n_samples,), default=None
            Per-row weights, multiplied with the ``class_weight`` weights.
            Rows whose weight is zero are left out of the fit.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        started = perf_counter()
        # validated here too: a meta-estimator that skips nested validation must not let wrong values fit
        self._validate_params()
        overlap = set(self.params or {}) & (set(self.hyperparameters) | set(self._parameter_constraints))
        if overlap:
            raise ValueError(f"params repeats the constructor parameters {sorted(overlap)}; set them directly instead.")
        self._check_params()
        X, y = self._validate_fit_data(X, y)
        X = self._native_X(X)
        y_encoded = self._encode_labels(y)
        weights = self._combined_weights(y, y_encoded, sample_weight, X)
        keep = None if weights is None else weights > 0
        if keep is not None and not keep.all():
            X, y_encoded, weights = take_rows(X, keep), y_encoded[keep], weights[keep]
        if weights is not None and np.all(weights == 1.0):
            weights = None  # unit weights are no weights, for every library
        fit_idx, val_idx = self._early_stopping_split(len(y_encoded))
        held = np.unique(y_encoded[val_idx])
        if len(val_idx) and held.size < 2:
            raise ValueError(
                f"The last {len(val_idx)} rows held out for early stopping hold one class only "
                f"({self.classes_[held[0]]!r}), so the validation loss cannot tell when to stop (it would stop "
                "after the first round). Use a larger validation_fraction, more rows, or early_stopping_rounds=None."
            )
        self._emit_started(y_encoded, len(fit_idx), len(val_idx))

        native_cls = self._native_class()
        native = native_cls(**self._native_params(self.categorical_features_))
        if type(self).native.startswith("sklearn."):  # a scikit-learn native validates ``params`` too
            native._validate_params()
        eval_set = None
        if len(val_idx):
            eval_set = (take_rows(X, val_idx), y_encoded[val_idx], None if weights is None else weights[val_idx])
        self._fit_native(
            native,
            take_rows(X, fit_idx),
            y_encoded[fit_idx],
            None if weights is None else weights[fit_idx],
            eval_set,
            self.categorical_features_,
        )
        self.native_ = native
        self.rows_fit_, self.rows_early_stopping_ = len(fit_idx), len(val_idx)
        self.best_iteration_, self.n_estimators_final_ = self._rounds(native)
        if hasattr(native, "n_iter_"):
            self.n_iter_ = native.n_iter_
        self.training_time_sec_ = perf_counter() - started
        emit(
            "model_fit",
            model_type=model_type(self),
            n_estimators_final=self.n_estimators_final_,
            best_iteration=self.best_iteration_,
            training_time_sec=self.training_time_sec_,
            dataset_n_train=len(fit_idx),
            dataset_n_features=self.n_features_in_,
            class_dist_buy_pct=buy_pct(y_encoded, len(self.classes_) - 1),
        )
        return self

    def _native_class(self):
        try:
            return _import(type(self).native)
        except ImportError as exc:
            raise ImportError(
                f"{model_type(self)} needs the library {self.library!r}, which is not installed "
                f"({exc}). Install it with: pip install {self.library}"
            ) from exc

    def _validate_fit_data(self, X, y):
        categorical = categorical_columns(X)
        if categorical and not self.categorical:
            raise ValueError(
                f"{model_type(self)} does not support pandas 'category' columns natively; got {categorical}. "
                "Encode them first (e.g. OrdinalEncoder or OneHotEncoder in a Pipeline), or use a model with "
                "native categorical support: xgboost, lightgbm, catboost or hist_gb."
            )
        self.categorical_features_ = categorical
        if categorical:
            validate_data(self, X, y, skip_check_array=True)
            y = column_or_1d(y, warn=True)
            check_consistent_length(X, y)
            self._check_frame(X)
            self._fit_categories = {column: X[column].cat.categories for column in categorical}
        else:
            X, y = validate_data(self, X, y, dtype=np.float64, ensure_all_finite="allow-nan" if self.allow_nan else True)
        return X, y

    def _check_frame(self, X) -> None:
        """Validate a DataFrame with category columns without converting it."""
        if X.shape[0] == 0:
            raise ValueError(f"Found array with 0 sample(s) (shape={X.shape}) while a minimum of 1 is required.")
        numeric = X.drop(columns=self.categorical_features_)
        if numeric.shape[1]:
            values = np.asarray(numeric, dtype=np.float64)
            if np.isinf(values).any() or (not self.allow_nan and np.isnan(values).any()):
                raise ValueError("Input X contains infinity or NaN in a numeric column.")

    def _encode_labels(self, y) -> np.ndarray:
        check_classification_targets(y)
        encoder = LabelEncoder().fit(y)
        self.classes_ = encoder.classes_
        if len(self.classes_) < 2:
            raise ValueError(
                f"y contains only one class ({self.classes_[0]!r}); a classifier needs at least two classes. "
                "Check the labels, or the slice of rows you train on."
            )
        return encoder.transform(y)

    def _combined_weights(self, y, y_encoded, sample_weight, X):
        """The one class-balancing implementation: class weights x user weights."""
        user = None if sample_weight is None else _check_sample_weight(sample_weight, X)
        if user is not None and (user < 0).any():
            raise ValueError(
                f"sample_weight holds negative values (min {user.min():g}); weights must be >= 0. "
                "Give a row weight 0 to leave it out."
            )
        balance = None if self.class_weight is None else compute_sample_weight(self.class_weight, y)
        if balance is not None:
            counts = np.bincount(y_encoded, minlength=len(self.classes_))
            emit(
                "class_balance_applied",
                model_type=model_type(self),
                class_weight=self.class_weight if isinstance(self.class_weight, str) else "dict",
                weight_per_class={plain(c): float(balance[y_encoded == i][0]) for i, c in enumerate(self.classes_)},
                class_counts={plain(c): int(n) for c, n in zip(self.classes_, counts)},
                user_sample_weight=user is not None,
            )
        if user is None and balance is None:
            return None
        weights = np.ones(len(y_encoded)) if user is None else user.astype(np.float64)
        if balance is not None:
            weights = weights * balance
        weighted_classes = np.unique(y_encoded[weights > 0])
        if len(weighted_classes) < 2:
            raise ValueError(
                "Only one class has non-zero sample weight; a classifier needs at least two classes with weight > 0."
            )
        return weights

    def _early_stopping_split(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Fit rows and early-stopping rows: the last ``validation_fraction`` rows, in order."""
        rounds = getattr(self, "early_stopping_rounds", None)
        if rounds is None:
            return np.arange(n), np.arange(0)
        n_val = n_last_rows(n, self.validation_fraction)
        if n_val < 1 or n - n_val < 2:  # a stricter floor than last_rows': two rows to fit
            raise ValueError(
                f"early stopping needs both fit and validation rows: {n} rows with validation_fraction="
                f"{self.validation_fraction} leaves {n - n_val} to fit and {n_val} to validate. "
                "Pass more rows or set early_stopping_rounds=None."
            )
        return last_rows(n, self.validation_fraction, owner=model_type(self), what="early-stopping rows")

    def _emit_started(self, y_encoded, n_fit: int, n_val: int) -> None:
        emit(
            "training_started",
            model_type=model_type(self),
            dataset_n_train=n_fit,
            dataset_n_features=self.n_features_in_,
            n_classes=len(self.classes_),
            class_dist_buy_pct=buy_pct(y_encoded, len(self.classes_) - 1),
            early_stopping_rounds=getattr(self, "early_stopping_rounds", None),
            n_val_early_stopping=n_val,
        )

    # -- predict --------------------------------------------------------------------
    def _validate_predict_data(self, X):
        check_is_fitted(self)
        if self.categorical_features_:
            validate_data(self, X, reset=False, skip_check_array=True)
            if categorical_columns(X) != self.categorical_features_:
                raise ValueError(
                    f"X must have the same pandas 'category' columns as at fit time: expected "
                    f"{self.categorical_features_}, got {categorical_columns(X)}."
                )
            self._check_frame(X)  # the same numeric checks as at fit (infinity, NaN where not allowed)
            return self._native_X(X)
        return validate_data(
            self, X, reset=False, dtype=np.float64, ensure_all_finite="allow-nan" if self.allow_nan else True
        )

    def predict_proba(self, X):
        """Class probabilities, columns in the order of ``classes_``.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        X = self._validate_predict_data(X)
        return np.asarray(self.native_.predict_proba(X), dtype=np.float64).reshape(len(X), len(self.classes_))

    def predict(self, X):
        """Most probable class, in the user's own labels.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        return self._labels_from_proba(self.predict_proba(X))

    def _labels_from_proba(self, proba):
        """Labels from ``predict_proba`` output: the most probable class.

        The one decision rule of the adapter; ``predict`` applies it, and so
        may a caller holding probabilities it already computed (the
        ``fixed_params`` DAG does).
        """
        return self.classes_[np.argmax(proba, axis=1)]

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def __sklearn_is_fitted__(self) -> bool:
        # A fit that failed half-way (e.g. on a single class) leaves no native model.
        return hasattr(self, "native_")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = self.allow_nan
        tags.input_tags.categorical = self.categorical
        tags.input_tags.string = False
        return tags


