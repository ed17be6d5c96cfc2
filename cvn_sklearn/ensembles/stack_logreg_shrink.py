"""stack_logreg_shrink: logistic stacking strongly shrunk toward equal weights."""

from cvn_sklearn.registry import register_ensemble
from cvn_sklearn.blending import ShrunkLogitBlend
from cvn_sklearn.stacking import RegistryEnsemble


@register_ensemble("stack_logreg_shrink", base_models=["xgboost", "lightgbm", "catboost"])
class StackLogregShrink(RegistryEnsemble):
    """Logistic regression on the base logits, shrunk hard toward equal member weights.

    With few out-of-sample rows a free logistic meta-learner over-fits the
    member weights; this one pays ``shrinkage * sum((w - mean(w))**2)`` for any
    departure from equal weights (not from zero), so it stays close to a
    logit average unless the data insist.

    Parameters and fitting policy as in :class:`~cvn_sklearn.stacking.RegistryEnsemble`;
    the meta-learner is ``ShrunkLogitBlend(shrinkage=10.0)``.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from cvn_sklearn.registry import registry
    >>> X, y = make_classification(n_samples=240, random_state=0)
    >>> stack = registry["stack_logreg_shrink"](base_models=["logreg", "extra_trees"]).fit(X, y)
    >>> stack.final_estimator_.coef_.shape
    (2,)
    """

    def _make_final_estimator(self):
        return ShrunkLogitBlend(shrinkage=10.0)
