"""Held-out rows for the meta-estimators: temporal splits, routing, fitting on rows.

Shared by :class:`~cvn_sklearn.Calibrate`, :class:`~cvn_sklearn.ThetaSweep`
and :class:`~cvn_sklearn.CalibratedThetaClassifier`, so the three cut and
route their data the same way.
"""

from __future__ import annotations

import contextvars
from contextlib import contextmanager
from numbers import Integral, Real

import numpy as np
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import check_cv
from sklearn.utils import get_tags
from sklearn.utils.metadata_routing import MetadataRouter, MethodMapping, process_routing
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import column_or_1d

from cvn_sklearn._rows import last_rows
from cvn_sklearn._sklearn_compat import _check_method_params, _num_samples, _routing_enabled, _safe_indexing, fit_requests
from cvn_sklearn.metrics import _classes


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


_LABELS_CHECKED = contextvars.ContextVar("cvn_sklearn_labels_checked", default=False)


def check_binary_target(y, owner, sample_weight=None) -> np.ndarray:
    """Validate a binary target once per public ``fit`` and return it encoded as 0/1 (1 = ``classes_[1]``).

    Inside :func:`labels_checked` (a meta-estimator fitting its inner
    meta-estimator on labels it already checked), only the encoding runs.

    Raises
    ------
    ValueError
        For a continuous target ("Unknown label type"), one class (among the
        rows with non-zero ``sample_weight``), or more than two.
    """
    if _LABELS_CHECKED.get():
        y = column_or_1d(y)
        return (y == _classes(y)[-1]).astype(np.int8)
    check_classification_targets(y)
    classes = np.unique(y)
    if classes.size > 2 or type_of_target(y) not in ("binary", "multiclass"):
        raise ValueError(
            f"Only binary classification is supported. The type of the target is {type_of_target(y)!r} "
            f"with {classes.size} classes; {owner} tunes buy / no-buy classifiers."
        )
    if classes.size < 2:
        raise ValueError(
            f"{owner} needs both classes in y, got one class only ({classes.tolist()}). Check the labelling, "
            "or use a longer training window so both classes occur."
        )
    y01 = (column_or_1d(y) == classes[1]).astype(np.int8)
    if sample_weight is not None and 0 in (np.dot(sample_weight, y01), np.dot(sample_weight, 1 - y01)):
        raise ValueError(f"{owner}: only one class has non-zero sample_weight; both classes need weight > 0.")
    return y01


@contextmanager
def labels_checked():
    """Within this block, :func:`check_binary_target` trusts labels its caller already validated."""
    token = _LABELS_CHECKED.set(True)
    try:
        yield
    finally:
        _LABELS_CHECKED.reset(token)


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


def fit_on_rows(estimator, X, y, rows, fit_params):
    """Fit ``estimator`` on ``rows`` of ``X, y``, slicing per-row fit parameters alike."""
    params = _check_method_params(X, fit_params, indices=rows)
    return estimator.fit(_safe_indexing(X, rows), _safe_indexing(y, rows), **params)


def positive_proba(estimator, X) -> np.ndarray:
    """P(positive class) from a fitted binary classifier: ``predict_proba(X)[:, 1]``."""
    if len(estimator.classes_) != 2:
        raise ValueError(
            f"{model_type(estimator)} was fitted on rows holding one class only "
            f"({list(estimator.classes_)}), so its probabilities cannot be calibrated or "
            "thresholded. Use more rows, or a split whose training part holds both classes."
        )
    return estimator.predict_proba(X)[:, 1]


def fit_and_predict(estimator, X, y, train, test, fit_params):
    """Fit on ``train`` rows, return the fitted estimator and P(positive) on ``test`` rows."""
    fitted = fit_on_rows(estimator, X, y, train, fit_params)
    return fitted, positive_proba(fitted, _safe_indexing(X, test))


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
    return None if values is None else np.asarray(_safe_indexing(values, rows))


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


class BinaryMetaTagsMixin:
    """Tags of a binary-only meta-estimator: sparse and NaN support follow the inner estimator."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = get_tags(default_estimator(self.estimator)).input_tags
        tags.classifier_tags.multi_class = False
        tags.input_tags.sparse, tags.input_tags.allow_nan = inner.sparse, inner.allow_nan
        return tags
