"""
Walk-forward predictions and stacking
=====================================

Trading models are evaluated on time-ordered folds: each test block is predicted by models
trained only on earlier rows. ``oos_predict`` gives those out-of-sample predictions for any
splitter (scikit-learn's ``cross_val_predict`` needs a partition), and a registry ensemble stacks
its base models on them. Here three small models and the ``stack_logreg_shrink`` ensemble, whose
meta-learner is a logistic regression on the base logits shrunk toward equal weights.
"""

# %%
import numpy as np
from sklearn.metrics import roc_auc_score

from cvn_sklearn import registry
from cvn_sklearn.datasets import load_dataset
from cvn_sklearn.model_selection import WalkForwardSplit, oos_predict

X, y, returns = load_dataset("sp500")
X, y = X.iloc[-2000:], y.iloc[-2000:]  # the last 2000 days keep the example fast
cv = WalkForwardSplit(n_splits=4, test_size=300, gap=5, embargo=5)
for fold, (train, test) in enumerate(cv.split(X)):
    print(f"fold {fold}: train rows {train[0]}..{train[-1]}, test rows {test[0]}..{test[-1]}")

# %%
# Out-of-sample probabilities of each base model; ``covered`` marks the rows a fold predicted
# (the first training window never is).
bases = {
    "lightgbm": registry["lightgbm"](n_estimators=50, n_jobs=1),
    "logreg": registry["logreg"](),
    "extra_trees": registry["extra_trees"](n_estimators=50, min_samples_leaf=20, n_jobs=1),
}
oos = {}
for name, model in bases.items():
    proba, covered = oos_predict(model, X, y, cv=cv)
    oos[name] = proba[:, 1]
    print(f"{name:<12} out-of-sample AUC {roc_auc_score(y[covered], proba[covered, 1]):.3f}")

# %%
# The stacker fits its meta-learner on those same folds' predictions (the bases are fitted once
# per fold and shared through the OOS store), then refits the bases on every row.
stack = registry["stack_logreg_shrink"](base_models=list(bases.items()), cv=cv)
stack.fit(X, y)
print(f"meta-learner trained on {stack.coverage_.sum()} of {len(y)} rows")
stack

# %%
# Out-of-sample P(buy) of each base model over the covered test blocks: the stacker learns how
# much to trust each of them from these.
from matplotlib.figure import Figure

figure = Figure(figsize=(8, 3.5), layout="constrained")
ax = figure.subplots()
index = X.index[covered]
for name, proba in oos.items():
    ax.plot(index, proba[covered], lw=0.8, label=name)
ax.axhline(np.mean(y[covered]), color="black", ls="--", lw=0.8, label="base rate")
ax.set_ylabel("out-of-sample P(buy)")
ax.legend(ncols=4, loc="upper left")
