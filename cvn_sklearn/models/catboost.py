"""CatBoost gradient-boosted trees."""

import difflib
import inspect
import tempfile
from numbers import Integral, Real
from pathlib import Path

from cvn_sklearn._sklearn_compat import Interval, StrOptions
from cvn_sklearn.adapter import Adapter
from cvn_sklearn.registry import register_model

_NON_NEGATIVE = [Interval(Real, 0, None, closed="left"), None]

_MISSING = "__missing__"


@register_model("catboost")
class CatBoost(Adapter):
    """CatBoost classifier through the one adapter (native: ``catboost.CatBoostClassifier``).

    Parameters are CatBoost's own names; any other CatBoost parameter goes in
    ``params``. ``None`` leaves a parameter to CatBoost's own default. pandas ``category`` columns become CatBoost ``cat_features`` at
    fit time, so the estimator clones like any other (raw CatBoost does not
    when ``cat_features`` is set). CatBoost writes no ``catboost_info/`` folder.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from cvn_sklearn.registry import registry
    >>> X, y = make_classification(n_samples=200, random_state=0)
    >>> clf = registry["catboost"](iterations=20).fit(X, y)
    >>> clf.predict_proba(X).shape
    (200, 2)
    """

    native = "catboost:CatBoostClassifier"
    library = import_name = "catboost"
    fit_cost = ("iterations", ("2**depth", 6))  # rows x features x rounds x leaves per symmetric tree (CatBoost's depth 6 if None)
    iterative = allow_nan = categorical = True
    hyperparameters = dict(
        iterations=300, learning_rate=0.05, depth=6, l2_leaf_reg=None, random_strength=None,
        bootstrap_type=None, bagging_temperature=None, boosting_type=None, border_count=None, random_seed=0,
        thread_count=None,
    )
    parameter_constraints = dict(
        iterations=[Interval(Integral, 1, None, closed="left")],
        learning_rate=[Interval(Real, 0, None, closed="neither"), None], depth=[Interval(Integral, 1, 16, closed="both"), None],
        l2_leaf_reg=_NON_NEGATIVE, random_strength=_NON_NEGATIVE,
        bootstrap_type=[StrOptions({"Bayesian", "Bernoulli", "MVS", "Poisson", "No"}), None],
        bagging_temperature=_NON_NEGATIVE, boosting_type=[StrOptions({"Ordered", "Plain"}), None],
        border_count=[Interval(Integral, 1, 65535, closed="both"), None], random_seed=[Integral, None],
        thread_count=[Integral, None],
    )

    def _check_params(self):
        """CatBoost's constructor only says "unexpected keyword argument": here the error names the fix."""
        import catboost

        known = set(inspect.signature(catboost.CatBoostClassifier).parameters)
        unknown = sorted(set(self.params or {}) - known)
        if unknown:
            close = {name: difflib.get_close_matches(name, known, n=1) for name in unknown}
            hints = "".join(f" Did you mean {match[0]!r} for {name!r}?" for name, match in close.items() if match)
            raise ValueError(
                f"CatBoost does not know the params {unknown}.{hints} Use CatBoost's parameter names "
                "(https://catboost.ai/docs/en/references/training-parameters/)."
            )

    def _native_params(self, categorical):
        return {**super()._native_params(categorical), "verbose": False, "allow_writing_files": False}

    def _native_X(self, X):
        # CatBoost rejects NaN in cat_features: missing (and unseen) values become one category of their own.
        X = super()._native_X(X)
        for column in self.categorical_features_:
            if _MISSING not in X[column].cat.categories:
                X[column] = X[column].cat.add_categories([_MISSING])
            X[column] = X[column].fillna(_MISSING)
        return X

    def _fit_native(self, native, X, y, sample_weight, eval_set, categorical):
        kwargs = {"cat_features": categorical or None}
        if eval_set is not None:
            from catboost import Pool

            X_val, y_val, w_val = eval_set
            kwargs |= {
                "eval_set": Pool(X_val, y_val, weight=w_val, cat_features=categorical or None),
                "early_stopping_rounds": self.early_stopping_rounds,
                "use_best_model": True,
            }
        native.fit(X, y, sample_weight=sample_weight, **kwargs)

    def _rounds(self, native):
        n = native.tree_count_
        return n - 1, n

    def _native_to_bytes(self, native):
        """The model in CatBoost's ``.cbm`` format."""
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder, "model.cbm")
            native.save_model(str(path), format="cbm")
            return path.read_bytes()

    def _native_from_bytes(self, data):
        native = self._native_class()(**self._native_params(self.categorical_features_))
        return native.load_model(blob=data)

    @staticmethod
    def search_space(trial):
        """Optuna search space, by native parameter names."""
        return {
            "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
            "depth": trial.suggest_int("depth", 3, 8),
            "l2_leaf_reg": trial.suggest_float("l2_leaf_reg", 0.1, 30.0, log=True),
            "random_strength": trial.suggest_float("random_strength", 0.0, 5.0),
            "bagging_temperature": trial.suggest_float("bagging_temperature", 0.0, 2.0),
        }
