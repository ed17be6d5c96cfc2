"""
The design-card pipeline on S&P 500 prices
==========================================

``make_pipeline(Calibrate(), ThetaSweep(), registry["lightgbm"]())`` fits LightGBM on the
oldest training rows, calibrates its probabilities on the next ones and tunes the decision
threshold θ on the last ones, all in time order. We fit it on the first 70% of the S&P 500
rows, score the last 30%, and draw the two pictures that say whether it can be trusted: the
reliability diagram (does P(buy) mean what it says?) and the θ curve (where θ sits, and how
often the model trades there).
"""

# %%
# The data: 14 past-only features per day and a 5-day forward-return label.
from cvn_sklearn import Calibrate, ThetaSweep, make_pipeline, registry
from cvn_sklearn.datasets import load_dataset
from cvn_sklearn.metrics import evaluate, trading_metrics
from cvn_sklearn.plots import reliability_diagram, theta_curve

X, y, returns = load_dataset("sp500")
n_train = int(0.7 * len(y))
X_train, y_train = X.iloc[:n_train], y.iloc[:n_train]
X_test, y_test, returns_test = X.iloc[n_train:], y.iloc[n_train:], returns.iloc[n_train:]
print(f"{len(X_train)} training days, {len(X_test)} test days, {y.mean():.0%} buys")

# %%
# The pipeline. ``class_weight="balanced"`` inflates P(buy); calibration takes it back, and θ is
# tuned on the calibrated probabilities, never predicting more buys than the validation rows hold.
model = registry["lightgbm"](n_estimators=100, class_weight="balanced", n_jobs=1)
clf = make_pipeline(Calibrate(), ThetaSweep(), model)
clf.fit(X_train, y_train)
clf

# %%
# Out of sample: the one metrics function and the trading results of the signal. Daily S&P 500
# returns are hard to predict and the test AUC stays near 0.5; what the pipeline guarantees is
# not an edge but honest probabilities and a θ that does not "trade always" on a weak signal.
tuned = clf[-1]
proba_test = clf.predict_proba(X_test)[:, 1]
signal = clf.predict(X_test)
print(f"θ = {tuned.theta_:.3f}")
print(evaluate(y_test, proba_test, tuned.theta_))
print(trading_metrics(signal, returns_test, periods_per_year=252))

# %%
# The reliability diagram of the test rows, before and after calibration: the raw, re-weighted
# LightGBM probabilities spread over 0.1-0.9 while about a third of the rows are buys at every
# level; calibration pulls them back near the base rate, where the observed rate is (the signal
# is weak, so there is little room to spread).
raw_test = tuned.estimators_[0].predict_proba(X_test)[:, 1]
reliability = reliability_diagram(y_test, raw_test, proba_test)

# %%
# The θ curve: F1 over every candidate θ on the validation rows, bold where the constraints hold,
# with the predicted positive rate and its cap (the base rate). θ is the best feasible candidate.
curve = theta_curve(tuned.theta_result_)
