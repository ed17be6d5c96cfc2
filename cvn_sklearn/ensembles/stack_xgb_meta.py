"""stack_xgb_meta: a shallow XGBoost meta-learner on the base probabilities."""

from cvn_sklearn.registry import register_ensemble, registry
from cvn_sklearn.stacking import RegistryEnsemble


@register_ensemble("stack_xgb_meta", base_models=["xgboost", "lightgbm", "catboost"])
class StackXGBMeta(RegistryEnsemble):
    """Stacking with a shallow XGBoost meta-learner (depth 2, 50 rounds), through the adapter.

    The trees can learn interactions between members (trust one model where
    the others disagree) that a linear meta-learner cannot.

    Parameters and fitting policy as in :class:`~cvn_sklearn.stacking.RegistryEnsemble`.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from cvn_sklearn.registry import registry
    >>> X, y = make_classification(n_samples=240, random_state=0)
    >>> stack = registry["stack_xgb_meta"](base_models=["logreg", "extra_trees"]).fit(X, y)
    >>> stack.final_estimator_.n_features_in_
    2
    """

    def _make_final_estimator(self):
        return registry["xgboost"](n_estimators=50, max_depth=2, learning_rate=0.1)
