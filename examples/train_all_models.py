"""Train every registered model on real S&P 500 data and compare them on the last 30% of rows.

Run: python examples/train_all_models.py   (needs: pip install ".[examples]")
"""

from sklearn.metrics import roc_auc_score

from cvn_sklearn import registry
from cvn_sklearn.datasets import load_dataset

X, y, returns = load_dataset("sp500")
split = int(len(X) * 0.7)
X_train, X_test, y_train, y_test = X.iloc[:split], X.iloc[split:], y.iloc[:split], y.iloc[split:]

for name, Model in registry.models.items():
    extra = {"early_stopping_rounds": 30, "class_weight": "balanced"} if Model.iterative else {}
    clf = Model(**extra).fit(X_train, y_train)
    auc = roc_auc_score(y_test, clf.predict_proba(X_test)[:, 1])
    print(f"{name:<14} AUC {auc:.3f}  rounds {clf.n_estimators_final_}  {clf.training_time_sec_:.2f}s")
