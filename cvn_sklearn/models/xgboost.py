"""XGBoost gradient-boosted trees."""

from numbers import Integral, Real

from cvn_sklearn._sklearn_compat import Interval, StrOptions
from cvn_sklearn.adapter import Adapter
from cvn_sklearn.registry import register_model

_POSITIVE_INT = [Interval(Integral, 1, None, closed="left")]
_NON_NEGATIVE = [Interval(Real, 0, None, closed="left")]
_SHARE = [Interval(Real, 0, 1, closed="right")]


@register_model("xgboost")
class XGBoost(Adapter):
    """XGBoost classifier through the one adapter (native: ``xgboost.XGBClassifier``).

    Parameters are XGBoost's own names; any other XGBoost parameter goes in
    ``params``. See :class:`cvn_sklearn.adapter.Adapter` for ``class_weight``,
    ``early_stopping_rounds`` and ``validation_fraction``.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from cvn_sklearn.registry import registry
    >>> X, y = make_classification(n_samples=200, random_state=0)
    >>> clf = registry["xgboost"](n_estimators=20).fit(X, y)
    >>> clf.predict_proba(X).shape
    (200, 2)
    """

    native = "xgboost:XGBClassifier"
    library = import_name = "xgboost"
    fit_cost = ("n_estimators", ("2**max_depth", 8))  # rows x features x rounds x leaves per tree (256 for unlimited depth)
    iterative = allow_nan = categorical = True
    hyperparameters = dict(
        n_estimators=300, learning_rate=0.05, max_depth=6, min_child_weight=1.0, subsample=1.0,
        colsample_bytree=1.0, reg_lambda=1.0, reg_alpha=0.0, gamma=0.0, max_bin=256, tree_method="hist",
        random_state=0, n_jobs=None,
    )
    parameter_constraints = dict(
        n_estimators=_POSITIVE_INT, learning_rate=[Interval(Real, 0, None, closed="neither")],
        max_depth=[Interval(Integral, 0, None, closed="left")], min_child_weight=_NON_NEGATIVE, subsample=_SHARE,
        colsample_bytree=_SHARE, reg_lambda=_NON_NEGATIVE, reg_alpha=_NON_NEGATIVE, gamma=_NON_NEGATIVE,
        max_bin=[Interval(Integral, 2, None, closed="left")], tree_method=[StrOptions({"hist", "approx", "exact", "auto"})],
        random_state=["random_state"], n_jobs=[Integral, None],
    )

    def _native_params(self, categorical):
        extra = {"enable_categorical": True} if categorical else {}
        if getattr(self, "early_stopping_rounds", None) is not None:
            extra["early_stopping_rounds"] = self.early_stopping_rounds
        return {**super()._native_params(categorical), **extra}

    def _fit_native(self, native, X, y, sample_weight, eval_set, categorical):
        kwargs = {}
        if eval_set is not None:
            X_val, y_val, w_val = eval_set
            kwargs = {"eval_set": [(X_val, y_val)], "sample_weight_eval_set": None if w_val is None else [w_val]}
        native.fit(X, y, sample_weight=sample_weight, verbose=False, **kwargs)

    def _rounds(self, native):
        if getattr(self, "early_stopping_rounds", None) is not None:
            return native.best_iteration, native.best_iteration + 1
        n = native.get_booster().num_boosted_rounds()
        return n - 1, n

    def _native_to_bytes(self, native):
        """The booster in XGBoost's UBJSON model format."""
        return bytes(native.get_booster().save_raw("ubj"))

    def _native_from_bytes(self, data):
        native = self._native_class()(**self._native_params(self.categorical_features_))
        native.load_model(bytearray(data))
        return native

    @staticmethod
    def search_space(trial):
        """Optuna search space, by native parameter names."""
        return {
            "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
            "max_depth": trial.suggest_int("max_depth", 2, 8),
            "min_child_weight": trial.suggest_float("min_child_weight", 0.5, 20.0, log=True),
            "subsample": trial.suggest_float("subsample", 0.5, 1.0),
            "colsample_bytree": trial.suggest_float("colsample_bytree", 0.5, 1.0),
            "reg_lambda": trial.suggest_float("reg_lambda", 1e-3, 10.0, log=True),
        }
