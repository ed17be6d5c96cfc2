"""A real classifier that counts its fits, to prove cache reuse without timing."""

from collections import Counter

from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted

FITS: Counter = Counter()


class CountingClassifier(ClassifierMixin, BaseEstimator):
    """Logistic regression that adds one to ``FITS[label]`` per fit and records the fit sizes."""

    sizes: list = []

    def __init__(self, label="base", C=1.0):
        self.label = label
        self.C = C

    def fit(self, X, y, sample_weight=None):
        FITS[self.label] += 1
        type(self).sizes.append((self.label, len(X), sample_weight is not None))
        self.model_ = LogisticRegression(C=self.C).fit(X, y, sample_weight=sample_weight)
        self.classes_ = self.model_.classes_
        self.n_features_in_ = self.model_.n_features_in_
        return self

    def predict_proba(self, X):
        check_is_fitted(self)
        return self.model_.predict_proba(X)

    def predict(self, X):
        check_is_fitted(self)
        return self.model_.predict(X)


def reset():
    FITS.clear()
    CountingClassifier.sizes = []
