"""The harness on real S&P 500 data: tune, train one artifact, log it to MLflow, reload it, walk forward.

Run: python examples/harness_sp500.py   (needs: pip install ".[examples,persist]")
The MLflow SQLite store and the Optuna study go to a temporary folder, so nothing is left behind.
"""

import tempfile

import numpy as np

from cvn_sklearn.contracts import Datasets
from cvn_sklearn.datasets import load_dataset
from cvn_sklearn.harness import train_one, tune, walk_forward
from cvn_sklearn.model_selection import WalkForwardSplit
from cvn_sklearn.persist import load_artifact, log_artifact

X, y, returns = load_dataset("sp500")
data = Datasets.temporal_split(X, y, returns=returns)
fixed = {"n_estimators": 200, "early_stopping_rounds": 30}

with tempfile.TemporaryDirectory() as folder:
    best, study = tune(
        "lightgbm", data, n_trials=8, storage=f"sqlite:///{folder}/optuna.db", hpo_params=fixed, calibration="sigmoid"
    )
    artifact = train_one("lightgbm", data, best, calibration="sigmoid", objective="f1")
    print(
        f"θ {artifact.threshold:.3f}  val AUC {artifact.metrics_val.auc:.3f}  "
        f"test AUC {artifact.metrics_test.auc:.3f}  "
        f"test trades {artifact.metrics_test.n_pos_pred}  precision {artifact.metrics_test.precision_buy:.3f}"
    )

    uri = f"sqlite:///{folder}/mlflow.db"
    run_id = log_artifact(artifact, experiment="sp500", tracking_uri=uri, artifact_location=folder, datasets=data)
    model = load_artifact(run_id, tracking_uri=uri)
    same = np.array_equal(model.predict_proba(data.test.X), artifact.estimator.predict_proba(data.test.X))
    print(f"MLflow run {run_id}: reloaded model predicts identically: {same}")

cv = WalkForwardSplit(4, test_size=500, gap=5)
result = walk_forward("lightgbm", X, y, cv=cv, hpo_params=best, returns=returns, calibration="sigmoid")
print("walk-forward θ per fold:", np.round(result.thresholds, 3), " rows predicted:", int(result.covered.sum()))
