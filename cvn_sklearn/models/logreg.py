"""Logistic-regression baseline."""

from cvn_sklearn.adapter import Adapter
from cvn_sklearn.registry import register_model


@register_model("logreg")
class LogReg(Adapter):
    """Logistic regression baseline (native: ``sklearn.linear_model.LogisticRegression``).

    Scale the features upstream (``make_pipeline(StandardScaler(), ...)``) when
    they live on very different scales.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from cvn_sklearn.registry import registry
    >>> X, y = make_classification(n_samples=200, random_state=0)
    >>> round(registry["logreg"](C=0.1).fit(X, y).score(X, y), 2)
    0.95
    """

    native = "sklearn.linear_model:LogisticRegression"
    default_calibration = "sigmoid"
    hyperparameters = dict(C=1.0, l1_ratio=0.0, solver="lbfgs", max_iter=1000, tol=1e-4, fit_intercept=True)

    @staticmethod
    def search_space(trial):
        """Optuna search space, by native parameter names."""
        return {"C": trial.suggest_float("C", 1e-3, 1e2, log=True)}
