"""stack_nonneg: non-negative, sparse blending weights; zero-weight members are dropped."""

from itertools import compress

from cvn_sklearn.registry import register_ensemble
from cvn_sklearn.blending import BlendClassifier
from cvn_sklearn.stacking import RegistryEnsemble


@register_ensemble("stack_nonneg", base_models=["xgboost", "lightgbm", "catboost"])
class StackNonneg(RegistryEnsemble):
    """Non-negative least-squares blend that drops the members it gives weight 0.

    The meta-learner is ``BlendClassifier(weights="nnls")``: non-negative least
    squares, with an intercept, of the 0/1 target on the members' out-of-sample
    probabilities, as R's ``stacks`` package blends with non-negative weights.
    Its solutions are sparse; members with weight 0 are dropped (not evaluated
    at prediction time, shown as ``"drop"`` in ``named_estimators_``), and the
    kept members and their weights are reported. If no member earns a positive
    weight, a warning says so, nothing is dropped, and the ensemble predicts
    the base rate.

    Parameters and fitting policy as in :class:`~cvn_sklearn.stacking.RegistryEnsemble`.

    Attributes
    ----------
    kept_members_ : list of str
        Names of the members with positive weight, in base-model order.
    weights_ : dict of str to float
        Non-negative least-squares weight of each kept member (the intercept is
        ``final_estimator_.intercept_``).

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from cvn_sklearn.registry import registry
    >>> X, y = make_classification(n_samples=240, random_state=0)
    >>> stack = registry["stack_nonneg"](base_models=["logreg", "extra_trees"]).fit(X, y)
    >>> set(stack.kept_members_) <= {"logreg", "extra_trees"}, all(w > 0 for w in stack.weights_.values())
    (True, True)
    """

    def _make_final_estimator(self):
        return BlendClassifier(weights="nnls")

    def _fit_final_estimator(self, X, y, predictions, fit_params):
        super()._fit_final_estimator(X, y, predictions, fit_params)
        members = [name for name, est in self.named_estimators_.items() if not isinstance(est, str)]
        keep = self.final_estimator_.weights_ > 0
        if keep.any() and not keep.all():
            self.estimators_ = list(compress(self.estimators_, keep))
            self.stack_method_ = list(compress(self.stack_method_, keep))
            self.named_estimators_.update(dict.fromkeys(compress(members, ~keep), "drop"))
            super()._fit_final_estimator(X, y, list(compress(predictions, keep)), fit_params)
        self.kept_members_ = list(compress(members, keep))
        self.weights_ = dict(zip(self.kept_members_, self.final_estimator_.weights_.tolist()))
