"""How often one ``train_one`` run derives the buy label, validates data, cuts rows and predicts each split.

Counting spies wrap the real functions (behaviour unchanged) for one
``train_one`` with calibration and θ: the buy label is derived once, the
model validates its data once per stage (fit on ``train``, one prediction of
``val`` shared by calibration, θ and the validation metrics, one of ``test``),
the frozen model predicts the ``val`` rows once and the ``test`` rows once,
and no held-out rows are cut (the frozen model holds out every ``val`` row).
"""

import sys
from collections import Counter

import numpy as np
import pytest

import cvn_sklearn.adapter
import cvn_sklearn.metrics
from cvn_sklearn.adapter import Adapter
from cvn_sklearn.contracts import Datasets
from cvn_sklearn.harness import train_one

N_TRAIN, N_VAL, N_TEST = 360, 150, 90  # distinct sizes tell the stages apart


@pytest.fixture
def data():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(N_TRAIN + N_VAL + N_TEST, 4))
    y = (X[:, 0] + rng.normal(size=len(X)) > 0.5).astype(int)
    return Datasets.temporal_split(X, y, val_size=N_VAL / len(X), test_size=N_TEST / len(X))


def _count_buy_labels(monkeypatch, counted):
    """Count every call of the one buy-label rule, wherever it was imported: derived (no pos_label) or checked."""
    rule = cvn_sklearn.metrics.buy_label

    def buy_label(classes, pos_label=None):
        counted["buy label derived" if pos_label is None else "buy label checked"] += 1
        return rule(classes, pos_label)

    for module in [m for name, m in sys.modules.items() if name.startswith("cvn_sklearn") and m is not None]:
        if getattr(module, "buy_label", None) is rule:
            monkeypatch.setattr(module, "buy_label", buy_label)


@pytest.fixture
def counts(monkeypatch):
    counted = Counter()
    stage = {N_TRAIN: "train", N_VAL: "val", N_TEST: "test"}

    _count_buy_labels(monkeypatch, counted)
    validate = cvn_sklearn.adapter.validate_data

    def validate_data(estimator, X, *args, **kwargs):
        counted[f"validate_data {stage.get(len(X), len(X))}"] += 1
        return validate(estimator, X, *args, **kwargs)

    monkeypatch.setattr(cvn_sklearn.adapter, "validate_data", validate_data)

    predict_proba = Adapter.predict_proba

    def counting_predict_proba(self, X):
        counted[f"predict {stage.get(len(X), len(X))}"] += 1
        return predict_proba(self, X)

    monkeypatch.setattr(Adapter, "predict_proba", counting_predict_proba)

    cut = cvn_sklearn._heldout._safe_indexing

    def safe_indexing(values, rows, *args, **kwargs):
        counted["held-out rows cut"] += 1
        return cut(values, rows, *args, **kwargs)

    monkeypatch.setattr(cvn_sklearn._heldout, "_safe_indexing", safe_indexing)
    return counted


@pytest.mark.parametrize(
    "name, params", [("logreg", {}), ("lightgbm", {"n_estimators": 20})], ids=["logreg", "lightgbm"]
)
def test_train_one_derives_validates_and_predicts_once_per_stage(data, counts, name, params):
    artifact = train_one(name, data, params, calibration="isotonic", objective="f1")
    assert artifact.dataset_shape.rows_calibration == artifact.dataset_shape.rows_theta == N_VAL
    assert counts["buy label derived"] == 1
    assert counts["validate_data train"] == counts["validate_data val"] == counts["validate_data test"] == 1
    assert counts["predict val"] == counts["predict test"] == 1
    assert counts["held-out rows cut"] == 0
    # the given buy label is only checked against the labels: tuning, val and test metrics, dataset shape
    assert counts["buy label checked"] <= 4
    assert sum(n for key, n in counts.items() if key.startswith("validate_data")) == 3


@pytest.mark.parametrize("name, params", [("logreg", {}), ("lightgbm", {"n_estimators": 20})], ids=["logreg", "lightgbm"])
def test_a_raw_model_predicts_each_split_once(data, counts, name, params):
    """No calibration, no θ: the model's own ``predict`` rule is applied to its one ``predict_proba`` of each split."""
    artifact = train_one(name, data, params, calibration=None, objective=None)
    assert counts["predict val"] == counts["predict test"] == 1
    assert counts["validate_data val"] == counts["validate_data test"] == 1
    fitted = artifact.estimator
    for split, metrics in (("val", artifact.metrics_val), ("test", artifact.metrics_test)):
        X, y = getattr(data, split).X, getattr(data, split).y
        again = cvn_sklearn.metrics.evaluate(y, fitted.predict_proba(X)[:, 1], predicted=fitted.predict(X) == 1)
        assert again == metrics


def test_the_shared_predictions_are_the_ones_predict_would_make(data):
    """What the DAG reuses is what the estimator would compute again: the artifact's numbers are unchanged."""
    artifact = train_one("logreg", data, calibration="isotonic", objective="f1")
    fitted, buy = artifact.estimator, artifact.buy_label
    for split, metrics in (("val", artifact.metrics_val), ("test", artifact.metrics_test)):
        X, y = getattr(data, split).X, getattr(data, split).y
        again = cvn_sklearn.metrics.evaluate(y, fitted.predict_proba(X)[:, 1], predicted=fitted.predict(X) == buy)
        assert again == metrics


def test_a_sweep_cell_derives_validates_cuts_and_predicts_once_per_stage(tmp_path, monkeypatch):
    """One sweep cell: the buy label derived once (plus once per symbol when the plan checks its labels), each
    stage's rows cut once per array and validated once, the val and test rows predicted once each."""
    import cvn_sklearn.sweep.dag
    from cvn_sklearn.sweep import SymbolData, screen

    seen = Counter()
    validate, predict_proba, cut = cvn_sklearn.adapter.validate_data, Adapter.predict_proba, cvn_sklearn.sweep.dag.take_rows
    _count_buy_labels(monkeypatch, seen)
    monkeypatch.setattr(cvn_sklearn.adapter, "validate_data",
                        lambda est, X, *a, **k: seen.update([("validate", len(X))]) or validate(est, X, *a, **k))
    monkeypatch.setattr(Adapter, "predict_proba", lambda self, X: seen.update([("predict", len(X))]) or predict_proba(self, X))
    monkeypatch.setattr(cvn_sklearn.sweep.dag, "take_rows", lambda v, rows: seen.update([("cut", len(rows))]) or cut(v, rows))
    monkeypatch.setattr(cvn_sklearn._heldout, "_safe_indexing", lambda *a, **k: seen.update(["held-out cut"]))

    rng = np.random.RandomState(0)
    X = rng.normal(size=(600, 4))
    y = (X[:, 0] + rng.normal(size=600) > 0.5).astype(int)
    result = screen({"variants": [{"name": "logreg", "model": "logreg"}], "symbols": ["a"],
                     "folds": {"n_splits": 1, "test_size": 90, "val_size": 0.25}, "calibration": "isotonic",
                     "folder": str(tmp_path), "mlflow": False, "cost": 0.0}, data={"a": SymbolData(X, y, rng.normal(0, 0.01, 600))})
    cell = result.cells.iloc[0]
    assert cell["status"] == "ok", cell["error"]
    fit, val, test = int(cell["rows_fit"]), int(cell["rows_theta"]), int(cell["rows_test"])
    assert len({fit, val, test}) == 3  # the stages are told apart by their lengths
    assert seen["buy label derived"] == 2  # once by the plan for the symbol's labels, once by the cell
    assert {stage: seen["validate", n] for stage, n in (("fit", fit), ("val", val), ("test", test))} == \
        {"fit": 1, "val": 1, "test": 1}
    assert (seen["predict", val], seen["predict", test]) == (1, 1)
    assert {stage: seen["cut", n] for stage, n in (("fit", fit), ("val", val), ("test", test))} == \
        {"fit": 3, "val": 3, "test": 3}  # X, y and returns, once each
    assert seen["held-out cut"] == 0
