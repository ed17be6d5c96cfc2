"""
Reading the JSON events
=======================

Every fit emits the same events with the same fields, whatever the model: ``training_started``,
``class_balance_applied``, ``model_fit``, ``calibrator_fit``, ``theta_picked`` and, at the end of
``train_one``, one ``training_complete`` carrying θ, the validation metrics and the rows each
stage learned from. The library never configures logging; an application calls
``configure_logging(json=True)`` once and gets one JSON object per line on stderr. Here we catch
those lines, train three different models, and read them back as one table.
"""

# %%
import contextlib
import io
import json

import pandas as pd

from cvn_sklearn import configure_logging
from cvn_sklearn.contracts import Datasets
from cvn_sklearn.datasets import load_dataset
from cvn_sklearn.harness import train_one

X, y, returns = load_dataset("sp500")
data = Datasets.temporal_split(X.iloc[-2000:], y.iloc[-2000:], returns=returns.iloc[-2000:])

log = io.StringIO()
with contextlib.redirect_stderr(log):  # where a log collector would read stderr
    configure_logging(json=True)
    for name, params in [("xgboost", {"n_estimators": 50}), ("lightgbm", {"n_estimators": 50}),
                         ("logreg", {})]:
        train_one(name, data, params)

lines = log.getvalue().splitlines()
print(lines[0])

# %%
# One schema for every model: the ``training_complete`` events side by side.
events = pd.DataFrame([json.loads(line) for line in lines if line.startswith("{")])
print(events["event"].value_counts())
complete = events[events["event"] == "training_complete"].dropna(axis=1, how="all")
complete.set_index("model_type")[
    ["n_estimators_final", "theta_picked", "auc_val", "f1_buy_val", "brier_val", "ece_val",
     "rows_fit", "rows_calibration", "rows_theta", "rows_test"]
]

# %%
# What ``training_complete`` says about the row policy, drawn: the rows each stage learned from,
# the same fields for every model (the model on ``rows_fit``, the calibrator and θ on the
# validation rows, the test rows only scored).
import matplotlib.pyplot as plt

stages = complete.set_index("model_type")[["rows_fit", "rows_calibration", "rows_theta", "rows_test"]]
axis = stages.plot.barh(figsize=(8, 3), width=0.8)
axis.set_xlabel("rows")
axis.set_ylabel("")
axis.set_title("Rows per stage, read from the training_complete events")
axis.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
axis.figure.tight_layout()
plt.show()

# %%
# Every field of an event is declared once, as a ``TypedDict`` in ``cvn_sklearn.events``.
from cvn_sklearn.events import EVENTS

sorted(EVENTS["training_complete"].__annotations__)
