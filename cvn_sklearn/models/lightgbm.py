"""LightGBM gradient-boosted trees."""

from cvn_sklearn.adapter import Adapter
from cvn_sklearn.registry import register_model


@register_model("lightgbm")
class LightGBM(Adapter):
    """LightGBM classifier through the one adapter (native: ``lightgbm.LGBMClassifier``).

    Parameters are LightGBM's own names; any other LightGBM parameter goes in
    ``params``. See :class:`cvn_sklearn.adapter.Adapter` for ``class_weight``,
    ``early_stopping_rounds`` and ``validation_fraction``.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from cvn_sklearn.registry import registry
    >>> X, y = make_classification(n_samples=200, random_state=0)
    >>> clf = registry["lightgbm"](n_estimators=20).fit(X, y)
    >>> clf.predict(X[:3]).shape
    (3,)
    """

    native = "lightgbm:LGBMClassifier"
    library = import_name = "lightgbm"
    iterative = allow_nan = categorical = True
    hyperparameters = dict(
        n_estimators=300, learning_rate=0.05, num_leaves=31, max_depth=-1, min_child_samples=20,
        subsample=1.0, subsample_freq=0, colsample_bytree=1.0, reg_alpha=0.0, reg_lambda=0.0,
        random_state=0, n_jobs=None, verbose=-1,
    )

    def _fit_native(self, native, X, y, sample_weight, eval_set, categorical):
        kwargs = {}
        if eval_set is not None:
            import lightgbm

            X_val, y_val, w_val = eval_set
            kwargs = {
                "eval_X": (X_val,),
                "eval_y": (y_val,),
                "eval_sample_weight": None if w_val is None else [w_val],
                "callbacks": [lightgbm.early_stopping(self.early_stopping_rounds, verbose=False)],
            }
        native.fit(X, y, sample_weight=sample_weight, **kwargs)

    def _rounds(self, native):
        n = native.best_iteration_ or native.booster_.current_iteration()
        return n - 1, n

    @staticmethod
    def search_space(trial):
        """Optuna search space, by native parameter names."""
        return {
            "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
            "num_leaves": trial.suggest_int("num_leaves", 7, 127, log=True),
            "min_child_samples": trial.suggest_int("min_child_samples", 5, 100, log=True),
            "subsample": trial.suggest_float("subsample", 0.5, 1.0),
            "subsample_freq": trial.suggest_int("subsample_freq", 0, 5),
            "colsample_bytree": trial.suggest_float("colsample_bytree", 0.5, 1.0),
            "reg_lambda": trial.suggest_float("reg_lambda", 1e-3, 10.0, log=True),
        }
