"""Calibration of P(buy): :class:`Calibrate`, the one calibration step of cvn_sklearn.

A threshold tuned on miscalibrated probabilities compensates for that one
fit's miscalibration, and breaks as soon as the model changes (a class
re-weighting that inflates the probabilities is exactly how one model came to
take 5x more trades than the others). So probabilities are calibrated on
held-out rows before θ is tuned on other held-out rows.

Methods, all fitted on the held-out P(positive) of the inner model:

- ``"isotonic"``: isotonic regression (scikit-learn's ``IsotonicRegression``),
  monotone and non-parametric; needs a few hundred calibration rows. Its
  output is blended with ``1e-6`` of the raw probability, so rows that share
  a plateau stay ordered by the model's own ranking (the probabilities move by
  at most ``1e-6``). Without that, a weak fold can put most rows on the top
  plateau, and no θ could then select fewer of them than the predicted
  positive-rate cap of :class:`~cvn_sklearn.ThetaSweep` allows.
- ``"sigmoid"``: Platt scaling (scikit-learn's sigmoid calibrator).
- ``"temperature"``: temperature scaling (scikit-learn's, added in 1.8): one
  parameter, keeps the ranking and sharpens or softens the probabilities. It
  scales logits around 0, so it cannot undo the shift of a class re-weighting
  (``class_weight="balanced"``); use another method for such models.
- ``"beta"``: beta calibration (Kull, Silva Filho & Flach 2017): logistic
  regression on ``ln(p)`` and ``-ln(1 - p)``, with both slopes kept
  non-negative so the map is monotone. Fixes the asymmetric distortions of
  boosted trees that a sigmoid cannot, with three parameters only.
- ``"auto"``: the inner estimator's ``default_calibration`` attribute (the
  per-model hook of the registry's model files), else ``"isotonic"``.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
from sklearn.base import clone
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.utils.parallel import Parallel, delayed

from cvn_sklearn._heldout import (
    ESTIMATOR_CONSTRAINTS,
    BaseHeldOutClassifier,
    default_estimator,
    every_row,
    fit_and_predict,
    held_out_splits,
    meta_router,
    model_type,
    positive_proba,
    route_fit_params,
    take,
)
from cvn_sklearn._sklearn_compat import Interval, RealNotInt, StrOptions, _SigmoidCalibration, _TemperatureScaling
from cvn_sklearn.events import emit
from cvn_sklearn.metrics import _brier, _ece

__all__ = ["Calibrate"]

METHODS = ("isotonic", "sigmoid", "temperature", "beta")
_EPS = 1e-12
_ISOTONIC_TIE_BREAK = 1e-6


class _IsotonicCalibration:
    """scikit-learn's isotonic regression, its plateaus ordered by the raw probability.

    ``(1 - 1e-6) * isotonic(p) + 1e-6 * p``: strictly increasing where the raw
    probabilities differ, in [0, 1], and within ``1e-6`` of the isotonic fit.
    """

    def fit(self, proba, y, sample_weight=None):
        self.isotonic_ = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(proba, y, sample_weight)
        return self

    def predict(self, proba):
        proba = np.asarray(proba, dtype=np.float64)
        return (1.0 - _ISOTONIC_TIE_BREAK) * self.isotonic_.predict(proba) + _ISOTONIC_TIE_BREAK * proba


class _TemperatureCalibration:
    """scikit-learn's temperature scaling on P(positive), as a 1-D calibrator."""

    def fit(self, proba, y, sample_weight=None):
        self.scaler_ = _TemperatureScaling().fit(np.column_stack([1.0 - proba, proba]), y, sample_weight)
        return self

    def predict(self, proba):
        return self.scaler_.predict(np.column_stack([1.0 - proba, proba]))[:, 1]


class _BetaCalibration:
    """Beta calibration (Kull, Silva Filho & Flach 2017), monotone version.

    A logistic regression on ``[ln(p), -ln(1 - p)]``; when one slope comes out
    negative, that feature is dropped and the regression refitted, as in the
    authors' ``betacal`` package, so the map does not decrease.
    """

    def fit(self, proba, y, sample_weight=None):
        features = self._features(proba)
        self.keep_ = np.array([True, True])
        self.model_ = LogisticRegression(C=np.inf).fit(features, y, sample_weight=sample_weight)
        slopes = self.model_.coef_[0]
        if slopes.min() < 0:
            self.keep_[np.argmin(slopes)] = False
            self.model_ = LogisticRegression(C=np.inf).fit(features[:, self.keep_], y, sample_weight=sample_weight)
        return self

    def predict(self, proba):
        return self.model_.predict_proba(self._features(proba)[:, self.keep_])[:, 1]

    @staticmethod
    def _features(proba):
        p = np.clip(proba, _EPS, 1.0 - _EPS)
        return np.column_stack([np.log(p), -np.log1p(-p)])


_CALIBRATORS = {
    "isotonic": _IsotonicCalibration,
    "sigmoid": _SigmoidCalibration,
    "temperature": _TemperatureCalibration,
    "beta": _BetaCalibration,
}


def resolve_method(method, estimator):
    """The calibration method to use: ``method``, or the model's own default for ``"auto"``."""
    if method != "auto":
        return method
    default = getattr(estimator, "default_calibration", "isotonic")
    if default not in METHODS:
        raise ValueError(
            f"{model_type(estimator)}.default_calibration is {default!r}; it must be one of {METHODS}. "
            "Fix the model file, or pass method= explicitly."
        )
    return default


def fit_calibrator(method, proba, y01, sample_weight):
    """Fit the ``method`` calibrator on held-out P(positive) and 0/1 labels."""
    n_nan = int(np.isnan(proba).sum())
    if n_nan:
        raise ValueError(
            f"The model returned {n_nan} NaN probabilities on the {len(proba)} calibration rows, so a calibrator "
            "cannot be fitted. Check the model: NaN features it does not accept, or a fit that diverged."
        )
    weights = np.ones_like(proba) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    if 0 in (np.dot(weights, y01), np.dot(weights, 1 - y01)):
        raise ValueError(
            f"The {len(y01)} calibration rows hold a single class (counting rows with non-zero sample_weight), "
            "so a calibrator cannot be fitted. Use more rows, or a larger calibration share."
        )
    return _CALIBRATORS[method]().fit(proba, y01, sample_weight)


def calibrated_proba(estimators, calibrators, X):
    """Mean over the (model, calibrator) pairs of the calibrated P(positive)."""
    probas = [np.clip(cal.predict(positive_proba(est, X)), 0.0, 1.0) for est, cal in zip(estimators, calibrators)]
    return np.mean(probas, axis=0)


def report_calibration(model_name, method, y01, raw, calibrated, n_folds):
    """Emit ``calibrator_fit``: Brier and ECE on the calibration rows, before and after (labels already 0/1).

    Only these two are computed (as :func:`~cvn_sklearn.metrics.evaluate` computes them), not every metric.
    """
    raw, calibrated = np.asarray(raw, dtype=np.float64), np.asarray(calibrated, dtype=np.float64)
    emit(
        "calibrator_fit",
        model_type=model_name,
        method=method,
        n_calibration=len(y01),
        n_folds=n_folds,
        brier_before=_brier(y01, raw),
        brier_after=_brier(y01, calibrated),
        ece_before=_ece(y01, raw, 10),
        ece_after=_ece(y01, calibrated, 10),
    )


class Calibrate(BaseHeldOutClassifier):
    """Binary classifier whose probabilities are calibrated on held-out rows.

    ``fit`` fits a clone of ``estimator`` on the first rows and a calibrator on
    its P(positive) for the held-out rows (see the module documentation for
    the methods). ``predict_proba`` returns the calibrated probabilities;
    ``predict`` the most probable class. Emits ``calibrator_fit``.

    Parameters
    ----------
    estimator : classifier with ``predict_proba``, default=None
        The model; ``None`` means ``LogisticRegression()``. It is cloned, unless
        it is a :class:`~sklearn.frozen.FrozenEstimator`, which is used as
        fitted and every row given to ``fit`` calibrates it.
    method : {"isotonic", "sigmoid", "temperature", "beta", "auto"}, default="isotonic"
        The calibrator; ``"auto"`` takes the model's ``default_calibration``.
    cv : float, int, cross-validation generator or iterable, default=0.2
        Where the calibration rows come from. A float in (0, 1): the last share
        of the rows, in time order, never shuffled; the model is fitted on the
        rows before them (and, if it early-stops, takes its early-stopping rows
        from their end). Anything else is a splitter as in scikit-learn,
        cross-fitting like ``CalibratedClassifierCV(ensemble=True)``: one
        (model, calibrator) pair per split, their calibrated probabilities
        averaged. Splits need not partition the rows, so ``TimeSeriesSplit``
        and walk-forward splitters work.
    n_jobs : int, default=None
        Splits fitted in parallel.

    Attributes
    ----------
    estimators_ : list of estimators
        The fitted models, one per split.
    calibrators_ : list
        Their fitted calibrators.
    method_ : str
        The calibration method used (``"auto"`` resolved).
    classes_ : ndarray of shape (2,)
        The class labels, from the inner estimator.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of str
        Feature names seen during fit, when ``X`` has them.

    See Also
    --------
    ThetaSweep : Tunes the decision threshold on the calibrated probabilities.
    CalibratedThetaClassifier : Calibration then θ, in one time-ordered design.
    sklearn.calibration.CalibratedClassifierCV : scikit-learn's (shuffled) version.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.naive_bayes import GaussianNB
    >>> from cvn_sklearn import Calibrate
    >>> X, y = make_classification(n_samples=600, random_state=0)
    >>> clf = Calibrate(GaussianNB(), method="beta").fit(X, y)
    >>> clf.predict_proba(X[:2]).shape, clf.method_
    ((2, 2), 'beta')
    """

    _parameter_constraints: dict = {
        **ESTIMATOR_CONSTRAINTS,
        "method": [StrOptions({*METHODS, "auto"})],
        "cv": [Interval(RealNotInt, 0, 1, closed="neither"), "cv_object"],
        "n_jobs": [Integral, None],
    }

    def __init__(self, estimator=None, *, method="isotonic", cv=0.2, n_jobs=None):
        self.estimator = estimator
        self.method = method
        self.cv = cv
        self.n_jobs = n_jobs

    def fit(self, X, y, **params):
        """Fit the model on the first rows and the calibrator on the held-out rows.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Training rows, in time order.
        y : array-like of shape (n_samples,)
            Binary labels of any dtype.
        **params : dict
            Passed to the inner estimator's ``fit`` (sliced to its rows); with
            metadata routing enabled, routed to whoever requested them. A
            ``sample_weight`` also weights the calibrator.

        Returns
        -------
        self : Calibrate
        """
        return super().fit(X, y, **params)

    def _fit(self, X, target, params, returns=None):
        estimator = default_estimator(self.estimator)
        self.method_ = resolve_method(self.method, estimator)
        fit_params, split_params, own = route_fit_params(self, params)
        splits = held_out_splits(estimator, X, target.y, self.cv, split_params, owner="Calibrate", what="calibration rows")
        pairs = Parallel(n_jobs=self.n_jobs)(
            delayed(fit_and_predict)(clone(estimator), X, target, train, test, fit_params) for train, test in splits
        )
        self.estimators_ = [model for model, _ in pairs]
        raws = [proba[:, 1] for _, proba in pairs]
        self.calibrators_ = [
            fit_calibrator(self.method_, raw, target.y01[test], take(own["sample_weight"], test))
            for raw, (_, test) in zip(raws, splits)
        ]
        calibrated = np.concatenate([np.clip(cal.predict(raw), 0.0, 1.0) for cal, raw in zip(self.calibrators_, raws)])
        held_out = np.concatenate([test for _, test in splits])
        report_calibration(model_type(estimator), self.method_, target.y01[held_out], np.concatenate(raws), calibrated, len(splits))
        if len(splits) == 1 and every_row(held_out, len(target.y)):
            # The calibrator was fitted on these very rows, so their calibrated order is not evidence of an
            # edge (a Platt slope can flip an anti-ranking): the raw scores are kept for a θ search on them,
            # which takes them (see ThetaSweep._fit and theta_sweep's edge_scores).
            self._held_out_raw = raws[0]
            return np.column_stack([1.0 - calibrated, calibrated])
        return None

    def _delegate(self):
        return self.estimators_[0]

    def _predict_proba(self, X):
        """Calibrated class probabilities: ``[:, 1]`` is the calibrated P(``classes_[1]``)."""
        p = calibrated_proba(self.estimators_, self.calibrators_, X)
        return np.column_stack([1.0 - p, p])

    def get_metadata_routing(self):
        """Route ``fit`` metadata to the inner estimator and the splitter.

        Returns
        -------
        MetadataRouter
        """
        return meta_router(self, splitter=self.cv)
