"""blend_avg: the mean of the base models' out-of-sample probabilities."""

from cvn_sklearn.registry import register_ensemble
from cvn_sklearn.blending import BlendClassifier
from cvn_sklearn.stacking import RegistryEnsemble


@register_ensemble("blend_avg", base_models=["xgboost", "lightgbm", "catboost"])
class BlendAvg(RegistryEnsemble):
    """Equal-weight average of the base models' probabilities of the positive class.

    Parameters and fitting policy as in :class:`~cvn_sklearn.stacking.RegistryEnsemble`;
    the meta-learner is ``BlendClassifier(weights="equal")``.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from cvn_sklearn.registry import registry
    >>> X, y = make_classification(n_samples=240, random_state=0)
    >>> blend = registry["blend_avg"](base_models=["logreg", "extra_trees"]).fit(X, y)
    >>> blend.final_estimator_.weights_
    array([0.5, 0.5])
    """

    def _make_final_estimator(self):
        return BlendClassifier(weights="equal")
