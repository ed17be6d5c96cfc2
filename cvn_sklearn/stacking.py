"""Stacking on walk-forward folds, with base-model work shared across stackers.

:class:`StackingClassifier` is scikit-learn's, made to work with any splitter
(including :class:`~cvn_sklearn.model_selection.WalkForwardSplit`) and to share
base-model work. Its fitting policy:

1. The splitter's folds are computed once. Each base model's out-of-sample (OOS)
   predictions come from ``cvn_sklearn.model_selection.oos_from_splits``;
   rows that no fold predicted (the first training window of a walk-forward
   split) have no OOS prediction.
2. The final estimator (meta-learner) is trained **only on the rows that have
   OOS predictions**; the boolean mask of those rows is ``coverage_``.
3. Each base model is **refit on all rows** and those refits serve ``predict``,
   ``predict_proba`` and ``transform``, as in scikit-learn.

Steps 1 and 3 go through an :class:`~cvn_sklearn.oos_store.OOSStore` keyed by
(estimator class and parameters, library versions, data and metadata
fingerprint, the realised folds, the response method). Any stacker fitted on
the same data with the same base model and folds reuses them: the process's
in-memory store with ``cache=True`` (the default), a directory shared by
fits, processes and Dask workers with ``cache="path"`` (each fit opens its own
``OOSStore(path)`` on it), or any store passed as ``cache``; OOS predictions put in the store by the caller are used as if the
stacker had computed them. Six stackers over three bases cost one set of base
fits. ``cache=False`` recomputes everything. The store is never part of the
fitted model.

:class:`RegistryEnsemble` is the base of the ensembles in
``cvn_sklearn/ensembles/``: base models by registry name, a fixed meta-learner.
Their meta-learners that blend base probabilities live in
:mod:`cvn_sklearn.blending`.
"""

import os
from functools import partial
from numbers import Integral
from time import perf_counter

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.ensemble import StackingClassifier as _SklearnStackingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import check_cv
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import Bunch, check_array, get_tags, indexable
from sklearn.utils.metadata_routing import MetadataRouter, MethodMapping, process_routing
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted

from cvn_sklearn._sklearn_compat import (
    _check_feature_names_in,
    _check_method_params,
    _check_sample_weight,
    _fit_context,
    _raise_for_params,
    _routing_enabled,
    _safe_indexing,
    _VisualBlock,
)
from cvn_sklearn.events import emit, model_type
from cvn_sklearn.metrics import buy_pct
from cvn_sklearn.model_selection import WalkForwardSplit, oos_from_splits, realised_folds
from cvn_sklearn.oos_store import OOSStore, default_store

# realised_folds lives in cvn_sklearn.model_selection; it stays importable from here
__all__ = ["RegistryEnsemble", "StackingClassifier", "fit_member", "precompute_base_model"]


# ---------------------------------------------------------------------------
# Base models: names, estimators, pipelines
# ---------------------------------------------------------------------------


def _named(entry):
    """``(name, estimator-or-registry-name)`` for one entry of the base-model list."""
    if isinstance(entry, (tuple, list)) and len(entry) == 2 and isinstance(entry[0], str):
        return tuple(entry)
    if isinstance(entry, str):
        return entry, entry
    if hasattr(entry, "fit"):
        return type(entry).__name__.lower(), entry
    raise ValueError(
        f"Base model {entry!r} is not a registry name, an estimator or a (name, estimator) pair. "
        "Use e.g. 'lightgbm', LogisticRegression() or ('lgb', registry['lightgbm'](n_estimators=50))."
    )


def _resolve(model):
    """A registry name becomes a default instance of its class; estimators and 'drop' stay."""
    if not isinstance(model, str) or model == "drop":
        return model
    from cvn_sklearn.registry import registry

    return registry[model]()


def _final_estimator_has(method):
    """available_if check on the fitted final estimator, or the one fit would build."""

    def check(self):
        final = getattr(self, "final_estimator_", None)
        return hasattr(self._make_final_estimator() if final is None else final, method)

    return check


class StackingClassifier(_SklearnStackingClassifier):
    """Stacking on any splitter, walk-forward by default, with shared base-model work.

    scikit-learn's :class:`~sklearn.ensemble.StackingClassifier` with three
    changes: ``cv`` may be any splitter, including ones whose test sets do not
    cover every row (``WalkForwardSplit``, ``TimeSeriesSplit``); the final
    estimator is trained only on the rows that have out-of-sample predictions
    (``coverage_``); and base-model OOS predictions and refits go through an
    :class:`~cvn_sklearn.oos_store.OOSStore` shared by stackers (see the
    module docstring for the policy).

    Parameters
    ----------
    estimators : list
        Base models. Each entry is a registry name (``"lightgbm"``: a default
        instance of ``registry["lightgbm"]``), an estimator or pipeline (named
        after its lower-cased class), or a ``(name, estimator)`` pair, where the
        estimator may also be a registry name or ``"drop"``. Parameters of
        estimators are reachable as ``<name>__<param>``.
    final_estimator : classifier, default=None
        The meta-learner; ``None`` means
        :class:`~sklearn.linear_model.LogisticRegression`.
    cv : int, cross-validation generator or iterable, default=None
        Splitter for the out-of-sample predictions. ``None`` means
        ``WalkForwardSplit(n_splits=5)``; an int means (Stratified)KFold, as in
        scikit-learn. Each row may be in at most one test set.
    stack_method : {"auto", "predict_proba", "decision_function", "predict"}, default="auto"
        Base-model method whose output feeds the final estimator.
    n_jobs : int, default=None
        Folds fitted in parallel through joblib; ``None`` means 1.
    passthrough : bool, default=False
        Also feed the original features to the final estimator.
    verbose : int, default=0
        joblib verbosity of the fold fits.
    cache : bool, str, os.PathLike or OOSStore, default=True
        Where base-model OOS predictions and refits are shared: ``True``, the
        process's :func:`~cvn_sklearn.oos_store.default_store` (memory); a
        directory, opened as ``OOSStore(path)`` for each fit and shared
        through the directory with other fits, processes and Dask workers; an
        :class:`~cvn_sklearn.oos_store.OOSStore`, used as it is (an
        ``OOSStore(path)`` you keep also keeps its entries in memory);
        ``False``, nowhere (everything computed afresh).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    estimators_ : list of estimators
        Base models refit on all rows (dropped ones left out).
    named_estimators_ : :class:`~sklearn.utils.Bunch`
        Fitted base models by name.
    final_estimator_ : classifier
        The meta-learner, trained on the covered rows.
    stack_method_ : list of str
        Method used for each base model.
    coverage_ : ndarray of bool of shape (n_samples,)
        ``True`` for rows with out-of-sample predictions, the meta-learner's
        training rows.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during ``fit``, when ``X`` has them.

    Notes
    -----
    Everything not listed here is scikit-learn's own (``transform``,
    ``n_features_in_``, label decoding in ``predict``, parameter validation).
    What this class overrides, and why:

    +---------------------------------------------+----------------------------------------------------+
    | member                                      | reason                                             |
    +=============================================+====================================================+
    | ``__init__``, ``_parameter_constraints``    | the ``cache`` parameter; ``cv`` is any splitter    |
    |                                             | (no ``"prefit"``: prefit bases have no OOS rows)   |
    +---------------------------------------------+----------------------------------------------------+
    | ``fit``                                     | walk-forward folds (``realised_folds``), base work |
    |                                             | through the OOS store, meta-learner on             |
    |                                             | ``coverage_`` rows only                            |
    +---------------------------------------------+----------------------------------------------------+
    | ``get_metadata_routing``                    | also routes ``split`` metadata (``t1``) to ``cv``  |
    +---------------------------------------------+----------------------------------------------------+
    | ``get_params``, ``set_params``,             | base models may be registry names or bare          |
    | ``named_estimators``,                       | estimators (not only ``(name, estimator)``         |
    | ``_validate_estimators``,                   | pairs), and ensembles keep them in                 |
    | ``get_feature_names_out``,                  | ``base_models``; scikit-learn's versions unpack    |
    | ``__sklearn_tags__``, ``_sk_visual_block_`` | ``self.estimators`` as pairs                       |
    +---------------------------------------------+----------------------------------------------------+
    | ``predict``, ``predict_proba``,             | available before fit with the default              |
    | ``decision_function``                       | ``final_estimator=None`` (scikit-learn's vanish)   |
    +---------------------------------------------+----------------------------------------------------+

    From its scikit-learn parent it also calls the private methods
    ``_method_name`` (the ``stack_method`` per base), ``_concatenate_predictions``
    (the meta-learner's features) and ``_validate_names``; any other private
    scikit-learn name comes from :mod:`cvn_sklearn._sklearn_compat`.

    See Also
    --------
    cvn_sklearn.model_selection.oos_predict : Out-of-sample predictions for one model.
    sklearn.ensemble.StackingClassifier : The parent, partition splitters only.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.naive_bayes import GaussianNB
    >>> from cvn_sklearn.model_selection import WalkForwardSplit
    >>> from cvn_sklearn.stacking import StackingClassifier
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(120, 4))
    >>> y = (X[:, 0] + 0.5 * rng.normal(size=120) > 0).astype(int)
    >>> stack = StackingClassifier([LogisticRegression(), GaussianNB()],
    ...                            cv=WalkForwardSplit(4, test_size=20)).fit(X, y)
    >>> int(stack.coverage_.sum()), stack.predict_proba(X[:2]).shape
    (80, (2, 2))
    """

    _estimators_param = "estimators"

    _parameter_constraints: dict = {
        **_SklearnStackingClassifier._parameter_constraints,
        "cv": ["cv_object"],
        "cache": ["boolean", str, os.PathLike, OOSStore],
    }

    def __init__(
        self,
        estimators,
        final_estimator=None,
        *,
        cv=None,
        stack_method="auto",
        n_jobs=None,
        passthrough=False,
        verbose=0,
        cache=True,
    ):
        super().__init__(
            estimators,
            final_estimator,
            cv=cv,
            stack_method=stack_method,
            n_jobs=n_jobs,
            passthrough=passthrough,
            verbose=verbose,
        )
        self.cache = cache

    # -- parameters --------------------------------------------------------

    def _base_entries(self):
        return [_named(entry) for entry in getattr(self, self._estimators_param)]

    def _entries_if_valid(self):
        """Base entries by name, or {} while the parameter is not a valid list (checked in fit)."""
        try:
            return dict(self._base_entries())
        except (TypeError, ValueError):
            return {}

    def get_params(self, deep=True):
        """Get parameters, including the base models and their parameters by name.

        Parameters
        ----------
        deep : bool, default=True
            Also return ``<name>`` and ``<name>__<param>`` for every base model.

        Returns
        -------
        params : dict
            Parameter names mapped to their values.
        """
        params = BaseEstimator.get_params(self, deep=deep)
        if deep:
            for name, model in self._entries_if_valid().items():
                params[name] = model
                params.update({f"{name}__{key}": value for key, value in _nested_params(model).items()})
        return params

    def set_params(self, **params):
        """Set parameters; ``<name>=estimator`` replaces a base model, ``<name>__<param>`` tunes it.

        Parameters
        ----------
        **params : dict
            Parameters of the stacker, base models by name, or their parameters.

        Returns
        -------
        self : object
            This estimator.
        """
        attr = self._estimators_param
        if attr in params:
            setattr(self, attr, params.pop(attr))
        entries = self._entries_if_valid()
        replaced = {name: params.pop(name) for name in list(params) if name in entries}
        if replaced:
            setattr(self, attr, [(name, replaced.get(name, model)) for name, model in entries.items()])
        for key in params:
            name = key.split("__")[0]
            if "__" in key and isinstance(entries.get(name), str):
                raise ValueError(
                    f"Base model {name!r} is given as the registry name {entries[name]!r}, which has no "
                    f"parameters to set. Replace it with an estimator first, e.g. "
                    f"set_params({name}=registry[{entries[name]!r}](...))."
                )
        return BaseEstimator.set_params(self, **params)

    @property
    def named_estimators(self):
        """:class:`~sklearn.utils.Bunch` of the base models (registry names unresolved) by name."""
        return Bunch(**dict(self._base_entries()))

    def _validate_estimators(self):
        entries = self._base_entries()
        if not entries:
            raise ValueError(
                f"'{self._estimators_param}' is empty; give at least one base model, e.g. ['lightgbm', 'logreg']."
            )
        names = [name for name, _ in entries]
        self._validate_names(names)
        models = [_resolve(model) for _, model in entries]
        if all(model == "drop" for model in models):
            raise ValueError("All estimators are dropped. At least one is required to be an estimator.")
        return names, models

    def _make_final_estimator(self):
        """The unfitted meta-learner, as scikit-learn's ``fit`` clones it (``None``: ``LogisticRegression()``)."""
        return LogisticRegression() if self.final_estimator is None else clone(self.final_estimator)

    # -- fit -----------------------------------------------------------------

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, **fit_params):
        """Fit the base models out of sample, the meta-learner on covered rows, then refit the bases.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training rows, in time order for walk-forward splitters.
        y : array-like of shape (n_samples,)
            Target labels.
        **fit_params : dict
            Metadata. Without metadata routing only ``sample_weight`` (passed to
            every base model and to the final estimator). With routing enabled,
            routed to the base models' ``fit`` and the splitter's ``split``
            (e.g. ``t1``) as they request them; ``sample_weight``, when given,
            also reaches the final estimator.

        Returns
        -------
        self : object
            Fitted stacker.
        """
        _raise_for_params(fit_params, self, "fit", allow=["sample_weight"])
        check_classification_targets(y)
        self._label_encoder = LabelEncoder().fit(y)
        self.classes_ = self._label_encoder.classes_
        X, y = indexable(X, self._label_encoder.transform(y))
        if "sample_weight" in fit_params:
            _check_weighted_classes(y, fit_params["sample_weight"])
        names, models = self._validate_estimators()
        self._validate_final_estimator()
        routed = self._route_fit_params(names, fit_params)
        splits = realised_folds(self.cv, X, y, routed.splitter.split)
        methods = [self._method_name(name, model, self.stack_method) for name, model in zip(names, models)]
        kept = [(name, model, method) for name, model, method in zip(names, models, methods) if model != "drop"]
        store = _open_store(self.cache)
        members = [
            fit_member(model, method, X, y, splits, routed[name].fit, store, self.n_jobs, self.verbose)
            for name, model, method in kept
        ]
        self.stack_method_ = [method for _, _, method in kept]
        self.estimators_ = [refit for refit, _ in members]
        self._set_named_estimators(names, models)
        self.coverage_ = np.logical_and.reduce([oos.covered for _, oos in members])
        self._fit_final_estimator(X, y, [oos.predictions for _, oos in members], fit_params)
        return self

    def _route_fit_params(self, names, fit_params):
        if _routing_enabled():
            return process_routing(self, "fit", **fit_params)
        # without routing, fit_params holds at most sample_weight (checked by _raise_for_params)
        return Bunch(splitter=Bunch(split={}), **{name: Bunch(fit=fit_params) for name in names})

    def _set_named_estimators(self, names, models):
        fitted = iter(self.estimators_)
        self.named_estimators_ = Bunch(**{name: "drop" if model == "drop" else next(fitted) for name, model in zip(names, models)})
        for estimator in self.estimators_:
            if hasattr(estimator, "feature_names_in_"):
                self.feature_names_in_ = estimator.feature_names_in_

    def _fit_final_estimator(self, X, y, predictions, fit_params):
        covered = np.flatnonzero(self.coverage_)
        if np.unique(y[covered]).size < 2:
            raise ValueError(
                f"The {covered.size} rows with out-of-sample predictions hold a single class, so the final "
                "estimator cannot learn: use more or longer test blocks (cv) so that both classes are covered."
            )
        X_meta = _safe_indexing(self._concatenate_predictions(X, predictions), covered)
        params = _check_method_params(X, {k: v for k, v in fit_params.items() if k == "sample_weight"}, covered)
        self.final_estimator_.fit(X_meta, y[covered], **params)

    # -- prediction ------------------------------------------------------------
    # scikit-learn's own methods test the unfitted ``final_estimator``, which is
    # None by default, so they vanish before fit; these test the one fit will use.
    # check_is_fitted comes first: before fit, scikit-learn's method (reached through
    # super()) is unavailable and would raise AttributeError instead of NotFittedError.

    @available_if(_final_estimator_has("predict"))
    def predict(self, X, **predict_params):
        """Predict class labels with the final estimator on the base models' outputs.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input rows.
        **predict_params : dict
            Passed (or routed) to the final estimator's ``predict``.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Predicted labels.
        """
        check_is_fitted(self)
        return super().predict(X, **predict_params)

    @available_if(_final_estimator_has("predict_proba"))
    def predict_proba(self, X):
        """Class probabilities from the final estimator on the base models' outputs.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input rows.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities of ``classes_``.
        """
        check_is_fitted(self)
        return super().predict_proba(X)

    @available_if(_final_estimator_has("decision_function"))
    def decision_function(self, X):
        """Decision function of the final estimator on the base models' outputs.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input rows.

        Returns
        -------
        decisions : ndarray of shape (n_samples,) or (n_samples, n_classes)
            The final estimator's decision function.
        """
        check_is_fitted(self)
        return super().decision_function(X)

    # -- introspection -------------------------------------------------------

    def get_feature_names_out(self, input_features=None):
        """Names of the :meth:`transform` output columns.

        Parameters
        ----------
        input_features : array-like of str, default=None
            Input feature names, used only with ``passthrough=True``.

        Returns
        -------
        feature_names_out : ndarray of str objects
            ``<class>_<name>`` per base-model column, then the input features
            when ``passthrough=True``.
        """
        check_is_fitted(self, "n_features_in_")
        input_features = _check_feature_names_in(self, input_features, generate_names=self.passthrough)
        prefix = type(self).__name__.lower()
        names = [name for name, est in self.named_estimators_.items() if not isinstance(est, str)]
        meta_names = [
            f"{prefix}_{name}" if n_out == 1 else f"{prefix}_{name}{i}"
            for name, n_out in zip(names, self._n_feature_outs)
            for i in range(n_out)
        ]
        return np.asarray([*meta_names, *(input_features if self.passthrough else [])], dtype=object)

    def get_metadata_routing(self):
        """Routing of metadata to the base models, the splitter and the final estimator.

        Returns
        -------
        routing : MetadataRouter
            ``fit`` routes to each base model's ``fit`` and the splitter's
            ``split``; ``predict`` routes to the final estimator's ``predict``.
        """
        router = MetadataRouter(owner=self)
        names, models = zip(*((name, _resolve(model)) for name, model in self._base_entries()))
        for name, model in zip(names, models):
            if model != "drop":
                router.add(**{name: model}, method_mapping=MethodMapping().add(caller="fit", callee="fit"))
        router.add(splitter=check_cv(WalkForwardSplit() if self.cv is None else self.cv), method_mapping=MethodMapping().add(caller="fit", callee="split"))
        final = getattr(self, "final_estimator_", None)
        final = self._make_final_estimator() if final is None else final
        router.add(final_estimator_=final, method_mapping=MethodMapping().add(caller="predict", callee="predict"))
        return router

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        models = [_resolve(model) for _, model in self._base_entries()]
        base_tags = [get_tags(model).input_tags for model in models if model != "drop"]
        tags.input_tags.allow_nan = all(t.allow_nan for t in base_tags)
        tags.input_tags.sparse = all(t.sparse for t in base_tags)
        return tags

    def _sk_visual_block_(self):
        names, models = zip(*self._base_entries())
        bases = _VisualBlock("parallel", models, names=names, dash_wrapped=False)
        final = _VisualBlock("parallel", [self._make_final_estimator()], names=["final_estimator"], dash_wrapped=False)
        return _VisualBlock("serial", (bases, final), dash_wrapped=False)


def fit_member(model, method, X, y, splits, fit_params, store, n_jobs=None, verbose=0):
    """(refit on all rows, OOS predictions on ``splits``) of one base model, through ``store`` unless it is ``None``.

    ``y`` holds the encoded labels, as a stacker's ``fit`` sees them.
    """
    oos = partial(oos_from_splits, model, X, y, splits, method=method, n_jobs=n_jobs, fit_params=fit_params,
                  verbose=verbose)
    refit = partial(_refit, model, X, y, fit_params)
    if store is None:
        return refit(), oos()
    data_key = store.data_key(X, y, fit_params)
    return store.refit(model, data_key, refit), store.oos(model, data_key, splits, method, oos)


def precompute_base_model(model, X, y, *, cv=None, cache=True, method="predict_proba"):
    """Put a base model's OOS predictions and refit in the store a stacker with this ``cv`` and ``cache`` reads.

    A stacker fitted afterwards on the same ``X`` and ``y``, with ``model``
    (equal parameters) among its base models, finds both and fits none of
    that model's folds: the screening sweep computes each base model once per
    (symbol, fold) this way, as its own Hamilton node, before the stackers.

    Parameters
    ----------
    model : estimator
        The base model, unfitted, as the stacker will hold it.
    X, y : array-like
        The rows the stacker will be fitted on, and their labels.
    cv : int, cross-validation generator or iterable, default=None
        The stacker's ``cv`` (``None``: its default walk-forward split).
    cache : bool, str or OOSStore, default=True
        The stacker's ``cache``.
    method : str, default="predict_proba"
        The stacker's response method for this model.

    Returns
    -------
    OOSPredictions
    """
    X, y = indexable(X, LabelEncoder().fit_transform(y))
    splits = realised_folds(cv, X, y, {})
    return fit_member(model, method, X, y, splits, {}, _open_store(cache))[1]


def _open_store(cache):
    """The :class:`~cvn_sklearn.oos_store.OOSStore` a stacker's ``cache`` names, for one fit; ``None`` for ``False``.

    ``True`` is the process's :func:`~cvn_sklearn.oos_store.default_store`; a
    store is used as it is; a directory is opened as a new ``OOSStore(path)``,
    which this fit owns: its entries are shared with other fits through the
    directory, not through memory (keep an ``OOSStore(path)`` and pass it to
    keep them in memory too).
    """
    if cache is False:
        return None
    if cache is True:
        return default_store()
    return cache if isinstance(cache, OOSStore) else OOSStore(cache)


def _refit(estimator, X, y, fit_params):
    return clone(estimator).fit(X, y, **fit_params)


def _check_weighted_classes(y, sample_weight):
    weighted = y[_check_sample_weight(sample_weight, y) > 0]
    if np.unique(weighted).size < 2:
        raise ValueError(
            "sample_weight leaves a single class with positive weight; a classifier needs rows of at least "
            "two classes with weight > 0."
        )


def _nested_params(model):
    return model.get_params(deep=True) if hasattr(model, "get_params") else {}


# ---------------------------------------------------------------------------
# Registry ensembles
# ---------------------------------------------------------------------------


class RegistryEnsemble(StackingClassifier):
    """Base class of the ensembles in ``cvn_sklearn/ensembles/``: fixed meta-learner, named bases.

    A subclass is one short file: ``@register_ensemble(name, base_models=[...])``
    and :meth:`_make_final_estimator`. Base models default to the names given to
    :func:`~cvn_sklearn.registry.register_ensemble`; the stack always uses the
    bases' ``predict_proba`` and binary targets.

    Like every adapter fit, :meth:`fit` emits ``training_started`` and
    ``model_fit`` with the ensemble's registry name as ``model_type``
    (``n_estimators_final`` is the number of base models kept,
    ``best_iteration`` is ``None``), whether the base fits ran or came from the
    OOS store.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from cvn_sklearn.model_selection import WalkForwardSplit
    >>> from cvn_sklearn.registry import registry
    >>> X, y = make_classification(n_samples=300, random_state=0)
    >>> blend = registry["blend_avg"](base_models=["logreg", "extra_trees"], cv=WalkForwardSplit(4))
    >>> blend.fit(X, y).predict_proba(X[:2]).shape, int(blend.coverage_.sum())
    ((2, 2), 240)

    Parameters
    ----------
    base_models : list, default=None
        Registry names, estimators or ``(name, estimator)`` pairs, as for
        :class:`StackingClassifier`'s ``estimators``; ``None`` uses the
        ensemble's registered defaults.
    cv : int, cross-validation generator or iterable, default=None
        ``None`` means ``WalkForwardSplit(n_splits=5)``.
    n_jobs : int, default=None
        Folds fitted in parallel through joblib.
    cache : bool, str, os.PathLike or OOSStore, default=True
        Where base-model work is shared, as for :class:`StackingClassifier`.
    """

    _estimators_param = "base_models"
    stack_method = "predict_proba"
    passthrough = False
    verbose = 0

    _parameter_constraints: dict = {
        "base_models": [list, None],
        "cv": ["cv_object"],
        "n_jobs": [None, Integral],
        "cache": ["boolean", str, os.PathLike, OOSStore],
    }

    def __init__(self, base_models=None, *, cv=None, n_jobs=None, cache=True):
        self.base_models = base_models
        self.cv = cv
        self.n_jobs = n_jobs
        self.cache = cache

    def _base_entries(self):
        return [_named(entry) for entry in self.base_models or type(self)._cvn_base_models]

    @property
    def final_estimator(self):
        """The meta-learner the ensemble's class fixes (:meth:`_make_final_estimator`); not a parameter."""
        return self._make_final_estimator()

    def _make_final_estimator(self):
        """The unfitted meta-learner; an ensemble file overrides it."""
        return LogisticRegression()

    def fit(self, X, y, **fit_params):
        """Fit the ensemble on binary targets; see :meth:`StackingClassifier.fit`.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training rows, in time order for walk-forward splitters.
        y : array-like of shape (n_samples,)
            Binary target labels.
        **fit_params : dict
            Metadata, as for :meth:`StackingClassifier.fit`.

        Returns
        -------
        self : object
            Fitted ensemble.
        """
        y_type = type_of_target(y, input_name="y", raise_unknown=True)
        if y_type != "binary":
            raise ValueError(
                f"Only binary classification is supported. The type of the target is {y_type}; "
                "ensembles blend the probability of the positive class."
            )
        started = perf_counter()
        shape = check_array(X, accept_sparse=True, ensure_all_finite=False, dtype=None).shape
        labels = np.asarray(y)
        share = buy_pct(labels, np.unique(labels)[-1])
        # the same two events as every adapter fit, so a train_one run of an ensemble carries
        # the same event names as a model's, whether or not its base fits came from the store
        emit(
            "training_started",
            model_type=model_type(self),
            dataset_n_train=shape[0],
            dataset_n_features=shape[1],
            n_classes=2,
            class_dist_buy_pct=share,
            early_stopping_rounds=None,
            n_val_early_stopping=0,
        )
        super().fit(X, y, **fit_params)
        emit(
            "model_fit",
            model_type=model_type(self),
            n_estimators_final=len(self.estimators_),
            best_iteration=None,
            training_time_sec=perf_counter() - started,
            dataset_n_train=shape[0],
            dataset_n_features=shape[1],
            class_dist_buy_pct=share,
        )
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags
