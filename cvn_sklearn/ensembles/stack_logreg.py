"""stack_logreg: a logistic-regression meta-learner on the base probabilities."""

from sklearn.linear_model import LogisticRegression

from cvn_sklearn.registry import register_ensemble
from cvn_sklearn.stacking import RegistryEnsemble


@register_ensemble("stack_logreg", base_models=["xgboost", "lightgbm", "catboost"])
class StackLogreg(RegistryEnsemble):
    """Stacking with a logistic-regression meta-learner (scikit-learn's default, L2 with C=1).

    Parameters and fitting policy as in :class:`~cvn_sklearn.stacking.RegistryEnsemble`.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from cvn_sklearn.registry import registry
    >>> X, y = make_classification(n_samples=240, random_state=0)
    >>> stack = registry["stack_logreg"](base_models=["logreg", "extra_trees"]).fit(X, y)
    >>> stack.final_estimator_.coef_.shape
    (1, 2)
    """

    def _make_final_estimator(self):
        return LogisticRegression()
