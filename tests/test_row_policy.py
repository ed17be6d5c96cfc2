"""The training path's row policy, buy labels, look-ahead refusal and row alignment (one path for every door)."""

import numpy as np
import pandas as pd
import pytest
import structlog
from mlflow.tracking import MlflowClient
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold
from structlog.testing import capture_logs

from cvn_sklearn import Calibrate, CalibratedThetaClassifier, ThetaSweep
from cvn_sklearn import contracts
from cvn_sklearn.cli import main
from cvn_sklearn.contracts import Datasets, code_commit
from cvn_sklearn.harness import WALK_FORWARD, train_one, tune, walk_forward, walk_forward_datasets
from cvn_sklearn.metrics import evaluate
from cvn_sklearn.model_selection import WalkForwardSplit


def _signal(n, seed=0, n_features=4):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, n_features))
    y = (X[:, 0] + rng.normal(scale=1.5, size=n) > 0.6).astype(int)
    return X, y, rng.normal(scale=0.01, size=n) + 0.004 * (2 * y - 1)


@pytest.fixture(scope="module")
def big():
    X, y, returns = _signal(10_000)
    return Datasets.temporal_split(X, y, returns=returns, val_size=0.15, test_size=0.15)


def _complete(events):
    done = [event for event in events if event["event"] == "training_complete"]
    assert len(done) == 1
    return done[0]


# ---------------------------------------------------------------- rows per stage


def test_rows_per_stage_without_early_stopping(big):
    with capture_logs() as events:
        artifact = train_one("logreg", big)
    done = _complete(events)
    assert (big.shape().n_train, big.shape().n_val, big.shape().n_test) == (7000, 1500, 1500)
    assert done["rows_fit"] == 7000 and done["rows_early_stopping"] == 0
    assert done["rows_calibration"] == done["rows_theta"] == 1500  # the val rows, shared
    assert done["rows_test"] == 1500
    assert {k: v for k, v in artifact.dataset_shape.to_dict().items() if k.startswith("rows_")} == {
        k: done[k] for k in ("rows_fit", "rows_early_stopping", "rows_calibration", "rows_theta", "rows_test")
    }
    # the model learned from every train row and nothing else
    model = artifact.estimator.estimators_[0].estimator
    reference = LogisticRegression().fit(big.train.X, big.train.y)
    np.testing.assert_allclose(model.native_.coef_, reference.coef_)


def test_rows_per_stage_with_early_stopping_hold_back_only_those_rows(big):
    with capture_logs() as events:
        train_one("lightgbm", big, {"n_estimators": 50, "early_stopping_rounds": 5, "validation_fraction": 0.1})
    done = _complete(events)
    assert done["rows_early_stopping"] == 700 and done["rows_fit"] == 6300
    assert done["rows_calibration"] == done["rows_theta"] == 1500 and done["rows_test"] == 1500
    started = next(e for e in events if e["event"] == "training_started")
    assert started["dataset_n_train"] == 6300 and started["n_val_early_stopping"] == 700


def test_rows_per_stage_of_an_ensemble(big):
    small = Datasets((big.train.X[:2000], big.train.y[:2000]), (big.val.X, big.val.y), (big.test.X, big.test.y))
    with capture_logs() as events:
        train_one("blend_avg", small, {"base_models": ["logreg", "extra_trees"]})
    done = _complete(events)
    assert (done["rows_fit"], done["rows_early_stopping"]) == (2000, 0)
    assert done["rows_calibration"] == done["rows_theta"] == 1500 and done["rows_test"] == 1500


def test_without_calibration_or_theta_those_stages_have_no_rows(big):
    with capture_logs() as events:
        train_one("logreg", big, calibration=None, objective=None)
    done = _complete(events)
    assert (done["rows_calibration"], done["rows_theta"], done["rows_fit"]) == (0, 0, 7000)


def test_calibration_and_theta_are_fitted_on_the_val_rows_with_the_model_frozen(big):
    artifact = train_one("logreg", big, calibration="sigmoid")
    model = artifact.estimator.estimators_[0]
    assert isinstance(model, FrozenEstimator)
    expected = CalibratedThetaClassifier(model, calibration="sigmoid", pos_label=1).fit(big.val.X, big.val.y)
    assert artifact.threshold == expected.theta_
    assert artifact.estimator.theta_result_.n_val == 1500


def test_calibrated_theta_classifier_keeps_its_fitted_composition():
    X, y, _ = _signal(1000)
    clf = CalibratedThetaClassifier(calibration="sigmoid").fit(X, y)
    assert isinstance(clf.estimator_, ThetaSweep) and isinstance(clf.estimator_.estimator_, Calibrate)
    assert clf.theta_ == clf.estimator_.theta_ and clf.calibrators_ is clf.estimator_.estimator_.calibrators_
    np.testing.assert_array_equal(clf.predict(X), clf.estimator_.predict(X))
    with pytest.raises(ValueError, match="FrozenEstimator cannot be refitted"):
        CalibratedThetaClassifier(FrozenEstimator(clf.estimators_[0]), refit=True).fit(X, y)


# ---------------------------------------------------------------- buy labels


def test_string_labels_need_pos_label_and_then_tune_theta_on_p_buy(big):
    def named(split):
        return (split.X, np.where(split.y == 1, "buy", "hold"), split.returns)

    labelled = Datasets(named(big.train), named(big.val), named(big.test))
    with pytest.raises(ValueError, match="pass pos_label="):
        train_one("logreg", labelled)
    artifact = train_one("logreg", labelled, pos_label="buy")
    numeric = train_one("logreg", big)
    assert artifact.dataset_shape.buy_pct_val == pytest.approx(100 * np.mean(big.val.y == 1))
    assert artifact.estimator.theta_result_.base_rate == pytest.approx(np.mean(big.val.y == 1))
    assert artifact.threshold == pytest.approx(numeric.threshold)
    assert artifact.metrics_test.n_pos_pred == numeric.metrics_test.n_pos_pred
    np.testing.assert_array_equal(artifact.predict(big.test.X), numeric.predict(big.test.X))
    assert artifact.to_dict()["pos_label"] == "buy"


def test_a_block_with_no_buys_keeps_label_1_as_buy():
    p = np.random.RandomState(0).rand(200)
    np.testing.assert_equal(evaluate(np.zeros(200), p, 0.5).to_dict(), evaluate(np.zeros(200), p, 0.5, pos_label=1).to_dict())
    assert evaluate(np.zeros(200), p, 0.5).recall_buy == 0.0 and evaluate(np.zeros(200), p, 0.5).precision_buy == 0.0
    np.testing.assert_equal(evaluate(-np.ones(200), p, 0.5).to_dict(), evaluate(-np.ones(200), p, 0.5, pos_label=1).to_dict())
    with pytest.raises(ValueError, match="pass pos_label="):
        evaluate(np.full(200, "hold"), p, 0.5)


def test_evaluate_takes_the_estimators_own_signal():
    y, p = np.array([0, 1, 1, 0]), np.array([0.2, 0.9, 0.4, 0.6])
    assert evaluate(y, p, predicted=p >= 0.5) == evaluate(y, p, 0.5)
    with pytest.raises(ValueError, match="exactly one of threshold"):
        evaluate(y, p)


# ---------------------------------------------------------------- no look-ahead


@pytest.mark.parametrize("cv", [KFold(3), KFold(3, shuffle=True, random_state=0)])
def test_walk_forward_refuses_look_ahead_splitters(cv):
    X, y, _ = _signal(600)
    with pytest.raises(ValueError, match="WalkForwardSplit.*allow_future_rows=True"):
        walk_forward("logreg", X, y, cv=cv)
    with pytest.raises(ValueError, match="WalkForwardSplit"):
        walk_forward_datasets(X, y, cv=cv)
    result = walk_forward("logreg", X, y, cv=cv, allow_future_rows=True, calibration="sigmoid")
    assert result.covered.all()


def test_walk_forward_folds_take_val_from_the_end_of_the_training_window_after_the_gap():
    X, y, returns = _signal(1200)
    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as events:
        result = walk_forward("logreg", X, y, returns=returns, cv=WalkForwardSplit(3, test_size=200, gap=5))
    for fold, artifact in zip(result.folds, result.artifacts):
        assert fold.fit.max() < fold.val.min() - 5 and fold.val.max() < fold.test.min() - 5
        assert artifact.metrics_val.n == len(fold.val) and artifact.metrics_test.n == len(fold.test)
        assert artifact.dataset_shape.rows_fit == len(fold.fit) and artifact.trading_test is not None
    done = [e for e in events if e["event"] == "training_complete"]
    assert [e["fold"] for e in done] == [0, 1, 2]
    assert [e["rows_theta"] for e in done] == [len(fold.val) for fold in result.folds]


def test_walk_forward_purges_fit_rows_whose_label_reaches_the_val_rows():
    X, y, _ = _signal(600)
    t1 = np.minimum(np.arange(600) + 10, 599)
    result = walk_forward("logreg", X, y, cv=WalkForwardSplit(2, test_size=100), t1=t1, gap=0, calibration="sigmoid")
    plain = walk_forward("logreg", X, y, cv=WalkForwardSplit(2, test_size=100), gap=0, calibration="sigmoid")
    for fold, unpurged in zip(result.folds, plain.folds):
        assert t1[fold.fit].max() < fold.val[0] <= t1[fold.val].max() < fold.test[0]
        assert t1[unpurged.fit].max() >= unpurged.val[0]  # without t1, labels of fit rows reach into val
    assert len(walk_forward_datasets(X, y, cv=WalkForwardSplit(2, test_size=100), t1=t1)) == 2


def test_tune_scores_walk_forward_folds_with_the_row_policy(tmp_path):
    X, y, _ = _signal(900)
    folds = walk_forward_datasets(X, y, cv=WalkForwardSplit(2, test_size=150))
    best, study = tune("logreg", folds, n_trials=2, storage=f"sqlite:///{tmp_path}/o.db", calibration="sigmoid")
    assert "C" in best and len(study.trials) == 2


def test_walk_forward_runs_fixed_params_as_a_subdag_not_a_nested_driver():
    from cvn_sklearn.dags import cached_driver, fixed_params_config

    dr = cached_driver(WALK_FORWARD, fixed_params_config("isotonic", "f1"), "local")
    names = {variable.name for variable in dr.list_available_variables()}
    assert {"fold_artifact.artifact", "fold_artifact.fit", "fold_artifact.tuned"} <= names


# ---------------------------------------------------------------- rows aligned or refused


def test_temporal_split_refuses_rows_of_different_lengths():
    X, y, returns = _signal(600)
    with pytest.raises(ValueError, match="X has 600 rows but y has 500"):
        Datasets.temporal_split(X, y[:500])
    with pytest.raises(ValueError, match="X has 600 rows but returns has 599"):
        Datasets.temporal_split(X, y, returns=returns[:-1])


@pytest.mark.parametrize("index", ["reversed", "offset"])
def test_pandas_parts_with_another_index_are_refused(index):
    X, y, _ = _signal(300)
    frame = pd.DataFrame(X, index=pd.date_range("2020-01-01", periods=300))
    labels = pd.Series(y, index=frame.index[::-1] if index == "reversed" else frame.index + pd.Timedelta(days=1))
    with pytest.raises(ValueError, match=r"y's index differs from X's.*y.reindex\(X.index\)"):
        Datasets.temporal_split(frame, labels)
    with pytest.raises(ValueError, match="y's index differs"):
        walk_forward("logreg", frame, labels, cv=2)
    assert Datasets.temporal_split(frame, pd.Series(y, index=frame.index)).shape().n_train == 210


def test_pandas_splits_out_of_time_order_are_refused():
    X, y, _ = _signal(300)
    frame, labels = pd.DataFrame(X), pd.Series(y)
    with pytest.raises(ValueError, match="last train row .* is not before the first val row"):
        Datasets((frame[100:], labels[100:]), (frame[:50], labels[:50]), (frame[50:100], labels[50:100]))


def test_building_datasets_starts_no_git_process(monkeypatch):
    code_commit()  # resolved once per process

    def refuse(*args, **kwargs):
        raise AssertionError("git was started again")

    monkeypatch.setattr(contracts.subprocess, "run", refuse)
    X, y, _ = _signal(100)
    for _ in range(3):
        Datasets.temporal_split(X, y)


# ---------------------------------------------------------------- one path: the CLI


def test_cli_train_logs_every_artifact_to_mlflow_with_the_printed_metrics(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--symbol", "goog", "--models", "logreg,lightgbm"]) == 0
    out = capsys.readouterr().out
    table = out[out.index("model "):].splitlines()
    header, printed = table[0].split(), {line.split()[0]: line.split() for line in table[2:4]}
    client = MlflowClient("sqlite:///mlflow.db")
    runs = client.search_runs([client.get_experiment_by_name("cvn-sklearn-train").experiment_id])
    assert sorted(run.data.tags["model_name"] for run in runs) == ["lightgbm", "logreg"]
    logged = {"auc": "test_auc", "f1_buy": "test_f1_buy", "brier": "test_brier", "ece": "test_ece",
              "theta": "threshold", "trades": "test_n_trades", "win_rate": "test_win_rate", "sortino_ann": "test_sortino"}
    for run in runs:
        row = dict(zip(header, printed[run.data.tags["model_name"]]))
        for column, metric in logged.items():
            # nan_ok: a model without an edge on val does not trade, and its test win rate is NaN in both places
            assert float(row[column]) == pytest.approx(run.data.metrics[metric], abs=5e-5, nan_ok=True), column


def test_cli_train_without_mlflow_leaves_no_store(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--symbol", "goog", "--models", "logreg", "--no-mlflow"]) == 0
    assert not (tmp_path / "mlflow.db").exists()


def test_the_cusum_filter_of_the_rows_reaches_the_artifact_and_a_cusum_sampled_sweep_runs(tmp_path):
    from cvn_sklearn.datasets import labelled_dataset
    from cvn_sklearn.harness import screen

    data = labelled_dataset("goog", cusum=1.5)
    artifact = train_one("logreg", Datasets.temporal_split(data.X, data.y, returns=data.returns),
                         cusum_metadata=data.cusum_metadata)
    assert artifact.cusum_metadata == data.cusum_metadata and artifact.cusum_metadata["threshold"] == 1.5
    assert artifact.to_dict()["cusum_n_events"] == data.cusum_metadata["n_events"]
    with capture_logs():
        result = screen({"variants": [{"name": "logreg", "model": "logreg"}], "symbols": ["goog"],
                         "folds": {"n_splits": 2}, "label": {"cusum": 1.5}, "folder": str(tmp_path), "mlflow": False})
    assert set(result.cells["status"]) == {"ok"}
