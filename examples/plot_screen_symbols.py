"""
Screen models across symbols
============================

The screening sweep is the library's main job (``cvn-sklearn demo`` on the command line): every
variant of a model on every symbol's every walk-forward fold, each fold's test block traded net of
the symbol's cost, and the variants ranked on their pooled out-of-sample returns with the deflated
Sharpe ratio (it corrects for the number of variants tried) and the probability of backtest
overfitting (PBO).

Here, a small sweep on two of the shipped stocks: three variants, three folds. It writes its
tables to its folder, and :meth:`ScreenResult.load <cvn_sklearn.sweep.ScreenResult.load>` reads
a finished sweep's folder back, as a notebook would the next day. The settings are small to keep
the example fast.
"""

# %%
# Run the sweep
# -------------
# ``data`` is left out: the symbols' shipped prices are loaded and labelled. Each variant is a
# registry model with its parameters; the costs per trade are the shipped symbols' own.
import tempfile

import matplotlib.pyplot as plt

from cvn_sklearn.sweep import ScreenResult, screen

folder = tempfile.mkdtemp(prefix="screen-")
config = {
    "variants": [
        {"name": "logreg", "model": "logreg"},
        {"name": "logreg_strong_l2", "model": "logreg", "params": {"C": 0.01}},
        {"name": "hist_gb_small", "model": "hist_gb", "params": {"max_iter": 30, "max_depth": 3}},
    ],
    "symbols": ["goog", "aapl"],
    "folds": {"n_splits": 3, "gap": 5},
    "folder": folder,
    "mlflow": False,
}
run = screen(config)
print(f"{len(run.cells)} cells, {int((run.cells['status'] != 'ok').sum())} failed, written to {folder}")

# %%
# Read the results back
# ---------------------
# :meth:`ScreenResult.load <cvn_sklearn.sweep.ScreenResult.load>` reads the folder's Parquet
# tables and its ``result.json`` (no pickle, no sweep run). In a notebook the result shows itself
# as a summary: what the numbers are, the ranking's top rows, the PBO, the failures.
result = ScreenResult.load(folder)
result

# %%
# The ranking, best first: trades, annualised Sharpe and Sortino net of costs (gross beside them),
# the probabilistic (PSR) and deflated (DSR) Sharpe ratios, and ``T``, the periods they were
# computed on.
result.ranking[["trades", "win_rate", "sharpe_ann", "sharpe_ann_gross", "max_drawdown", "psr", "dsr", "T"]].round(3)

# %%
# Every cell is a row of ``cells``: a variant on a symbol's fold, with its status, its tuned θ and
# the trading figures of its test block.
result.cells[["variant", "symbol", "fold", "status", "threshold", "n_trades", "sharpe_ann"]].round(3)

# %%
# Pooled out-of-sample returns
# ----------------------------
# ``pooled`` holds each variant's net return per period of the one calendar the ranking and the
# PBO were computed on (capital split equally among the symbols trading). Its cumulative sum is
# the variant's out-of-sample equity curve, net of costs, in the test windows only.
figure, axis = plt.subplots(figsize=(8, 3.5))
for variant in result.pooled.columns:
    axis.plot(result.pooled.index, 100 * result.pooled[variant].fillna(0.0).cumsum(), label=variant)
axis.axhline(0.0, color="#8c959f", linewidth=0.8)
axis.set_xlabel("date (test windows of the folds)")
axis.set_ylabel("cumulative net return (%)")
axis.set_title(f"Pooled out-of-sample returns, net of costs (PBO = {result.pbo:.2f})")
axis.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
figure.tight_layout()
plt.show()

# %%
# The per-variant and per-fold table ``by_variant`` shows whether a variant's results hold up fold
# by fold, or come from one lucky fold.
result.by_variant.round(3)

# sphinx_gallery_thumbnail_number = 1
