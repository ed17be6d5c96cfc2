"""scikit-learn's histogram gradient boosting."""

import numpy as np

from cvn_sklearn.adapter import Adapter
from cvn_sklearn.registry import register_model


@register_model("hist_gb")
class HistGB(Adapter):
    """Histogram gradient boosting (native: ``sklearn.ensemble.HistGradientBoostingClassifier``).

    scikit-learn's own early stopping draws a shuffled validation set; here it
    is off, and the adapter's time-ordered early stopping is used instead. The
    native model is then refitted with the best number of rounds, so
    ``predict`` uses exactly ``best_iteration_ + 1`` rounds.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from cvn_sklearn.registry import registry
    >>> X, y = make_classification(n_samples=300, random_state=0)
    >>> clf = registry["hist_gb"](max_iter=200, early_stopping_rounds=5).fit(X, y)
    >>> clf.n_estimators_final_ < 200
    True
    """

    native = "sklearn.ensemble:HistGradientBoostingClassifier"
    iterative = allow_nan = categorical = True
    fit_cost = ("max_iter", ("max_leaf_nodes", 32))  # rows x features x rounds x leaves per tree
    hyperparameters = dict(
        max_iter=200, learning_rate=0.1, max_leaf_nodes=31, max_depth=None, min_samples_leaf=20,
        l2_regularization=0.0, max_features=1.0, max_bins=255, random_state=0,
    )

    def _native_params(self, categorical):
        return {**super()._native_params(categorical), "early_stopping": False}

    def _fit_native(self, native, X, y, sample_weight, eval_set, categorical):
        if eval_set is None:
            native.fit(X, y, sample_weight=sample_weight)
            return
        X_val, y_val, w_val = eval_set
        native.set_params(early_stopping=True, n_iter_no_change=self.early_stopping_rounds, scoring="loss")
        native.fit(X, y, sample_weight=sample_weight, X_val=X_val, y_val=y_val, sample_weight_val=w_val)
        best_rounds = max(int(np.argmax(native.validation_score_)), 1)
        native.set_params(early_stopping=False, max_iter=best_rounds)
        native.fit(X, y, sample_weight=sample_weight)

    def _rounds(self, native):
        return native.n_iter_ - 1, native.n_iter_

    @staticmethod
    def search_space(trial):
        """Optuna search space, by native parameter names."""
        return {
            "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
            "max_leaf_nodes": trial.suggest_int("max_leaf_nodes", 7, 127, log=True),
            "min_samples_leaf": trial.suggest_int("min_samples_leaf", 5, 200, log=True),
            "l2_regularization": trial.suggest_float("l2_regularization", 1e-6, 10.0, log=True),
        }
