"""Synthetic weak trading signals shared by the calibration, θ and pipeline tests.

About 30% positives, and a label that depends only weakly on two of the
features: the regime where F1 alone picks "trade always".
"""

import numpy as np
from scipy.special import expit


def weak_signal(n_samples, *, seed=0, base_rate=0.3, strength=0.35, n_features=6):
    """Return ``X, y, returns`` for a weak buy signal (returns are +1% / -0.6% on average)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_samples, n_features))
    logit = np.log(base_rate / (1 - base_rate)) + strength * X[:, 0] + 0.5 * strength * X[:, 1]
    y = (rng.random(n_samples) < expit(logit)).astype(int)
    returns = rng.normal(np.where(y == 1, 0.01, -0.006), 0.01)
    return X, y, returns
