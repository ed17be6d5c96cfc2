"""The registry ensembles: walk-forward fits, shared base fits, plug-in files (estimator checks: test_common)."""

import subprocess
import sys
import textwrap
import uuid
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit
from structlog.testing import capture_logs

from cvn_sklearn import Calibrate, ThetaSweep, make_pipeline
from cvn_sklearn.model_selection import WalkForwardSplit, oos_predict
from cvn_sklearn.registry import registry
from cvn_sklearn.oos_store import default_store
from cvn_sklearn.stacking import RegistryEnsemble

SIX = ["blend_avg", "blend_weighted", "stack_logreg", "stack_logreg_shrink", "stack_nonneg", "stack_xgb_meta"]


def test_all_six_ensembles_are_registered_with_boosting_defaults():
    assert set(SIX) <= set(registry.ensembles)
    for name in SIX:
        ensemble = registry[name]()
        assert isinstance(ensemble, RegistryEnsemble)
        assert list(ensemble.named_estimators) == ["xgboost", "lightgbm", "catboost"]


@pytest.fixture(autouse=True)
def fresh_cache():
    default_store().clear()
    yield
    default_store().clear()


@pytest.fixture
def market():
    rng = np.random.RandomState(0)
    index = pd.date_range("2024-01-01", periods=240, freq="h")
    X = pd.DataFrame(rng.normal(size=(240, 4)), index=index, columns=["ret_1", "ret_5", "vol", "rsi"])
    y = pd.Series(np.where(X["ret_1"] - X["vol"] + rng.normal(size=240) > 0, "buy", "hold"), index=index)
    return X, y


@pytest.mark.parametrize("name", SIX)
def test_ensemble_fits_and_predicts_on_walk_forward_folds(market, name):
    X, y = market
    cv = WalkForwardSplit(4, test_size=40, gap=2, embargo=2)
    ensemble = registry[name](base_models=["logreg", ("hist_gb", registry["hist_gb"](max_iter=20))], cv=cv).fit(X, y)
    np.testing.assert_array_equal(np.flatnonzero(ensemble.coverage_), np.arange(80, 240))
    proba = ensemble.predict_proba(X)
    assert proba.shape == (240, 2) and np.allclose(proba.sum(axis=1), 1)
    assert set(ensemble.predict(X)) <= {"buy", "hold"}
    assert roc_auc_score(y == ensemble.classes_[1], proba[:, 1]) > 0.7
    np.testing.assert_array_equal(ensemble.feature_names_in_, X.columns)


@pytest.mark.parametrize("name", SIX)
def test_ensemble_builds_with_other_bases_by_name(name):
    ensemble = registry[name](base_models=["lightgbm", "logreg"])
    assert list(ensemble.named_estimators) == ["lightgbm", "logreg"]
    assert ensemble.get_params()["base_models"] == ["lightgbm", "logreg"]


def test_ensemble_base_params_are_tunable_once_given_as_estimators():
    ensemble = registry["stack_logreg"](base_models=[("lgb", registry["lightgbm"](n_estimators=10)), "logreg"])
    ensemble.set_params(lgb__n_estimators=20)
    assert ensemble.get_params()["lgb__n_estimators"] == 20
    with pytest.raises(ValueError, match="registry name 'logreg'"):
        ensemble.set_params(logreg__C=0.1)


def test_ensemble_refuses_multiclass_targets(market):
    X, _ = market
    with pytest.raises(ValueError, match="Only binary classification is supported. The type of the target is multiclass"):
        registry["blend_avg"](base_models=["logreg"]).fit(X, np.arange(240) % 3)


def test_six_ensembles_fit_each_base_once_per_fold_plus_one_refit(market):
    X, y = market
    cv, n_folds = WalkForwardSplit(4, test_size=40), 4
    bases = ["logreg", ("hist_gb", registry["hist_gb"](max_iter=10)), ("lightgbm", registry["lightgbm"](n_estimators=10))]
    with capture_logs() as events:
        for name in SIX:
            registry[name](base_models=bases, cv=cv).fit(X, y)
    fits = Counter(e["model_type"] for e in events if e["event"] == "training_started")
    assert fits["logreg"] == fits["hist_gb"] == fits["lightgbm"] == n_folds + 1
    assert fits["xgboost"] == 1  # stack_xgb_meta's meta-learner, not a base


def test_blend_avg_is_the_mean_of_the_refit_bases(market):
    X, y = market
    blend = registry["blend_avg"](base_models=["logreg", "extra_trees"]).fit(X, y)
    mean = np.mean([est.predict_proba(X)[:, 1] for est in blend.estimators_], axis=0)
    np.testing.assert_allclose(blend.predict_proba(X)[:, 1], mean)


def test_blend_weighted_weights_are_the_out_of_sample_aucs(market):
    X, y = market
    cv = WalkForwardSplit(3, test_size=50)
    blend = registry["blend_weighted"](base_models=["logreg", "extra_trees"], cv=cv).fit(X, y)
    aucs = []
    for name in ["logreg", "extra_trees"]:
        proba, covered = oos_predict(registry[name](), X, y, cv=cv)
        aucs.append(roc_auc_score(y[covered] == "hold", proba[covered, 1]))
    np.testing.assert_allclose(blend.final_estimator_.weights_, np.array(aucs) / sum(aucs))


class Contrarian(ClassifierMixin, BaseEstimator):
    """A real classifier that predicts the opposite of a logistic regression."""

    def fit(self, X, y):
        self.model_ = LogisticRegression().fit(X, y)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X):
        return self.model_.predict_proba(X)[:, ::-1]


def test_stack_nonneg_drops_zero_weight_members_and_reports_the_kept(market):
    X, y = market
    stack = registry["stack_nonneg"](base_models=["logreg", ("contrarian", Contrarian())]).fit(X, y)
    assert stack.kept_members_ == ["logreg"] and list(stack.weights_) == ["logreg"] and stack.weights_["logreg"] > 0
    assert stack.named_estimators_["contrarian"] == "drop" and len(stack.estimators_) == 1
    assert list(stack.get_feature_names_out()) == ["stacknonneg_logreg"]
    logreg = stack.estimators_[0].predict_proba(X)[:, 1]
    expected = np.clip(stack.final_estimator_.intercept_ + stack.weights_["logreg"] * logreg, 0, 1)
    np.testing.assert_allclose(stack.predict_proba(X)[:, 1], expected)


def test_stack_nonneg_with_no_useful_member_warns_and_predicts_the_base_rate(market):
    X, y = market
    with pytest.warns(UserWarning, match="every member weight 0.*base rate"):
        stack = registry["stack_nonneg"](base_models=[("contrarian", Contrarian())]).fit(X, y)
    assert stack.kept_members_ == [] and stack.weights_ == {}
    rate = np.mean(y[stack.coverage_] == stack.classes_[1])
    np.testing.assert_allclose(stack.predict_proba(X)[:, 1], rate)


def test_seventh_ensemble_file_is_discovered_with_no_other_change(tmp_path):
    name = f"blend_seventh_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(f'''
        """A throw-away ensemble written by a test."""
        from cvn_sklearn.registry import register_ensemble
        from cvn_sklearn.blending import BlendClassifier
        from cvn_sklearn.stacking import RegistryEnsemble


        @register_ensemble("{name}", base_models=["logreg"])
        class Seventh(RegistryEnsemble):
            """Mean of one base."""

            def _make_final_estimator(self):
                return BlendClassifier()
    '''))
    # a fresh interpreter whose cvn_sklearn.ensembles package also spans tmp_path: the file is one
    # more module of that package, as if dropped into ensembles/, without touching the source tree
    script = textwrap.dedent(f"""
        import numpy as np
        import cvn_sklearn.ensembles
        cvn_sklearn.ensembles.__path__.append({str(tmp_path)!r})
        from cvn_sklearn.registry import Registry
        fresh = Registry()
        X = np.random.RandomState(0).normal(size=(120, 3))
        y = (X[:, 0] > 0).astype(int)
        ensemble = fresh["{name}"]().fit(X, y)
        print("{name}" in fresh.ensembles, ensemble.predict_proba(X[:2]).shape)
    """)
    run = subprocess.run([sys.executable, "-B", "-c", script], capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "True (2, 2)"


@pytest.mark.parametrize("name", SIX)
def test_ensemble_inside_calibrate_theta_pipeline(market, name):
    X, y = market
    ensemble = registry[name](base_models=["logreg", ("hist_gb", registry["hist_gb"](max_iter=20))],
                              cv=WalkForwardSplit(3))
    pipe = make_pipeline(Calibrate(), ThetaSweep(pos_label="buy"), ensemble).fit(X, y)
    fitted = pipe[-1]
    stack = fitted.estimators_[0]
    assert type(stack) is registry[name] and stack.coverage_.sum() == 3 * (len(stack.coverage_) // 4)
    proba = pipe.predict_proba(X)
    assert proba.shape == (240, 2) and np.allclose(proba.sum(axis=1), 1)
    assert list(fitted.classes_) == ["buy", "hold"]  # θ applies to P("buy"), column 0
    np.testing.assert_array_equal(pipe.predict(X), np.where(proba[:, 0] >= fitted.theta_, "buy", "hold"))


def test_calibrated_pipelines_stack_as_base_models(market):
    X, y = market
    calibrated_logreg = make_pipeline(Calibrate(method="sigmoid"), registry["logreg"]())
    stack = registry["stack_logreg_shrink"](base_models=[("calibrated_logreg", calibrated_logreg), "extra_trees"],
                                            cv=WalkForwardSplit(3)).fit(X, y)
    assert stack.named_estimators_["calibrated_logreg"][-1].calibrators_
    assert stack.get_params()["calibrated_logreg__calibrate__method"] == "sigmoid"
    assert roc_auc_score(y == stack.classes_[1], stack.predict_proba(X)[:, 1]) > 0.7


def test_ensemble_tunes_base_params_in_grid_search_on_time_folds(market):
    X, y = market
    ensemble = registry["blend_weighted"](base_models=[("lr", registry["logreg"]()), "extra_trees"], cv=3)
    search = GridSearchCV(ensemble, {"lr__C": [0.001, 1.0]}, cv=TimeSeriesSplit(3), scoring="roc_auc").fit(X, y)
    assert search.best_params_ == {"lr__C": 1.0}
    assert search.best_estimator_.named_estimators_["lr"].C == 1.0
    assert "<label>lr</label>" in search._repr_html_()
    assert "<label>xgboost</label>" in registry["blend_avg"]()._repr_html_()
