"""blend_weighted: base probabilities weighted by each base's out-of-sample AUC."""

from cvn_sklearn.registry import register_ensemble
from cvn_sklearn.blending import BlendClassifier
from cvn_sklearn.stacking import RegistryEnsemble


@register_ensemble("blend_weighted", base_models=["xgboost", "lightgbm", "catboost"])
class BlendWeighted(RegistryEnsemble):
    """Average of the base probabilities with weights proportional to their out-of-sample ROC AUC.

    Parameters and fitting policy as in :class:`~cvn_sklearn.stacking.RegistryEnsemble`;
    the meta-learner is ``BlendClassifier(weights="auc")``, fitted on the
    covered rows only, so each AUC is measured out of sample.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from cvn_sklearn.registry import registry
    >>> X, y = make_classification(n_samples=240, random_state=0)
    >>> blend = registry["blend_weighted"](base_models=["logreg", "extra_trees"]).fit(X, y)
    >>> float(blend.final_estimator_.weights_.sum())
    1.0
    """

    def _make_final_estimator(self):
        return BlendClassifier(weights="auc")
