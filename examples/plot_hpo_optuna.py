"""
Hyperparameter search with Optuna
=================================

``tune`` searches the space declared next to the model (``search_space(trial)`` in
``cvn_sklearn/models/lightgbm.py``, by LightGBM's own parameter names) with a seeded TPE
sampler. Each trial trains with the same row policy as ``train_one`` on every walk-forward fold
(model on ``train``, calibration and θ on ``val``) and is scored on the mean validation AUC; a
median pruner stops trials that fall behind. The study lives in an SQLite file, so calling
``tune`` again resumes it. Here: 6 small trials on 3 folds, in a temporary folder.
"""

# %%
import tempfile
from pathlib import Path

from cvn_sklearn.contracts import Datasets
from cvn_sklearn.datasets import load_dataset
from cvn_sklearn.harness import train_one, tune, walk_forward_datasets
from cvn_sklearn.model_selection import WalkForwardSplit

X, y, returns = load_dataset("sp500")
X, y, returns = X.iloc[-2500:], y.iloc[-2500:], returns.iloc[-2500:]
folds = walk_forward_datasets(X, y, cv=WalkForwardSplit(3, test_size=400, gap=5), returns=returns)
for i, fold in enumerate(folds):
    print(f"fold {i}: {len(fold.train.y)} train, {len(fold.val.y)} val, {len(fold.test.y)} test rows")

# %%
# Fixed parameters go in ``hpo_params``; the search space's parameters override them.
folder = Path(tempfile.mkdtemp())
storage = f"sqlite:///{folder / 'optuna.db'}"
fixed = {"n_estimators": 60, "n_jobs": 1}
best, study = tune("lightgbm", folds, n_trials=6, storage=storage, seed=0, hpo_params=fixed)
print(best)

# %%
# Every trial, as a table (Optuna's own ``trials_dataframe``).
study.trials_dataframe(attrs=("number", "value", "state", "params"))

# %%
# Calling ``tune`` again with the same storage resumes the study: 2 more trials, not 8.
best, study = tune("lightgbm", folds, n_trials=8, storage=storage, seed=0, hpo_params=fixed)
print(len(study.trials), "trials in the study")

# %%
# The validation AUC of each trial and the best so far.
import numpy as np
from matplotlib.figure import Figure

values = np.array([t.value if t.value is not None else np.nan for t in study.trials])
history = Figure(figsize=(6, 3), layout="constrained")
ax = history.subplots()
ax.plot(values, "o", label="trial")
ax.plot(np.fmax.accumulate(np.nan_to_num(values, nan=-np.inf)), "-", label="best so far")
ax.set_xlabel("trial")
ax.set_ylabel("mean validation AUC")
ax.legend()

# %%
# The best parameters, trained once with ``train_one`` on the most recent fold's split.
artifact = train_one("lightgbm", folds[-1], best)
print(f"θ {artifact.threshold:.3f}  test AUC {artifact.metrics_test.auc:.3f}  test trades {artifact.metrics_test.n_pos_pred}")
