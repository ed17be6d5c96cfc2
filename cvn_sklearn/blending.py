"""Meta-learners that blend the base models' probabilities of the positive class.

:class:`BlendClassifier` averages them with fixed, AUC-proportional or
non-negative least-squares weights; :class:`ShrunkLogitBlend` is a logistic
regression on their logits, shrunk toward equal weights. Both take a matrix of
probabilities (one column per base model) and are the final estimators of the
registry ensembles in ``cvn_sklearn/ensembles/``.
"""

import warnings
from numbers import Real

import numpy as np
from scipy.optimize import minimize, nnls
from scipy.special import expit, logit
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.metrics import roc_auc_score
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from cvn_sklearn._sklearn_compat import Interval, StrOptions, _fit_context

__all__ = ["BlendClassifier", "ShrunkLogitBlend"]

def _equal_weights(P, positive, sample_weight):
    return np.full(P.shape[1], 1 / P.shape[1]), 0.0


def _auc_weights(P, positive, sample_weight):
    aucs = np.array([roc_auc_score(positive, column, sample_weight=sample_weight) for column in P.T])
    return aucs / aucs.sum(), 0.0


def _nnls_weights(P, positive, sample_weight):
    """Non-negative least squares with a free intercept (fitted on weighted-centred columns)."""
    share = sample_weight / sample_weight.sum()
    P_mean, positive_rate = share @ P, share @ positive
    root = np.sqrt(sample_weight)
    weights, _ = nnls((P - P_mean) * root[:, None], (positive - positive_rate) * root)
    if not weights.any():
        warnings.warn(
            "Non-negative least squares gave every member weight 0: no base model's probabilities track the "
            "positive class on these rows, so the blend predicts the base rate.",
            UserWarning,
        )
    return weights, positive_rate - P_mean @ weights


_WEIGHTINGS = {"equal": _equal_weights, "auc": _auc_weights, "nnls": _nnls_weights}


def _positive_class_data(estimator, X, y, sample_weight):
    """Validate a binary meta-learner's inputs; returns (P, is_positive, sample_weight)."""
    X, y = validate_data(estimator, X, y)
    check_classification_targets(y)
    estimator.classes_ = np.unique(y)
    if estimator.classes_.size != 2:
        raise ValueError(
            f"Only binary classification is supported; got {estimator.classes_.size} class(es). "
            f"{type(estimator).__name__} blends the probability of the positive class."
        )
    sample_weight = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    return _check_probabilities(estimator, X), y == estimator.classes_[1], sample_weight


def _check_probabilities(estimator, X):
    if np.any((X < 0) | (X > 1)):
        raise ValueError(
            f"{type(estimator).__name__} blends probabilities, but its input has values outside [0, 1]. "
            "Feed it base models' predict_proba output (stack_method='predict_proba')."
        )
    return X


class _BinaryBlendMixin:
    """fit / predict_proba / predict of the blending meta-learners.

    A subclass implements ``_fit_blend(P, positive, sample_weight)`` and
    ``_blend(P)`` (the probability of the positive class).
    """

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the blend.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_members)
            Probabilities of the positive class, one column per member.
        y : array-like of shape (n_samples,)
            Binary labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights.

        Returns
        -------
        self : object
            Fitted blend.
        """
        self._fit_blend(*_positive_class_data(self, X, y, sample_weight))
        return self

    def predict_proba(self, X):
        """Blended class probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_members)
            Probabilities of the positive class, one column per member.

        Returns
        -------
        proba : ndarray of shape (n_samples, 2)
            Probabilities of ``classes_``.
        """
        check_is_fitted(self)
        positive = self._blend(_check_probabilities(self, validate_data(self, X, reset=False)))
        return np.column_stack([1 - positive, positive])

    def predict(self, X):
        """Predict the class whose blended probability is at least 0.5.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_members)
            Probabilities of the positive class, one column per member.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Predicted labels.
        """
        return self.classes_[(self.predict_proba(X)[:, 1] >= 0.5).astype(int)]


class BlendClassifier(_BinaryBlendMixin, ClassifierMixin, BaseEstimator):
    """Weighted average of base-model probabilities of the positive class.

    The meta-learner of the blend ensembles. Each input column is one base
    model's out-of-sample probability of the positive class; the output is
    ``intercept_ + X @ weights_``, clipped to [0, 1].

    Parameters
    ----------
    weights : {"equal", "auc", "nnls"}, default="equal"
        ``"equal"``: the mean. ``"auc"``: weights proportional to each column's
        ROC AUC, summing to one. ``"nnls"``: non-negative least squares of the
        0/1 target on the columns with a free intercept; the solution is sparse
        (members that do not help get exactly 0). If every member gets 0, a
        warning says so and the blend predicts the base rate.

    Attributes
    ----------
    weights_ : ndarray of shape (n_features_in_,)
        Non-negative weight of each column.
    intercept_ : float
        0 for ``"equal"`` and ``"auc"``; the fitted intercept for ``"nnls"``.
    classes_ : ndarray of shape (2,)
        Class labels.
    n_features_in_ : int
        Number of blended members.

    See Also
    --------
    ShrunkLogitBlend : Logistic blend shrunk toward equal weights.

    Examples
    --------
    >>> import numpy as np
    >>> from cvn_sklearn.blending import BlendClassifier
    >>> P = np.array([[0.9, 0.6], [0.2, 0.5], [0.8, 0.4], [0.1, 0.3]])
    >>> blend = BlendClassifier().fit(P, [1, 0, 1, 0])
    >>> blend.weights_, blend.predict_proba(P[:1]).round(2)
    (array([0.5, 0.5]), array([[0.25, 0.75]]))
    """

    _parameter_constraints: dict = {"weights": [StrOptions(set(_WEIGHTINGS))]}

    def __init__(self, weights="equal"):
        self.weights = weights

    def _fit_blend(self, P, positive, sample_weight):
        self.weights_, self.intercept_ = _WEIGHTINGS[self.weights](P, positive, sample_weight)

    def _blend(self, P):
        return np.clip(self.intercept_ + P @ self.weights_, 0, 1)


class ShrunkLogitBlend(_BinaryBlendMixin, ClassifierMixin, BaseEstimator):
    """Logistic regression on base-model logits, shrunk toward equal weights.

    Fits ``P(positive) = expit(intercept_ + logit(P) @ coef_)`` by penalised
    log-loss where the penalty is ``shrinkage * sum((coef_ - coef_.mean())**2)``:
    it pulls the members toward one common weight (an equal-weight logit
    average with a fitted scale and intercept), not toward zero. A large
    ``shrinkage`` keeps the weights nearly equal unless the data say otherwise.

    Parameters
    ----------
    shrinkage : float, default=10.0
        Strength of the pull toward equal weights (0 is plain logistic
        regression on logits).

    Attributes
    ----------
    coef_ : ndarray of shape (n_features_in_,)
        Weight of each member's logit.
    intercept_ : float
        Intercept on the logit scale.
    classes_ : ndarray of shape (2,)
        Class labels.
    n_features_in_ : int
        Number of blended members.

    See Also
    --------
    BlendClassifier : Fixed-rule and non-negative blends.

    Examples
    --------
    >>> import numpy as np
    >>> from cvn_sklearn.blending import ShrunkLogitBlend
    >>> rng = np.random.RandomState(0)
    >>> y = rng.randint(0, 2, 200)
    >>> P = np.clip(np.column_stack([0.5 + 0.3 * (y - 0.5), rng.uniform(size=200)]), 0.01, 0.99)
    >>> blend = ShrunkLogitBlend(shrinkage=1000.0).fit(P, y)
    >>> bool(abs(blend.coef_[0] - blend.coef_[1]) < 0.05)
    True
    """

    _parameter_constraints: dict = {"shrinkage": [Interval(Real, 0, None, closed="left")]}

    _EPS = 1e-6

    def __init__(self, shrinkage=10.0):
        self.shrinkage = shrinkage

    def _fit_blend(self, P, positive, sample_weight):
        Z = self._logits(P)
        args = (Z, positive.astype(float), sample_weight / sample_weight.sum(), self.shrinkage)
        solution = minimize(_shrunk_log_loss, np.zeros(Z.shape[1] + 1), args=args, jac=True, method="L-BFGS-B").x
        self.coef_, self.intercept_ = solution[:-1], float(solution[-1])

    def _blend(self, P):
        return expit(self._logits(P) @ self.coef_ + self.intercept_)

    def _logits(self, P):
        return logit(np.clip(P, self._EPS, 1 - self._EPS))


def _shrunk_log_loss(params, Z, y, weight, shrinkage):
    """Weighted log-loss plus the pull toward equal weights, and its gradient."""
    coef, intercept = params[:-1], params[-1]
    eta = Z @ coef + intercept
    deviation = coef - coef.mean()
    residual = weight * (expit(eta) - y)
    loss = weight @ (np.logaddexp(0, eta) - y * eta) + shrinkage * deviation @ deviation
    return loss, np.append(Z.T @ residual + 2 * shrinkage * deviation, residual.sum())
