import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from cvn_sklearn.contracts import (
    Datasets,
    FeatureVersion,
    SplitMetrics,
    TrainedArtifact,
    code_commit,
    feature_set_hash,
)
from cvn_sklearn.metrics import evaluate


def _frame(n=30, columns=("a", "b"), start=0):
    rng = np.random.RandomState(0)
    return pd.DataFrame(rng.normal(size=(n, len(columns))), columns=list(columns), index=range(start, start + n))


def _labels(n=30):
    return np.tile([0, 1, 0], n // 3 + 1)[:n]


def test_datasets_temporal_split_keeps_time_order():
    X = _frame(100)
    data = Datasets.temporal_split(X, _labels(100), val_size=0.2, test_size=0.1)
    assert data.train.X.index[-1] < data.val.X.index[0] < data.test.X.index[0]
    assert (data.shape().n_train, data.shape().n_val, data.shape().n_test) == (70, 20, 10)


def test_datasets_computes_feature_version_from_train_columns():
    X = _frame()
    data = Datasets(train=(X, _labels()), val=(_frame(start=30), _labels()), test=(_frame(start=60), _labels()))
    assert data.feature_version.feature_set_hash == feature_set_hash(X)
    assert data.feature_version.code_commit == code_commit()


@pytest.mark.parametrize(
    "val, match",
    [
        ((_frame(0), _labels(0)), "Datasets.val is empty"),
        ((_frame(start=30), _labels(29)), "X has 30 rows but y has 29"),
        ((_frame(start=30), _labels(), np.zeros(3)), "X has 30 rows but returns has 3"),
        ((_frame(columns=("a", "c"), start=30), _labels()), "Datasets.val does not have the same columns"),
        ((_frame(columns=("b", "a"), start=30), _labels()), "same columns"),
        ((_frame(), _labels()), "last train row .29. is not before the first val row .0."),
    ],
)
def test_datasets_rejects_misaligned_splits(val, match):
    X = _frame()
    with pytest.raises(ValueError, match=match):
        Datasets(train=(X, _labels()), val=val, test=(_frame(start=60), _labels()))


def test_datasets_rejects_returns_on_some_splits_only():
    X, y = _frame(), _labels()
    with pytest.raises(ValueError, match="returns for every split or for none"):
        Datasets(train=(X, y, np.zeros(30)), val=(_frame(start=30), y), test=(_frame(start=60), y))


def test_datasets_rejects_a_split_that_is_not_a_tuple():
    X, y = _frame(), _labels()
    with pytest.raises(TypeError, match=r"Datasets.train must be a tuple \(X, y\)"):
        Datasets(train=X, val=(X, y), test=(X, y))


def test_datasets_arrays_need_the_same_number_of_columns():
    X, y = np.zeros((30, 3)), _labels()
    with pytest.raises(ValueError, match="same columns"):
        Datasets(train=(X, y), val=(X[:, :2], y), test=(X, y))


def test_datasets_is_frozen():
    X, y = _frame(), _labels()
    data = Datasets(train=(X, y), val=(_frame(start=30), y), test=(_frame(start=60), y))
    with pytest.raises(dataclasses.FrozenInstanceError):
        data.train = (X, y)


def test_temporal_split_rejects_sizes_outside_unit_interval():
    with pytest.raises(ValueError, match="val_size and test_size must be in"):
        Datasets.temporal_split(_frame(), _labels(), val_size=0.6, test_size=0.5)


def test_feature_set_hash_depends_on_names_and_dtypes_not_values():
    X = _frame()
    assert feature_set_hash(X) == feature_set_hash(X * 2)
    assert feature_set_hash(X) != feature_set_hash(X.astype(np.float32))
    assert feature_set_hash(X) != feature_set_hash(X.rename(columns={"a": "z"}))
    assert feature_set_hash(np.zeros((2, 3))) != feature_set_hash(np.zeros((2, 4)))


def test_feature_set_hash_rejects_one_dimensional_input():
    with pytest.raises(ValueError, match="X must be 2-D"):
        feature_set_hash(np.zeros(3))


def test_code_commit_reads_git_here():
    commit = code_commit()
    assert len(commit.removesuffix("+dirty")) == 40


def _artifact(**changes):
    X, y = _frame(), _labels()
    clf = LogisticRegression().fit(X, y)
    metrics = evaluate(y, clf.predict_proba(X), 0.5)
    data = Datasets(train=(X, y), val=(_frame(start=30), y), test=(_frame(start=60), y))
    fields = dict(
        model_name="logreg",
        estimator=clf,
        metrics_val=metrics,
        metrics_test=metrics,
        threshold=0.5,
        selected_features=("a", "b"),
        hyperparams={"C": 1.0, "class_weight": {0: 1, 1: 2}},
        training_time_sec=0.1,
        dataset_shape=data.shape(),
        feature_version=data.feature_version,
    )
    return TrainedArtifact(**(fields | changes))


def test_trained_artifact_to_dict_is_flat():
    flat = _artifact().to_dict()
    assert all(v is None or isinstance(v, (str, int, float, bool)) for v in flat.values())
    assert {"val_auc", "test_brier", "n_train", "buy_pct_val", "code_commit", "param_C", "threshold"} <= set(flat)
    assert json.loads(flat["selected_features"]) == ["a", "b"]
    assert json.loads(flat["param_class_weight"]) == {"0": 1, "1": 2}


def test_trained_artifact_metrics_have_the_same_fields_for_every_model():
    flat = _artifact().to_dict()
    names = [f.name for f in dataclasses.fields(SplitMetrics)]
    assert all(f"val_{n}" in flat and f"test_{n}" in flat for n in names)


def test_trained_artifact_refuses_data_rows():
    with pytest.raises(ValueError, match=r"cusum_metadata\['events'\] is an array"):
        _artifact(cusum_metadata={"events": np.arange(10)})


def test_feature_version_of_uses_the_given_commit():
    version = FeatureVersion.of(_frame(), commit="abc", feature_store_hash="fs1")
    assert version.to_dict() == {
        "code_commit": "abc",
        "feature_set_hash": feature_set_hash(_frame()),
        "feature_store_hash": "fs1",
    }


@pytest.mark.parametrize("labels", [(0, 1), ("buy", "hold")])
def test_dataset_shape_counts_the_buy_label_of_all_splits_even_in_a_one_class_split(labels):
    X = _frame(10)
    low, high = labels
    data = Datasets(
        train=(X, [low, high] * 5), val=(_frame(10, start=10), [low] * 10), test=(_frame(10, start=20), [high] * 9 + [low])
    )
    shape = data.shape(pos_label=None if low == 0 else high)
    assert (shape.buy_pct_train, shape.buy_pct_val, shape.buy_pct_test) == (50.0, 0.0, 90.0)


def test_reliability_bins_reproduce_the_curve_and_ece_without_the_rows():
    from sklearn.calibration import calibration_curve

    from cvn_sklearn.contracts import ReliabilityBins
    from cvn_sklearn.metrics import expected_calibration_error

    rng = np.random.RandomState(0)
    proba = np.r_[rng.uniform(size=200), 0.2, 0.2, 1.0, 0.0]  # bin edges included
    is_buy = (rng.uniform(size=204) < proba).astype(int)
    bins = ReliabilityBins.of(is_buy, proba)
    assert sum(bins.count) == 204 and sum(bins.positives) == is_buy.sum()
    rows = bins.rows()
    np.testing.assert_allclose(calibration_curve(*rows, n_bins=10), calibration_curve(is_buy, proba, n_bins=10))
    assert expected_calibration_error(*rows) == pytest.approx(expected_calibration_error(is_buy, proba))


def test_train_one_artifact_carries_the_validation_reliability_bins():
    from cvn_sklearn.harness import train_one

    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 3))
    y = np.where(X[:, 0] + rng.normal(size=300) > 0, "hold", "buy")
    data = Datasets.temporal_split(X, y)
    artifact = train_one("logreg", data, calibration="sigmoid", pos_label="buy")
    bins = artifact.reliability_val
    assert sum(bins.count) == artifact.metrics_val.n == 45
    assert sum(bins.positives) == np.sum(data.val.y == "buy")  # the buy label, classes_[0] here
    from cvn_sklearn.metrics import expected_calibration_error

    assert expected_calibration_error(*bins.rows()) == pytest.approx(artifact.metrics_val.ece)
    assert "reliability_val" not in artifact.to_dict()
