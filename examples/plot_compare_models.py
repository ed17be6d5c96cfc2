"""
Every registered model on the same rows
=======================================

``registry`` holds every model (and ensemble) by name, each an honest scikit-learn estimator
with its native library's parameter names. The same loop fits all of them on the first 70% of
the S&P 500 rows and scores the last 30%: one adapter, so the same fields for every model.
Small settings keep it fast (the defaults have more rounds and trees).
"""

# %%
import pandas as pd
from sklearn.metrics import roc_auc_score

from cvn_sklearn import registry
from cvn_sklearn.datasets import load_dataset

X, y, returns = load_dataset("sp500")
split = int(len(X) * 0.7)
X_train, X_test, y_train, y_test = X.iloc[:split], X.iloc[split:], y.iloc[:split], y.iloc[split:]

SMALL = {
    "xgboost": dict(n_estimators=100, n_jobs=1), "lightgbm": dict(n_estimators=100, n_jobs=1),
    "catboost": dict(iterations=100, thread_count=1), "random_forest": dict(n_estimators=50, n_jobs=1),
    "extra_trees": dict(n_estimators=50, n_jobs=1), "hist_gb": dict(max_iter=50),
}
rows = []
for name, Model in registry.models.items():
    extra = {"early_stopping_rounds": 20, "class_weight": "balanced"} if Model.iterative else {}
    clf = Model(**SMALL.get(name, {}), **extra).fit(X_train, y_train)
    rows.append({
        "model": name, "test AUC": roc_auc_score(y_test, clf.predict_proba(X_test)[:, 1]),
        "rounds": clf.n_estimators_final_, "best iteration": clf.best_iteration_,
        "fit seconds": clf.training_time_sec_,
    })
pd.DataFrame(rows).set_index("model").round(3)

# %%
# The same table as a picture: test AUC per model against 0.5 (a coin flip), and the seconds each
# fit took. Daily S&P 500 direction is hard to predict; what differs most is the cost of a fit.
import matplotlib.pyplot as plt

table = pd.DataFrame(rows).set_index("model").sort_values("test AUC")
figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.2), sharey=True)
left.barh(table.index, table["test AUC"], color="C0")
left.axvline(0.5, color="#cf222e", linestyle="--", linewidth=1, label="0.5: no skill")
left.set_xlim(0.4, max(0.6, table["test AUC"].max() + 0.02))
left.set_xlabel("test AUC (last 30% of the rows)")
left.legend(loc="lower right", fontsize=8)
right.barh(table.index, table["fit seconds"], color="C1")
right.set_xlabel("fit seconds")
figure.suptitle("Every registered model on the same S&P 500 rows")
figure.tight_layout()
plt.show()
