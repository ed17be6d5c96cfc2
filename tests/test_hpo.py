import numpy as np
import optuna
import pytest
from sklearn.datasets import make_classification

from cvn_sklearn.contracts import Datasets
from cvn_sklearn.harness import TuneResult, train_one, tune
from cvn_sklearn.model_selection import WalkForwardSplit

XGB = dict(n_estimators=10, n_jobs=1)


@pytest.fixture(scope="module")
def folds():
    X, y = make_classification(n_samples=600, n_features=6, flip_y=0.2, random_state=0)
    cuts = [(300, 400, 450), (400, 500, 550), (450, 550, 600)]
    return [Datasets(train=(X[:a], y[:a]), val=(X[a:b], y[a:b]), test=(X[b:c], y[b:c])) for a, b, c in cuts]


def _storage(tmp_path, name="optuna.db"):
    return f"sqlite:///{tmp_path / name}"


def test_same_seed_gives_the_same_best_params(tmp_path, folds):
    runs = [
        tune(
            "xgboost",
            folds[:2],
            n_trials=4,
            storage=_storage(tmp_path, f"{i}.db"),
            seed=7,
            hpo_params=XGB,
            calibration="sigmoid",
        )
        for i in range(2)
    ]
    assert runs[0].best_params == runs[1].best_params
    assert [t.params for t in runs[0].study.trials] == [t.params for t in runs[1].study.trials]
    assert runs[0].best_params["n_estimators"] == 10 and "max_depth" in runs[0].best_params


def test_a_stored_study_resumes(tmp_path, folds):
    storage = _storage(tmp_path)
    first = tune("logreg", folds[0], n_trials=2, storage=storage, calibration="sigmoid")
    first_params = [t.params for t in first.study.trials]
    resumed = tune("logreg", folds[0], n_trials=4, storage=storage, calibration="sigmoid")
    assert len(resumed.study.trials) == 4
    assert [t.params for t in resumed.study.trials[:2]] == first_params
    again = tune("logreg", folds[0], n_trials=4, storage=storage, calibration="sigmoid")
    assert len(again.study.trials) == 4
    reloaded = optuna.load_study(study_name=first.study.study_name, storage=storage)
    assert reloaded.best_params == again.best_params


def test_trials_report_every_fold_and_poor_ones_are_pruned(tmp_path, folds):
    result = tune("logreg", folds, n_trials=10, storage=_storage(tmp_path), seed=1, calibration=None, objective=None)
    states = [t.state for t in result.study.trials]
    complete = [t for t in result.study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert all(sorted(t.intermediate_values) == [0, 1, 2] for t in complete)
    assert optuna.trial.TrialState.PRUNED in states
    pruned = [t for t in result.study.trials if t.state == optuna.trial.TrialState.PRUNED]
    assert all(len(t.intermediate_values) < 3 for t in pruned)


def test_the_best_value_is_the_mean_validation_metric_over_folds(tmp_path, folds):
    result = tune("logreg", folds[:2], n_trials=2, storage=_storage(tmp_path), metric="brier", calibration="sigmoid")
    assert result.study.direction == optuna.study.StudyDirection.MINIMIZE
    briers = [
        train_one("logreg", fold, result.best_params, calibration="sigmoid").metrics_val.brier for fold in folds[:2]
    ]
    assert result.study.best_value == pytest.approx(np.mean(briers))
    assert isinstance(result, TuneResult)


@pytest.mark.parametrize(
    "model, data, kwargs, error, match",
    [
        ("blend_avg", 0, {}, ValueError, "'blend_avg' declares no search_space"),
        ("logreg", 0, dict(metric="sortino"), ValueError, "metric must be one of"),
        ("logreg", 0, dict(n_trials=0), ValueError, "n_trials must be a positive integer"),
        ("logreg", None, {}, TypeError, "non-empty sequence of Datasets"),
    ],
)
def test_tune_rejects_bad_arguments(tmp_path, folds, model, data, kwargs, error, match):
    with pytest.raises(error, match=match):
        tune(model, [] if data is None else folds[data], **{"n_trials": 1, "storage": _storage(tmp_path), **kwargs})


def test_tune_works_on_walk_forward_folds(tmp_path):
    X, y = make_classification(n_samples=400, n_features=4, random_state=1)
    folds = []
    for train, test in WalkForwardSplit(2, test_size=100).split(X):
        val = train[-60:]
        folds.append(Datasets(train=(X[train[:-60]], y[train[:-60]]), val=(X[val], y[val]), test=(X[test], y[test])))
    result = tune("logreg", folds, n_trials=2, storage=_storage(tmp_path), calibration="sigmoid")
    assert set(result.best_params) == {"C"}


def test_failing_trials_are_recorded_and_the_search_goes_on(tmp_path, folds):
    # max_positive_rate=0.001 admits no θ on 100 validation rows: every trial fails the same clear way
    with pytest.raises(ValueError, match=r"No trial of study .* completed. Last failure: .*No θ meets the constraints"):
        tune(
            "logreg",
            folds[0],
            n_trials=2,
            storage=_storage(tmp_path),
            calibration="sigmoid",
            constraints={"max_positive_rate": 0.001, "max_positive_rate_ratio": None},
        )
    study = optuna.load_study(study_name=optuna.get_all_study_names(_storage(tmp_path))[0], storage=_storage(tmp_path))
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.FAIL] * 2


_SLOW_TUNE = """
import pathlib
import sys
import time

import numpy as np
import optuna
from sklearn.ensemble import RandomForestClassifier

from cvn_sklearn.contracts import Datasets
from cvn_sklearn.harness import tune

storage, marker = sys.argv[1], pathlib.Path(sys.argv[2])
fit = RandomForestClassifier.fit


def fit_then_hang_from_the_third_trial(self, *args, **kwargs):
    # A real fit; from the third trial on, the process says so and stays inside the trial, so the
    # test's SIGKILL always lands while a trial is running (no race with a trial that just ended).
    fitted = fit(self, *args, **kwargs)
    trials = optuna.load_study(study_name="killed", storage=storage).get_trials(deepcopy=False)
    if sum(t.state == optuna.trial.TrialState.COMPLETE for t in trials) >= 2:
        marker.touch()
        time.sleep(600)
    return fitted


RandomForestClassifier.fit = fit_then_hang_from_the_third_trial
rng = np.random.RandomState(0)
X = rng.normal(size=(3000, 6)); y = (X[:, 0] + rng.normal(size=3000) > 0.5).astype(int)
tune("random_forest", Datasets.temporal_split(X, y), n_trials=200, storage=storage, study_name="killed",
     hpo_params={"n_estimators": 60, "n_jobs": 1}, calibration="sigmoid")
"""


def test_tune_after_sigkill_leaves_no_trial_running_and_resumes(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    storage = f"sqlite:///{tmp_path}/optuna.db"
    script = tmp_path / "slow_tune.py"
    script.write_text(_SLOW_TUNE)
    marker = tmp_path / "third_trial_running"
    process = subprocess.Popen([sys.executable, str(script), storage, str(marker)], stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while not marker.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert marker.exists(), "the tuning process never reached its third trial"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    study = optuna.load_study(study_name="killed", storage=storage)
    done = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)  # what tune counts as finished
    finished = [t for t in study.trials if t.state in done]
    assert any(t.state == optuna.trial.TrialState.RUNNING for t in study.trials)  # what the kill left behind
    rng = np.random.RandomState(0)
    X = rng.normal(size=(3000, 6))
    y = (X[:, 0] + rng.normal(size=3000) > 0.5).astype(int)
    _, resumed = tune("random_forest", Datasets.temporal_split(X, y), n_trials=len(finished) + 1, storage=storage,
                      study_name="killed", hpo_params={"n_estimators": 60, "n_jobs": 1}, calibration="sigmoid")
    states = [t.state for t in resumed.trials]
    assert optuna.trial.TrialState.RUNNING not in states
    assert sum(state in done for state in states) == len(finished) + 1  # one new trial, none redone
    assert optuna.trial.TrialState.FAIL in states  # the killed trial
