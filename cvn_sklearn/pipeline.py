"""Calibration then θ in one estimator, and :func:`make_pipeline` that composes it.

:class:`CalibratedThetaClassifier` is ``ThetaSweep(Calibrate(model))`` with one
coherent, time-ordered held-out design and an option to refit the model on
every row. :func:`make_pipeline` lets users write the wrappers as pipeline
steps, ``make_pipeline(scaler, Calibrate(), ThetaSweep(), model)``, and returns
a real :class:`sklearn.pipeline.Pipeline` ending in that composed estimator.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
from sklearn.base import clone, is_classifier
from sklearn.frozen import FrozenEstimator
from sklearn.pipeline import make_pipeline as sklearn_make_pipeline

from cvn_sklearn._heldout import (
    ESTIMATOR_CONSTRAINTS,
    THETA_DEFAULTS,
    THETA_PARAMETER_CONSTRAINTS,
    BaseHeldOutClassifier,
    SameRows,
    default_estimator,
    fit_on_rows,
    meta_router,
    route_fit_params,
    theta_params,
)
from cvn_sklearn._sklearn_compat import Interval, RealNotInt, StrOptions, _routing_enabled, fit_requests
from cvn_sklearn.calibration import METHODS, Calibrate
from cvn_sklearn.threshold import ThetaSweep

__all__ = ["CalibratedThetaClassifier", "make_pipeline"]

_HOLDOUT = [Interval(RealNotInt, 0, 1, closed="neither"), "cv_object"]


class CalibratedThetaClassifier(BaseHeldOutClassifier):
    """Calibrated probabilities, and a decision threshold θ tuned on them.

    With the default float hold-outs, the rows given to ``fit`` are cut in
    time order, never shuffled and never overlapping::

        | fit rows ........... | early-stopping | calibration | θ rows |
        |<-- model.fit gets these rows only --->|

    The last ``theta_cv`` share of the rows tunes θ; the last
    ``calibration_cv`` share of the rows before them fits the calibrator; the
    model is fitted on the rest, and a model that early-stops takes its
    early-stopping rows from the end of *those* (the adapter holds out the last
    ``validation_fraction`` of what it is given). So no row that calibrates or
    tunes θ was seen by the model, and the θ rows were not seen by the
    calibrator either. It is ``ThetaSweep(Calibrate(model,
    cv=calibration_cv), cv=theta_cv)``, fitted and kept as ``estimator_``.

    With a model already fitted elsewhere, wrapped in
    :class:`~sklearn.frozen.FrozenEstimator`, every row given to ``fit``
    calibrates it *and* tunes θ (``calibration_cv`` and ``theta_cv`` do not
    apply): this is how :func:`cvn_sklearn.harness.train_one` tunes on its
    validation rows. Sharing the rows costs nothing in honesty here: the
    calibrators are monotone, so the rows a θ selects, and the objective it
    reaches, are the same on calibrated and on raw probabilities; θ is only
    expressed on the calibrated scale. Successive parts would halve the rows
    each stage learns from for no gain.

    Parameters
    ----------
    estimator : classifier with ``predict_proba``, default=None
        The model; ``None`` means ``LogisticRegression()``. Cloned, unless it
        is a :class:`~sklearn.frozen.FrozenEstimator` (used as fitted).
    calibration : {"isotonic", "sigmoid", "temperature", "beta", "auto"}, default="isotonic"
        The calibration method; see :class:`~cvn_sklearn.Calibrate`.
    calibration_cv : float, int, cross-validation generator or iterable, default=0.2
        Calibration rows: a share of the rows before the θ rows (temporal), or a
        splitter (cross-fitted calibration), as ``Calibrate(cv=...)``.
    objective : str, default="f1"
        What θ maximises; see :func:`~cvn_sklearn.theta_sweep`.
    beta, min_recall, min_positives, max_positive_rate, max_positive_rate_ratio, pos_label : see ThetaSweep
        θ objective parameters and constraints, as in :class:`~cvn_sklearn.ThetaSweep`
        (by default θ predicts at most as many positives as the base rate;
        labels other than ``{0, 1}``, ``{-1, 1}`` or booleans need
        ``pos_label``, e.g. ``pos_label="buy"``).
    cost, edge_test, edge_alpha : see ThetaSweep
        Cost per trade (default 0.0) and the edge test (default ``"auc"`` at
        ``edge_alpha=0.05``): without an edge on the θ rows, ``theta_`` is just
        above 1 and the model does not trade. With a frozen model the
        calibrator is fitted on the θ rows, so the ranking test reads the
        model's raw scores there (a calibrator fitted on the rows can reorder
        them in its favour).
    theta_cv : float, int, cross-validation generator or iterable, default=0.2
        θ rows: the last share of the rows (temporal), or a splitter, as
        ``ThetaSweep(cv=...)``.
    refit : bool, default=False
        After calibrating and tuning θ, refit the model on every row and keep
        the calibrator and θ. The trade-off: the model learns from the most
        recent rows (often the most relevant in markets, and 40% of the data
        by default), but the calibrator and θ were fitted to the outputs of the
        model trained on fewer rows. A model refitted on more data (for a
        booster, with more trees or a different early-stopping point) can
        output differently distributed probabilities, so calibration and the
        predicted positive rate on new data are no longer guaranteed by the
        held-out rows. Keep ``False`` when calibration and trade frequency
        matter more than the last rows; validate ``True`` walk-forward. Not
        available for a frozen model.
    n_jobs : int, default=None
        Splits fitted in parallel, when a ``*_cv`` is a splitter.

    Attributes
    ----------
    estimator_ : ThetaSweep
        The fitted ``ThetaSweep(Calibrate(model))``: its ``estimator_`` is the
        fitted :class:`~cvn_sklearn.Calibrate`.
    estimators_ : list of estimators
        The fitted models (one per calibration split; with ``refit=True`` the
        model refitted on every row, once per calibrator).
    calibrators_ : list
        The fitted calibrators.
    method_ : str
        The calibration method used.
    theta_ : float
        The tuned threshold on the calibrated P(buy).
    theta_result_ : ThetaSweepResult
        θ, its objective value and the whole curve.
    classes_ : ndarray of shape (2,)
        The class labels, from the inner estimator.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of str
        Feature names seen during fit, when ``X`` has them.

    See Also
    --------
    make_pipeline : Builds this estimator from ``Calibrate()``, ``ThetaSweep()`` and a model.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.ensemble import HistGradientBoostingClassifier
    >>> from sklearn.frozen import FrozenEstimator
    >>> from cvn_sklearn import CalibratedThetaClassifier
    >>> X, y = make_classification(n_samples=1000, weights=[0.7], random_state=0)
    >>> clf = CalibratedThetaClassifier(HistGradientBoostingClassifier(max_iter=20), calibration="sigmoid")
    >>> clf.fit(X, y).theta_result_.positive_rate <= clf.theta_result_.base_rate
    True
    >>> clf.predict_proba(X[:2]).shape
    (2, 2)

    A model fitted on the first rows, calibrated and thresholded on the next ones:

    >>> model = HistGradientBoostingClassifier(max_iter=20).fit(X[:700], y[:700])
    >>> tuned = CalibratedThetaClassifier(FrozenEstimator(model)).fit(X[700:900], y[700:900])
    >>> tuned.theta_result_.n_val
    200
    """

    _parameter_constraints: dict = {
        **ESTIMATOR_CONSTRAINTS,
        "calibration": [StrOptions({*METHODS, "auto"})],
        "calibration_cv": _HOLDOUT,
        **THETA_PARAMETER_CONSTRAINTS,
        "theta_cv": _HOLDOUT,
        "refit": ["boolean"],
        "n_jobs": [Integral, None],
    }

    def __init__(
        self,
        estimator=None,
        *,
        calibration="isotonic",
        calibration_cv=0.2,
        objective=THETA_DEFAULTS["objective"],
        beta=THETA_DEFAULTS["beta"],
        min_recall=THETA_DEFAULTS["min_recall"],
        min_positives=THETA_DEFAULTS["min_positives"],
        max_positive_rate=THETA_DEFAULTS["max_positive_rate"],
        max_positive_rate_ratio=THETA_DEFAULTS["max_positive_rate_ratio"],
        pos_label=THETA_DEFAULTS["pos_label"],
        cost=THETA_DEFAULTS["cost"],
        edge_test=THETA_DEFAULTS["edge_test"],
        edge_alpha=THETA_DEFAULTS["edge_alpha"],
        theta_cv=0.2,
        refit=False,
        n_jobs=None,
    ):
        self.estimator = estimator
        self.calibration = calibration
        self.calibration_cv = calibration_cv
        self.objective = objective
        self.beta = beta
        self.min_recall = min_recall
        self.min_positives = min_positives
        self.max_positive_rate = max_positive_rate
        self.max_positive_rate_ratio = max_positive_rate_ratio
        self.pos_label = pos_label
        self.cost = cost
        self.edge_test = edge_test
        self.edge_alpha = edge_alpha
        self.theta_cv = theta_cv
        self.refit = refit
        self.n_jobs = n_jobs

    def fit(self, X, y, *, returns=None, **params):
        """Fit the model, the calibrator and θ on successive held-out rows (or, for a frozen model, on every row).

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Training rows, in time order.
        y : array-like of shape (n_samples,)
            Binary labels of any dtype.
        returns : array-like of shape (n_samples,), default=None
            Per-sample forward returns, for the return-based θ objectives.
        **params : dict
            Passed to the model's ``fit`` (sliced to its rows); with metadata
            routing enabled, routed to whoever requested them. A
            ``sample_weight`` also weights the calibrator and the θ objective.

        Returns
        -------
        self : CalibratedThetaClassifier
        """
        self._fit_held_out(X, y, returns, params)
        return self

    def _fit(self, X, target, params, returns=None):
        estimator = default_estimator(self.estimator)
        if self.refit and isinstance(estimator, FrozenEstimator):
            raise ValueError("refit=True refits the model on every row; a FrozenEstimator cannot be refitted.")
        self.estimator_ = self._composed(estimator)
        held_out = self.estimator_._fit_validated(X, target, params, returns)
        if self.refit:
            fit_params, _, _ = route_fit_params(self, params, returns)
            model, _ = fit_on_rows(clone(estimator), X, target, np.arange(len(target.y)), fit_params)
            calibrated = self.estimator_.estimator_
            calibrated.estimators_ = [model] * len(calibrated.calibrators_)
        return held_out

    def _composed(self, estimator):
        """``ThetaSweep(Calibrate(estimator))`` with this estimator's parameters and metadata requests."""
        frozen = isinstance(estimator, FrozenEstimator)
        calibrated = Calibrate(estimator, method=self.calibration, cv=self.calibration_cv, n_jobs=self.n_jobs)
        theta_cv = SameRows() if frozen else self.theta_cv
        sweep = ThetaSweep(calibrated, cv=theta_cv, n_jobs=self.n_jobs, **theta_params(self))
        if _routing_enabled():
            requests = fit_requests(self)
            calibrated.set_fit_request(sample_weight=requests["sample_weight"])
            sweep.set_fit_request(sample_weight=requests["sample_weight"], returns=requests["returns"])
        return sweep

    @property
    def theta_(self):
        """The tuned threshold on the calibrated P(buy)."""
        return self.estimator_.theta_

    @property
    def theta_result_(self):
        """θ, its objective value and the whole curve."""
        return self.estimator_.theta_result_

    @property
    def calibrators_(self):
        """The fitted calibrators."""
        return self.estimator_.estimator_.calibrators_

    @property
    def estimators_(self):
        """The fitted models, one per calibrator."""
        return self.estimator_.estimator_.estimators_

    @property
    def method_(self):
        """The calibration method used."""
        return self.estimator_.estimator_.method_

    @property
    def buy_label_(self):
        """The label θ was tuned for: ``pos_label``, or its default."""
        return self.estimator_.buy_label_

    def _labels_from_proba(self, proba):
        """The buy label where its calibrated probability >= ``theta_``, else the other class."""
        return self.estimator_._labels_from_proba(proba)

    def get_metadata_routing(self):
        """Route ``fit`` metadata to the model and the splitters.

        Returns
        -------
        MetadataRouter
        """
        return meta_router(self, calibration_splitter=self.calibration_cv, theta_splitter=self.theta_cv)


def make_pipeline(*steps, memory=None, verbose=False):
    """Build a :class:`sklearn.pipeline.Pipeline` whose last step calibrates and tunes θ.

    Steps are ordinary transformers, then the wrapper steps
    :class:`~cvn_sklearn.Calibrate` and/or :class:`~cvn_sklearn.ThetaSweep`
    given *without* an estimator, then one classifier. The wrappers and the
    classifier become one meta-estimator, the pipeline's last step:

    - ``Calibrate()`` and ``ThetaSweep()``: a :class:`CalibratedThetaClassifier`
      (calibration always before θ, whatever order they are typed in), with
      ``Calibrate``'s ``method``/``cv`` as its ``calibration``/``calibration_cv``
      and ``ThetaSweep``'s ``cv`` as its ``theta_cv``; the other parameters keep
      their names. ``n_jobs`` is ``ThetaSweep``'s, else ``Calibrate``'s.
    - one wrapper: that wrapper around the classifier.
    - none: the classifier itself.

    Nested parameters are reachable as usual, for example
    ``calibratedthetaclassifier__estimator__learning_rate`` or
    ``calibratedthetaclassifier__calibration`` in a ``GridSearchCV``.

    Parameters
    ----------
    *steps : estimators
        Transformers, then wrappers without an estimator, then a classifier.
    memory : str or object with the joblib.Memory interface, default=None
        As in :func:`sklearn.pipeline.make_pipeline`.
    verbose : bool, default=False
        As in :func:`sklearn.pipeline.make_pipeline`.

    Returns
    -------
    sklearn.pipeline.Pipeline

    Raises
    ------
    ValueError
        If the last step is not a classifier, a wrapper holds an estimator, a
        wrapper is repeated, or a transformer comes after a wrapper.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.preprocessing import StandardScaler
    >>> from cvn_sklearn import Calibrate, ThetaSweep, make_pipeline
    >>> pipe = make_pipeline(StandardScaler(), ThetaSweep(objective="f1"), Calibrate(method="sigmoid"),
    ...                      LogisticRegression())
    >>> [name for name, _ in pipe.steps]
    ['standardscaler', 'calibratedthetaclassifier']
    >>> pipe.get_params()["calibratedthetaclassifier__calibration"]
    'sigmoid'
    """
    transformers, wrappers, classifier = _split_steps(steps)
    return sklearn_make_pipeline(*transformers, _compose(wrappers, classifier), memory=memory, verbose=verbose)


def _split_steps(steps):
    if not steps or not is_classifier(steps[-1]) or _is_wrapper(steps[-1]):
        raise ValueError(
            "make_pipeline needs a classifier as its last step, after any transformers and wrappers, e.g. "
            "make_pipeline(Calibrate(), ThetaSweep(), registry['lightgbm']())."
        )
    *head, classifier = steps
    first_wrapper = next((i for i, step in enumerate(head) if _is_wrapper(step)), len(head))
    transformers, wrappers = head[:first_wrapper], head[first_wrapper:]
    for step in wrappers:
        if not _is_wrapper(step):
            raise ValueError(f"{type(step).__name__} comes after a wrapper step; put transformers first.")
        if step.estimator is not None:
            raise ValueError(
                f"Give {type(step).__name__} without an estimator in make_pipeline (the last step is its estimator), "
                f"or nest it yourself and pass it as the last step."
            )
    kinds = {type(step) for step in wrappers}
    if len(kinds) != len(wrappers):
        raise ValueError("Each of Calibrate and ThetaSweep may appear once in make_pipeline.")
    return transformers, {type(step): step for step in wrappers}, classifier


def _is_wrapper(step):
    return isinstance(step, (Calibrate, ThetaSweep))


def _compose(wrappers, classifier):
    calibrate, sweep = wrappers.get(Calibrate), wrappers.get(ThetaSweep)
    if calibrate is None or sweep is None:
        wrapper = calibrate if sweep is None else sweep
        return classifier if wrapper is None else clone(wrapper).set_params(estimator=classifier)
    return CalibratedThetaClassifier(
        classifier,
        calibration=calibrate.method,
        calibration_cv=calibrate.cv,
        theta_cv=sweep.cv,
        n_jobs=calibrate.n_jobs if sweep.n_jobs is None else sweep.n_jobs,
        **theta_params(sweep),
    )
