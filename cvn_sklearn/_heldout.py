"""The held-out core of the meta-estimators: :class:`BaseHeldOutClassifier` and its helpers.

:class:`~cvn_sklearn.Calibrate`, :class:`~cvn_sklearn.ThetaSweep` and
:class:`~cvn_sklearn.CalibratedThetaClassifier` derive from
:class:`BaseHeldOutClassifier` (as scikit-learn's threshold classifiers derive
from ``BaseThresholdClassifier``): it validates and encodes the target once per
public ``fit``, applies the one buy-label rule
(:func:`cvn_sklearn.metrics.buy_label`), and delegates ``classes_`` and
``predict_proba``; each subclass writes only its ``_fit``. This module also
declares the θ parameters once (:data:`THETA_PARAMETERS`), and holds the
temporal splits and routing the three share, so they cut and route their data
the same way.
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import NamedTuple

import numpy as np
from sklearn import get_config
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import check_cv
from sklearn.utils import get_tags
from sklearn.utils.metadata_routing import MetadataRouter, MethodMapping, process_routing
from sklearn.utils.validation import check_is_fitted, column_or_1d, indexable

from cvn_sklearn._rows import last_rows
from cvn_sklearn._sklearn_compat import (
    HasMethods,
    Interval,
    StrOptions,
    _check_method_params,
    _fit_context,
    _num_samples,
    _routing_enabled,
    _safe_indexing,
    fit_requests,
)
from cvn_sklearn.metrics import binary_classes, buy_label

OBJECTIVES = ("f1", "fbeta", "precision_at_recall", "expected_return", "sortino")

THETA_PARAMETERS = {
    "objective": ("f1", [StrOptions(set(OBJECTIVES))]),
    "beta": (1.0, [Interval(Real, 0, None, closed="neither")]),
    "min_recall": (0.2, [Interval(Real, 0, 1, closed="both")]),
    "min_positives": (1, [Interval(Integral, 1, None, closed="left")]),
    "max_positive_rate": (None, [Interval(Real, 0, 1, closed="right"), None]),
    "max_positive_rate_ratio": (1.0, [Interval(Real, 0, None, closed="neither"), None]),
    "pos_label": (None, [Real, str, "boolean", None]),
    "cost": (0.0, [Interval(Real, 0, None, closed="left")]),
    "edge_test": ("auc", [StrOptions({"auc"}), None]),
    "edge_alpha": (0.05, [Interval(Real, 0, 1, closed="neither")]),
}
"""THE declaration of the θ parameters: ``name -> (default, scikit-learn constraints)``.

:class:`~cvn_sklearn.ThetaSweep`, :class:`~cvn_sklearn.CalibratedThetaClassifier`,
:func:`~cvn_sklearn.theta_sweep`, :class:`~cvn_sklearn.threshold.ThetaConstraints`,
:func:`~cvn_sklearn.make_pipeline` and the harness read their defaults and
checks from here.
"""
THETA_DEFAULTS = {name: default for name, (default, _) in THETA_PARAMETERS.items()}
THETA_PARAMETER_CONSTRAINTS = {name: constraints for name, (_, constraints) in THETA_PARAMETERS.items()}
THETA_CONSTRAINTS = tuple(name for name in THETA_PARAMETERS if name not in ("objective", "pos_label"))
"""The θ constraints, objective parameters, cost and edge test, as the harness and the sweep accept them."""


def theta_params(owner) -> dict:
    """An estimator's θ parameters (the keys of :data:`THETA_PARAMETERS`) as a ``dict``."""
    return {name: getattr(owner, name) for name in THETA_PARAMETERS}


def check_theta_names(names, known=THETA_CONSTRAINTS, what="θ constraints") -> None:
    """Raise a ``ValueError`` naming the entries of ``names`` that are not in ``known``."""
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise ValueError(f"Unknown {what} {unknown}; the known ones are {list(known)}.")


def default_estimator(estimator):
    """Return ``estimator``, or a fresh ``LogisticRegression()`` when it is ``None``."""
    return LogisticRegression() if estimator is None else estimator


def model_type(estimator) -> str:
    """Name of the model for events: its registry name, else its class name, inside any wrappers.

    ``ThetaSweep(Calibrate(FrozenEstimator(lgbm)))`` reports ``"lightgbm"``.
    """
    while getattr(estimator, "estimator", None) is not None:
        estimator = estimator.estimator
    return getattr(type(estimator), "_cvn_name", type(estimator).__name__)


class BinaryTarget(NamedTuple):
    """A validated binary target: the labels, their two classes, and 0/1 with 1 = ``classes[1]``."""

    y: np.ndarray
    classes: np.ndarray
    y01: np.ndarray


def binary_target(y, owner, sample_weight=None) -> BinaryTarget:
    """Validate the target of a meta-estimator's ``fit`` (once, in :meth:`BaseHeldOutClassifier.fit`).

    The labels go through :func:`cvn_sklearn.metrics.binary_classes`, the one
    binary-target validator; both classes must occur (among the rows with
    non-zero ``sample_weight``).

    Raises
    ------
    ValueError
        For a continuous target ("Unknown label type"), one class, or more than two.
    """
    y, classes = binary_classes(y, owner)
    if classes.size < 2:
        raise ValueError(
            f"{owner} needs both classes in y, got one class only ({classes.tolist()}). Check the labelling, "
            "or use a longer training window so both classes occur."
        )
    y01 = (y == classes[1]).astype(np.int8)
    if sample_weight is not None and 0 in (np.dot(sample_weight, y01), np.dot(sample_weight, 1 - y01)):
        raise ValueError(f"{owner}: only one class has non-zero sample_weight; both classes need weight > 0.")
    return BinaryTarget(y, classes, y01)


def held_out_splits(estimator, X, y, cv, splitter_params, *, owner, what):
    """Return the (fit rows, held-out rows) pairs for ``cv``.

    A :class:`~sklearn.frozen.FrozenEstimator` is already fitted: every row is
    held out. A float is a temporal hold-out of the last share of the rows.
    Anything else goes through :func:`sklearn.model_selection.check_cv`.
    """
    n_samples = _num_samples(X)
    if isinstance(estimator, FrozenEstimator):
        return [(np.arange(n_samples), np.arange(n_samples))]
    if is_holdout_share(cv):
        return [last_rows(n_samples, cv, owner=owner, what=what)]
    return list(check_cv(cv, y, classifier=True).split(X, y, **splitter_params))


class SameRows:
    """A splitter with one split whose fit rows and held-out rows are every row.

    For a frozen model (:class:`~sklearn.frozen.FrozenEstimator`) nothing is
    learned from the fit rows but the calibrator, so
    :class:`~cvn_sklearn.CalibratedThetaClassifier` calibrates and tunes θ on
    the same rows: ``ThetaSweep(Calibrate(frozen), cv=SameRows())``.

    Examples
    --------
    >>> list(SameRows().split([[0], [1], [2]]))
    [(array([0, 1, 2]), array([0, 1, 2]))]
    """

    def split(self, X, y=None, groups=None):
        """Yield ``(every row, every row)`` once."""
        rows = np.arange(_num_samples(X))
        yield rows, rows

    def get_n_splits(self, X=None, y=None, groups=None):
        """1."""
        return 1

    def __repr__(self):
        return "SameRows()"


def every_row(rows, n_samples) -> bool:
    """Whether ``rows`` are all ``n_samples`` rows in order (cutting them would copy ``X`` for nothing)."""
    return len(rows) == n_samples and bool(np.all(np.asarray(rows) == np.arange(n_samples)))


def rows_of(values, rows):
    """``values`` cut to ``rows``; ``values`` itself when ``rows`` are every row in order."""
    return values if every_row(rows, _num_samples(values)) else _safe_indexing(values, rows)


def fit_on_rows(estimator, X, target, rows, fit_params):
    """Fit ``estimator`` on ``rows`` of ``X`` and the validated ``target``, slicing per-row fit parameters alike.

    A :class:`BaseHeldOutClassifier` given every row is fitted through its
    validated-data path (:meth:`BaseHeldOutClassifier._fit_validated`): the
    target is not validated again. Returns the fitted estimator and, when it
    held out every row, its held-out ``predict_proba`` (else ``None``).
    """
    if isinstance(estimator, BaseHeldOutClassifier) and every_row(rows, _num_samples(X)):
        if not get_config()["skip_parameter_validation"]:
            estimator._validate_params()
        return estimator, estimator._fit_validated(X, target, fit_params)
    params = fit_params if every_row(rows, _num_samples(X)) else _check_method_params(X, fit_params, indices=rows)
    return estimator.fit(rows_of(X, rows), rows_of(target.y, rows), **params), None


def check_two_classes(estimator):
    """Raise a clear ``ValueError`` when a fitted model saw one class only (no P(positive) to calibrate)."""
    if len(estimator.classes_) != 2:
        raise ValueError(
            f"{model_type(estimator)} was fitted on rows holding one class only "
            f"({list(estimator.classes_)}), so its probabilities cannot be calibrated or "
            "thresholded. Use more rows, or a split whose training part holds both classes."
        )


def positive_proba(estimator, X) -> np.ndarray:
    """P(positive class) from a fitted binary classifier: ``predict_proba(X)[:, 1]``."""
    check_two_classes(estimator)
    return estimator.predict_proba(X)[:, 1]


def fit_and_predict(estimator, X, target, train, test, fit_params):
    """Fit on ``train`` rows; return the fitted estimator and its ``predict_proba`` on ``test`` rows.

    When the estimator held out ``test`` rows itself while fitting (a
    :class:`BaseHeldOutClassifier` around a frozen model), its held-out
    probabilities are those: nothing is predicted twice.
    """
    fitted, held_out = fit_on_rows(estimator, X, target, train, fit_params)
    check_two_classes(fitted)
    if held_out is not None and every_row(test, len(held_out)):
        return fitted, held_out
    return fitted, fitted.predict_proba(rows_of(X, test))


def route_fit_params(owner, params, returns=None):
    """Split ``owner.fit(returns=returns, **params)`` between the inner estimator, the splitter and ``owner``.

    Returns ``(estimator fit params, splitter split params, own)``, where
    ``own`` maps ``"sample_weight"`` and ``"returns"`` to what ``owner`` uses
    itself (for its calibrator or θ objective). With metadata routing enabled
    this is :func:`sklearn.utils.metadata_routing.process_routing`, and
    ``owner`` ignores what it is set not to request. Without it, every entry of
    ``params`` goes to the inner estimator's ``fit`` (like
    :class:`~sklearn.calibration.CalibratedClassifierCV`), the splitter gets
    none, and ``owner`` uses ``sample_weight`` and ``returns`` too.
    """
    own = {"sample_weight": params.get("sample_weight"), "returns": returns}
    if not _routing_enabled():
        return dict(params), {}, own
    routed = process_routing(owner, "fit", **params, **({} if returns is None else {"returns": returns}))
    requests = fit_requests(owner)
    own = {name: None if requests.get(name) is False else value for name, value in own.items()}
    # .get, not ``in``: with no metadata at all, process_routing returns an object whose
    # __getitem__ never raises, so ``"splitter" in routed`` would iterate forever
    splitter = routed.get("splitter")
    splitter = {} if splitter is None else splitter.split
    return routed.estimator.fit, splitter, own


def take(values, rows):
    """``values[rows]`` for an optional per-row array (``None`` stays ``None``)."""
    return None if values is None else np.asarray(rows_of(values, rows))


def is_holdout_share(cv) -> bool:
    """Whether ``cv`` is a float share of rows for a temporal hold-out (not a splitter)."""
    return isinstance(cv, Real) and not isinstance(cv, Integral)


def meta_router(owner, **splitters):
    """Metadata router of a meta-estimator: itself, its inner estimator's ``fit``, its splitters' ``split``.

    ``splitters`` maps names to ``cv`` values; temporal hold-out shares (floats)
    take no metadata and are left out.
    """
    router = MetadataRouter(owner=owner).add_self_request(owner)
    router.add(estimator=default_estimator(owner.estimator), method_mapping=MethodMapping().add(caller="fit", callee="fit"))
    for name, cv in splitters.items():
        if not is_holdout_share(cv):
            router.add(**{name: cv}, method_mapping=MethodMapping().add(caller="fit", callee="split"))
    return router


def estimator_has(attr):
    """For ``available_if``: whether the fitted (else the given, else the default) estimator has ``attr``."""

    def check(self):
        return hasattr(getattr(self, "estimator_", default_estimator(self.estimator)), attr)

    return check


def copy_feature_attributes(owner, fitted):
    """Copy ``n_features_in_`` / ``feature_names_in_`` from a fitted inner estimator."""
    for name in ("n_features_in_", "feature_names_in_"):
        if hasattr(fitted, name):
            setattr(owner, name, getattr(fitted, name))


class BaseHeldOutClassifier(ClassifierMixin, MetaEstimatorMixin, BaseEstimator):
    """Base class of the binary meta-estimators that learn from held-out rows.

    In the manner of scikit-learn's ``BaseThresholdClassifier``, it defines:

    - ``fit``: validates the parameters, ``X``, ``y`` (and ``returns``) once,
      encodes the labels once (:func:`binary_target`), then calls
      :meth:`_fit_validated`;
    - :meth:`_fit_validated`, the one path for data already validated: an
      outer meta-estimator fits its inner one through it (see
      :func:`fit_on_rows`), so labels are never checked twice and no hidden
      state tells an inner estimator to skip its checks;
    - the one buy-label rule of the estimators, :meth:`_buy_label`
      (:func:`cvn_sklearn.metrics.buy_label`, which the metrics apply too);
    - ``classes_``, ``predict_proba`` and ``predict`` by delegation: a subclass
      says which fitted estimator answers (:meth:`_delegate`), how
      probabilities become labels (:meth:`_labels_from_proba`), and fits in
      ``_fit``.

    ``_fit(X, target, params, returns)`` returns the ``predict_proba`` of every
    row of ``X`` when it held out every row (a frozen model: calibration and θ
    fitted on all the rows given), else ``None``; callers reuse it instead of
    predicting the same rows again.
    """

    __metadata_request__fit = {"sample_weight": None}

    def fit(self, X, y, **params):
        """Fit on ``X, y``; see the subclass for the rows each stage uses.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Training rows, in time order.
        y : array-like of shape (n_samples,)
            Binary labels of any dtype.
        **params : dict
            Passed to the inner estimator's ``fit`` (sliced to its rows); with
            metadata routing enabled, routed to whoever requested them.

        Returns
        -------
        self : object
        """
        self._fit_held_out(X, y, None, params)
        return self

    @_fit_context(prefer_skip_nested_validation=False)
    def _fit_held_out(self, X, y, returns, params):
        """The public ``fit``: validate once, fit, and return the held-out probabilities (see the class docstring)."""
        X, y = indexable(X, y)
        if returns is not None and len(column_or_1d(returns)) != len(y):
            raise ValueError(
                f"returns has {len(column_or_1d(returns))} rows but X has {len(y)}; pass one forward return "
                "per training row, in the same order as X."
            )
        target = binary_target(y, type(self).__name__, params.get("sample_weight"))
        return self._fit_validated(X, target, params, returns)

    def _fit_validated(self, X, target, params, returns=None):
        """Fit on validated data: ``X`` made indexable, ``target`` from :func:`binary_target`.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
        target : BinaryTarget
        params : dict
            The metadata of ``fit``, as the public ``fit`` receives them.
        returns : array-like of shape (n_samples,), default=None

        Returns
        -------
        ndarray of shape (n_samples, 2) or None
            The held-out ``predict_proba`` of every row, when every row was held out.
        """
        held_out = self._fit(X, target, params, returns)
        copy_feature_attributes(self, self._delegate())
        return held_out

    def _buy_label(self, classes):
        """The buy label among ``classes``: ``pos_label``, else :func:`~cvn_sklearn.metrics.buy_label`'s default."""
        return buy_label(classes, getattr(self, "pos_label", None))

    def _delegate(self):
        """The fitted estimator that answers ``classes_`` and the feature attributes."""
        return self.estimator_

    @property
    def classes_(self):
        """The class labels, from the inner estimator."""
        return self._delegate().classes_

    def predict_proba(self, X):
        """Class probabilities.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, 2)
            Columns in the order of ``classes_``.
        """
        check_is_fitted(self)
        return self._predict_proba(X)

    def _predict_proba(self, X):
        return self.estimator_.predict_proba(X)

    def predict(self, X):
        """Predict a class for each row of ``X`` from its probabilities (see :meth:`_labels_from_proba`).

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        return self._labels_from_proba(self._predict_proba(X))

    def _labels_from_proba(self, proba):
        """Labels from ``predict_proba`` output: the most probable class.

        The one decision rule of the estimator; ``predict`` applies it, and so
        may a caller holding probabilities it already computed (the
        ``fixed_params`` DAG does).
        """
        return self.classes_[np.argmax(proba, axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = get_tags(default_estimator(self.estimator)).input_tags
        tags.classifier_tags.multi_class = False
        tags.input_tags.sparse, tags.input_tags.allow_nan = inner.sparse, inner.allow_nan
        return tags


ESTIMATOR_CONSTRAINTS = {"estimator": [HasMethods(["fit", "predict_proba"]), None]}
