"""scikit-learn's estimator checks over every registry model, ensemble and meta-estimator, as users get them by default.

Models run with their defaults, made small (``SMALL``); ensembles with their
defaults (walk-forward ``cv``, their meta-learner, their three boosting bases),
the bases made small the same way.

Every check runs; none is skipped. The one documented table below has two
parts: ``LIBRARY_LIMITS`` lists the checks a library cannot pass without
changing its own results, and ``BY_DESIGN`` the checks a default
meta-estimator cannot pass by design, each with the evidence. Each entry is
backed by a test that asserts what *does* hold, so the exception is measured,
not assumed. Other test modules (``test_threshold``, ``test_calibration``,
``test_pipeline``) run the full checks again on instances with stratified
hold-outs, reading their exceptions from this table.
"""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_iris, make_blobs
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from cvn_sklearn import Calibrate, CalibratedThetaClassifier, ThetaSweep
from cvn_sklearn.registry import registry

SMALL = {
    "xgboost": dict(n_estimators=10),
    "lightgbm": dict(n_estimators=10),
    "catboost": dict(iterations=10),
    "random_forest": dict(n_estimators=10),
    "extra_trees": dict(n_estimators=10),
    "hist_gb": dict(max_iter=10),
}

# model -> {check name: evidence}. Measured with scikit-learn 1.9.1.
LIBRARY_LIMITS = {
    "xgboost": {
        "check_sample_weight_equivalence_on_dense_data": (
            "XGBoost accumulates gradients in float32: weight 3 on a row and the row repeated 3 times "
            "round differently, so 2 of 45 probabilities differ by ~6e-8 (relative 1.8e-7 > the check's "
            "rtol=1e-7). test_xgboost_weights_equal_repeats_at_float32_precision asserts rtol=1e-6."
        ),
    },
    "catboost": {
        "check_sample_weight_equivalence_on_dense_data": (
            "CatBoost's leaf estimation treats a weight differently from repeated rows even with "
            "bootstrap_type='No', random_strength=0, boosting_type='Plain' (45 of 45 probabilities differ, "
            "e.g. 0.415 vs 0.367). Zero weights still equal removed rows: test_zero_weight_equals_removed_rows."
        ),
    },
    "random_forest": {
        "check_sample_weight_equivalence_on_dense_data": (
            "Bootstrap resampling draws rows uniformly, not by weight (scikit-learn lists the same limit for "
            "its own RandomForestClassifier). With bootstrap=False the check passes: "
            "test_random_forest_without_bootstrap_weights_equal_repeats."
        ),
    },
}


_ONE_CLASS_HOLDOUT = (
    "The default hold-out is the last rows in time order (cv=0.2); the check fits class-sorted data "
    "(iris or [0]*k + [1]*k), so the held-out rows hold one class and {what} cannot be fitted: a clear "
    "ValueError, by design (shuffling would leak the future). With a stratified splitter the check passes: "
    "{evidence}."
)
_CALIBRATE = _ONE_CLASS_HOLDOUT.format(what="a calibrator", evidence="test_calibration.py::test_calibrate_is_a_scikit_learn_estimator")
_THETA = _ONE_CLASS_HOLDOUT.format(what="θ", evidence="test_threshold.py::test_theta_sweep_is_a_scikit_learn_estimator")
_CTC = _ONE_CLASS_HOLDOUT.format(
    what="a calibrator", evidence="test_pipeline.py::test_calibrated_theta_classifier_is_a_scikit_learn_estimator"
)
_STRING_LABELS = (
    "The check fits string labels ('one', 'two') without pos_label; which one is 'buy' is never guessed "
    "from the sort order, so fit raises a ValueError naming pos_label, by design. With pos_label given the "
    "check passes: test_string_labels_pass_the_classes_check_with_pos_label."
)
_NUMERIC_LABELS = (
    "The check fits numeric labels outside {0, 1} and {-1, 1} (such as {1, 2}) without pos_label; which one "
    "is 'buy' is never guessed from the sort order (metrics.buy_label), so fit raises a ValueError naming "
    "pos_label, by design. With pos_label given the same fit passes: "
    "test_numeric_labels_other_than_0_1_pass_with_pos_label."
)
_LABEL_CHECKS = {
    "check_classifiers_classes": _STRING_LABELS,
    "check_estimators_dtypes": _NUMERIC_LABELS,
    "check_fit2d_1feature": _NUMERIC_LABELS,
}

# meta-estimator class -> {check name: evidence}, for the defaults and the stratified instances alike.
BY_DESIGN = {
    "Calibrate": {
        check: _CALIBRATE
        for check in (
            "check_positive_only_tag_during_fit",
            "check_estimators_nan_inf",
            "check_classifier_data_not_an_array",
        )
    },
    "ThetaSweep": {
        **{
            check: _THETA
            for check in (
                "check_positive_only_tag_during_fit",
                "check_estimators_nan_inf",
                "check_classifier_data_not_an_array",
            )
        },
        **_LABEL_CHECKS,
    },
    "CalibratedThetaClassifier": {
        **{
            check: _CTC
            for check in (
                "check_dont_overwrite_parameters",
                "check_positive_only_tag_during_fit",
                "check_estimators_nan_inf",
                "check_f_contiguous_array_estimator",
                "check_classifier_data_not_an_array",
                "check_methods_sample_order_invariance",
                "check_methods_subset_invariance",
                "check_dict_unchanged",
                "check_fit2d_predict1d",
            )
        },
        **_LABEL_CHECKS,
    },
}
_WALK_FORWARD_ON_CLASS_SORTED_ROWS = (
    "The check fits on iris rows sorted by class (50 zeros, then 100 ones once made binary). The default "
    "cv, WalkForwardSplit(5), trains each fold only on earlier rows: 2 of 5 folds train on one class and "
    "are skipped, and the 75 rows left with out-of-sample predictions are all ones, so the meta-learner "
    "cannot learn and fit raises ValueError by design (time order is the point). Negative features are "
    "fine: test_default_ensembles_accept_negative_features_in_mixed_class_order runs the same data unsorted."
)
BY_DESIGN.update({
    "BlendAvg": {"check_positive_only_tag_during_fit": _WALK_FORWARD_ON_CLASS_SORTED_ROWS},
    "BlendWeighted": {"check_positive_only_tag_during_fit": _WALK_FORWARD_ON_CLASS_SORTED_ROWS},
    "StackLogreg": {"check_positive_only_tag_during_fit": _WALK_FORWARD_ON_CLASS_SORTED_ROWS},
    "StackLogregShrink": {"check_positive_only_tag_during_fit": _WALK_FORWARD_ON_CLASS_SORTED_ROWS},
    "StackNonneg": {"check_positive_only_tag_during_fit": _WALK_FORWARD_ON_CLASS_SORTED_ROWS},
    "StackXGBMeta": {"check_positive_only_tag_during_fit": _WALK_FORWARD_ON_CLASS_SORTED_ROWS},
})
# The stratified instances of the other test modules pass every one-class hold-out check above.
STRATIFIED_BY_DESIGN = {
    name: {**_LABEL_CHECKS, "check_classifier_data_not_an_array": _NUMERIC_LABELS}
    for name in ("ThetaSweep", "CalibratedThetaClassifier")
}


def _instances():
    models = [registry[name](**SMALL.get(name, {})) for name in registry.models]
    ensembles = [_default_ensemble(name) for name in registry.ensembles]
    return models + ensembles + [Calibrate(), ThetaSweep(), CalibratedThetaClassifier()]


def _default_ensemble(name):
    defaults = registry[name]().named_estimators
    return registry[name](base_models=[(base, registry[base](**SMALL.get(base, {}))) for base in defaults])


def _expected_failures(estimator):
    if type(estimator).__name__ in BY_DESIGN:
        return BY_DESIGN[type(estimator).__name__]
    return LIBRARY_LIMITS.get(estimator._cvn_name, {})


def stratified_expected_failures(estimator):
    """The table's entries for the stratified instances of test_threshold / test_calibration / test_pipeline."""
    return STRATIFIED_BY_DESIGN.get(type(estimator).__name__, {})


@parametrize_with_checks(_instances(), expected_failed_checks=_expected_failures)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_table_names_only_registered_models():
    assert set(LIBRARY_LIMITS) <= set(registry.models)


@pytest.mark.parametrize(
    "estimator",
    [
        ThetaSweep(pos_label="two", cv=StratifiedKFold(3)),
        CalibratedThetaClassifier(
            calibration="sigmoid", pos_label="two", calibration_cv=StratifiedKFold(2), theta_cv=StratifiedKFold(3)
        ),
    ],
)
def test_string_labels_pass_the_classes_check_with_pos_label(estimator):
    """What check_classifiers_classes asserts on its binary string labels, with pos_label given."""
    X, y = make_blobs(n_samples=30, random_state=0, cluster_std=0.1, centers=2)
    X = StandardScaler().fit_transform(X)
    labels = np.array(["one", "two"])[y]
    fitted = clone(estimator).fit(X, labels)
    np.testing.assert_array_equal(fitted.classes_, ["one", "two"])
    assert np.mean(fitted.predict(X) == labels) > 0.83
    with pytest.raises(ValueError, match="pass pos_label="):
        clone(estimator).set_params(pos_label=None).fit(X, labels)


@pytest.mark.parametrize(
    "estimator",
    [
        ThetaSweep(pos_label=2, cv=StratifiedKFold(3)),
        CalibratedThetaClassifier(
            calibration="sigmoid", pos_label=2, calibration_cv=StratifiedKFold(2), theta_cv=StratifiedKFold(3)
        ),
    ],
)
def test_numeric_labels_other_than_0_1_pass_with_pos_label(estimator):
    """What check_estimators_dtypes, check_fit2d_1feature and check_classifier_data_not_an_array fit ({1, 2}),
    with pos_label given; refused without."""
    X, y = make_blobs(n_samples=30, random_state=0, cluster_std=0.1, centers=2)
    labels = y + 1
    fitted = clone(estimator).fit(X.astype(np.float32), labels)
    np.testing.assert_array_equal(fitted.classes_, [1, 2])
    assert np.mean(fitted.predict(X) == labels) > 0.83
    clone(estimator).fit(X[:, :1], labels)  # one feature
    with pytest.raises(ValueError, match="pass pos_label="):
        clone(estimator).set_params(pos_label=None).fit(X, labels)


def _weighted_and_repeated(name, **params):
    rng = np.random.RandomState(42)
    X = rng.rand(15, 30)
    y = rng.randint(0, 3, size=15)
    sw = rng.randint(0, 5, size=15)
    weighted = registry[name](**params).fit(X, y, sample_weight=sw)
    repeated = registry[name](**params).fit(X.repeat(sw, axis=0), y.repeat(sw))
    return weighted.predict_proba(X), repeated.predict_proba(X)


def test_xgboost_weights_equal_repeats_at_float32_precision():
    weighted, repeated = _weighted_and_repeated("xgboost", n_estimators=10)
    np.testing.assert_allclose(weighted, repeated, rtol=1e-6)


def test_random_forest_without_bootstrap_weights_equal_repeats():
    weighted, repeated = _weighted_and_repeated("random_forest", n_estimators=10, bootstrap=False)
    np.testing.assert_allclose(weighted, repeated, rtol=1e-7)


@pytest.mark.parametrize("name", sorted(registry.models))
def test_zero_weight_equals_removed_rows(name):
    rng = np.random.RandomState(0)
    X, y = rng.rand(60, 4), rng.randint(0, 2, size=60)
    sw = np.ones(60)
    sw[::3] = 0
    params = SMALL.get(name, {})
    weighted = registry[name](**params).fit(X, y, sample_weight=sw)
    removed = registry[name](**params).fit(X[sw > 0], y[sw > 0])
    np.testing.assert_allclose(weighted.predict_proba(X), removed.predict_proba(X))


def test_by_design_table_names_every_registry_ensemble_class():
    assert {registry[name].__name__ for name in registry.ensembles} <= set(BY_DESIGN)


@pytest.mark.parametrize("name", sorted(registry.ensembles))
def test_default_ensembles_accept_negative_features_in_mixed_class_order(name):
    X, y = load_iris(return_X_y=True)
    X, y = X - X.mean(), (y != 0).astype(int)  # as check_positive_only_tag_during_fit builds them
    order = np.random.RandomState(0).permutation(len(y))  # classes mixed over time
    ensemble = _default_ensemble(name).fit(X[order], y[order])
    assert (X < 0).any() and ensemble.predict_proba(X).shape == (150, 2)
