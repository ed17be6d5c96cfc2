"""
Logging a model to MLflow and loading it back
=============================================

``train_one`` returns a ``TrainedArtifact`` (the fitted estimator, θ, validation and test
metrics, the rows of each stage, the feature version). ``log_artifact`` stores it as one MLflow
run: parameters, metrics, tags, the reliability diagram and θ curve, and the model in the skops
format with the booster in its own library's bytes. ``load_artifact`` rebuilds it without running
any code chosen by the file. The store here is an SQLite file in a temporary folder.
"""

# %%
import tempfile
from pathlib import Path

import numpy as np
from mlflow import MlflowClient

from cvn_sklearn.contracts import Datasets
from cvn_sklearn.datasets import load_dataset
from cvn_sklearn.harness import train_one
from cvn_sklearn.persist import load_artifact, log_artifact

X, y, returns = load_dataset("sp500")
data = Datasets.temporal_split(X.iloc[-2000:], y.iloc[-2000:], returns=returns.iloc[-2000:])
artifact = train_one("xgboost", data, {"n_estimators": 60, "n_jobs": 1})

folder = Path(tempfile.mkdtemp())
uri = f"sqlite:///{folder / 'mlflow.db'}"
run_id = log_artifact(artifact, experiment="gallery", tracking_uri=uri, artifact_location=str(folder / "mlruns"),
                      datasets=data)
print("run", run_id)

# %%
# What the run holds: metrics, a few of the parameters, the tags and the files.
client = MlflowClient(uri)
run = client.get_run(run_id)
print({k: round(v, 4) for k, v in sorted(run.data.metrics.items()) if k.startswith(("test_", "threshold"))})
print({k: v for k, v in sorted(run.data.params.items()) if k.startswith("param_")})
print(run.data.tags["model_name"], run.data.tags["feature_set_hash"][:12])
print([f.path for f in client.list_artifacts(run_id)])

# %%
# Loaded back, the model predicts exactly what the trained one predicts.
model = load_artifact(run_id, tracking_uri=uri)
same = np.array_equal(model.predict_proba(data.test.X), artifact.estimator.predict_proba(data.test.X))
print(type(model).__name__, "identical predictions:", same)
model

# %%
# The θ curve stored with the run, read back from the store.
import matplotlib.image

local = client.download_artifacts(run_id, "plots/theta_curve.png", str(folder))
from matplotlib.figure import Figure

stored = Figure(figsize=(6, 3.5), layout="constrained")
ax = stored.subplots()
ax.imshow(matplotlib.image.imread(local))
ax.set_axis_off()
