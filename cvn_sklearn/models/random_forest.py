"""Random forest."""

from cvn_sklearn.adapter import Adapter
from cvn_sklearn.registry import register_model


@register_model("random_forest")
class RandomForest(Adapter):
    """Random forest (native: ``sklearn.ensemble.RandomForestClassifier``); accepts NaN.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from cvn_sklearn.registry import registry
    >>> X, y = make_classification(n_samples=200, random_state=0)
    >>> registry["random_forest"](n_estimators=10).fit(X, y).n_estimators_final_
    10
    """

    native = "sklearn.ensemble:RandomForestClassifier"
    allow_nan = True
    fit_cost = ("n_estimators", "max_depth")  # rows x features x trees x depth (log2 of the rows when unlimited)
    hyperparameters = dict(
        n_estimators=300, max_depth=None, min_samples_leaf=1, min_weight_fraction_leaf=0.0, max_features="sqrt", bootstrap=True,
        max_samples=None, random_state=0, n_jobs=None,
    )

    @staticmethod
    def search_space(trial):
        """Optuna search space, by native parameter names."""
        return {
            "max_depth": trial.suggest_int("max_depth", 2, 16),
            "min_samples_leaf": trial.suggest_int("min_samples_leaf", 1, 100, log=True),
            "max_features": trial.suggest_float("max_features", 0.1, 1.0),
        }
