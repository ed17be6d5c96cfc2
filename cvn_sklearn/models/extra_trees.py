"""Extremely randomised trees."""

from cvn_sklearn.adapter import Adapter
from cvn_sklearn.registry import register_model


@register_model("extra_trees")
class ExtraTrees(Adapter):
    """Extra-trees (native: ``sklearn.ensemble.ExtraTreesClassifier``); accepts NaN.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from cvn_sklearn.registry import registry
    >>> X, y = make_classification(n_samples=200, random_state=0)
    >>> registry["extra_trees"](n_estimators=10).fit(X, y).classes_
    array([0, 1])
    """

    native = "sklearn.ensemble:ExtraTreesClassifier"
    allow_nan = True
    fit_cost = ("n_estimators", "max_depth")  # rows x features x trees x depth (log2 of the rows when unlimited)
    hyperparameters = dict(
        n_estimators=300, max_depth=None, min_samples_leaf=1, min_weight_fraction_leaf=0.0, max_features="sqrt", bootstrap=False,
        random_state=0, n_jobs=None,
    )

    @staticmethod
    def search_space(trial):
        """Optuna search space, by native parameter names."""
        return {
            "max_depth": trial.suggest_int("max_depth", 2, 16),
            "min_samples_leaf": trial.suggest_int("min_samples_leaf", 1, 100, log=True),
            "max_features": trial.suggest_float("max_features", 0.1, 1.0),
        }
