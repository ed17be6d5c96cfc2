"""LightGBM gradient-boosted trees."""

import difflib
import functools
import inspect
from numbers import Integral, Real

from cvn_sklearn._sklearn_compat import Interval
from cvn_sklearn.adapter import Adapter
from cvn_sklearn.registry import register_model

_NON_NEGATIVE = [Interval(Real, 0, None, closed="left")]
_SHARE = [Interval(Real, 0, 1, closed="right")]


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
    fit_cost = ("n_estimators", "num_leaves")  # rows x features x rounds x leaves per tree
    hyperparameters = dict(
        n_estimators=300, learning_rate=0.05, num_leaves=31, max_depth=-1, min_child_samples=20,
        subsample=1.0, subsample_freq=0, colsample_bytree=1.0, reg_alpha=0.0, reg_lambda=0.0,
        random_state=0, n_jobs=None, verbose=-1,
    )
    parameter_constraints = dict(
        n_estimators=[Interval(Integral, 1, None, closed="left")], learning_rate=[Interval(Real, 0, None, closed="neither")],
        num_leaves=[Interval(Integral, 2, 131072, closed="both")], max_depth=[Integral],
        min_child_samples=[Interval(Integral, 0, None, closed="left")], subsample=_SHARE,
        subsample_freq=[Interval(Integral, 0, None, closed="left")], colsample_bytree=_SHARE, reg_alpha=_NON_NEGATIVE,
        reg_lambda=_NON_NEGATIVE, random_state=["random_state"], n_jobs=[Integral, None], verbose=[Integral],
    )

    def _check_params(self):
        """LightGBM ignores a parameter it does not know (a typo): here it is an error naming it."""
        unknown = sorted(set(self.params or {}) - _known_parameters())
        if unknown:
            close = {name: difflib.get_close_matches(name, _known_parameters(), n=1) for name in unknown}
            hints = "".join(f" Did you mean {match[0]!r} for {name!r}?" for name, match in close.items() if match)
            raise ValueError(
                f"LightGBM does not know the params {unknown}.{hints} Use LightGBM's parameter names "
                "(https://lightgbm.readthedocs.io/en/latest/Parameters.html)."
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

    def _native_to_bytes(self, native):
        """The booster as LightGBM's text model (trees up to the best iteration)."""
        return native.booster_.model_to_string().encode()

    def _native_from_bytes(self, data):
        """An ``LGBMClassifier`` around the booster read back from its text model.

        LightGBM's scikit-learn wrapper has no loader, so the few attributes its
        ``predict_proba`` reads are set here; the round-trip tests pin them.
        """
        import lightgbm

        native = self._native_class()(**self._native_params(self.categorical_features_))
        native._Booster = lightgbm.Booster(model_str=data.decode())
        native._n_features = native.n_features_in_ = native._Booster.num_feature()
        native._n_classes = len(self.classes_)
        native._objective = "binary" if native._n_classes == 2 else "multiclass"
        native.fitted_ = True
        return native

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


@functools.lru_cache(maxsize=1)
def _known_parameters() -> frozenset:
    """Every LightGBM parameter name and alias, and the arguments of ``LGBMClassifier``."""
    import lightgbm
    from lightgbm.basic import _ConfigAliases

    names = set(inspect.signature(lightgbm.LGBMClassifier).parameters) - {"kwargs"}
    for name, aliases in _ConfigAliases._get_all_param_aliases().items():
        names |= {name, *aliases}
    return frozenset(names)
