import dataclasses

import numpy as np
import pytest
from sklearn.calibration import calibration_curve
from sklearn.metrics import brier_score_loss, f1_score, log_loss, precision_score, recall_score, roc_auc_score

from cvn_sklearn.metrics import SplitMetrics, evaluate, expected_calibration_error, trading_metrics


def _random_binary(n=500, seed=0):
    rng = np.random.default_rng(seed)
    p = rng.random(n)
    y = (rng.random(n) < p).astype(int)
    return y, p


@pytest.mark.parametrize("threshold", [0.1, 0.37, 0.5, 0.9])
def test_evaluate_matches_scikit_learn_metrics(threshold):
    y, p = _random_binary()
    m = evaluate(y, p, threshold)
    pred = (p >= threshold).astype(int)
    assert m.n == len(y)
    assert m.auc == pytest.approx(roc_auc_score(y, p))
    assert m.f1_buy == pytest.approx(f1_score(y, pred))
    assert m.precision_buy == pytest.approx(precision_score(y, pred))
    assert m.recall_buy == pytest.approx(recall_score(y, pred))
    assert m.brier == pytest.approx(brier_score_loss(y, p))
    assert m.log_loss == pytest.approx(log_loss(y, p))
    assert m.n_pos_pred == pred.sum()
    assert m.positive_rate == pytest.approx(pred.mean())


def test_evaluate_is_flat_and_frozen():
    y, p = _random_binary(50)
    m = evaluate(y, p, 0.5)
    values = m.to_dict()
    assert list(values) == [f.name for f in dataclasses.fields(SplitMetrics)]
    assert all(isinstance(v, (int, float)) for v in values.values())
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.n = 3


def test_evaluate_string_labels_and_predict_proba_output():
    y, p = _random_binary(200)
    labels = np.where(y == 1, "buy", "flat")
    # string labels: the buy label is named, never taken from the sort order
    by_name = evaluate(labels, p, 0.5, pos_label="buy")
    assert by_name == evaluate(y, np.column_stack([1 - p, p]), 0.5)
    assert evaluate(labels, 1 - p, 0.5, pos_label="flat") == evaluate(1 - y, 1 - p, 0.5)
    with pytest.raises(ValueError, match="pass pos_label="):
        evaluate(labels, p, 0.5)


def test_evaluate_single_class_has_undefined_auc():
    m = evaluate([1, 1, 1], [0.2, 0.7, 0.9], 0.5)
    assert np.isnan(m.auc)
    assert m.recall_buy == pytest.approx(2 / 3)


@pytest.mark.parametrize(
    "y, p, match",
    [
        ([0, 1, 2], [0.1, 0.2, 0.3], "binary"),
        ([0, 1], [0.1, np.nan], "NaN"),
        ([0, 1], [0.1, 1.2], r"\[0, 1\]"),
        ([], [], "0 rows"),
    ],
)
def test_evaluate_rejects_bad_input(y, p, match):
    with pytest.raises(ValueError, match=match):
        evaluate(y, p, 0.5)


def test_evaluate_rejects_nan_threshold():
    with pytest.raises(ValueError, match="threshold"):
        evaluate([0, 1], [0.2, 0.8], float("nan"))


@pytest.mark.parametrize("n_bins", [5, 10, 15])
def test_ece_is_the_weighted_gap_of_calibration_curve_bins(n_bins):
    y, p = _random_binary(1000, seed=3)
    p = p**2  # miscalibrated
    prob_true, prob_pred = calibration_curve(y, p, n_bins=n_bins)
    counts = np.bincount(np.searchsorted(np.linspace(0, 1, n_bins + 1)[1:-1], p), minlength=n_bins)
    expected = np.sum(counts[counts > 0] * np.abs(prob_true - prob_pred)) / len(y)
    assert expected_calibration_error(y, p, n_bins=n_bins) == pytest.approx(expected)
    assert evaluate(y, p, 0.5, n_bins=n_bins).ece == pytest.approx(expected)


def test_ece_is_small_for_calibrated_and_large_for_shifted_probabilities():
    y, p = _random_binary(20000, seed=1)
    assert expected_calibration_error(y, p) < 0.02
    assert expected_calibration_error(y, np.clip(p + 0.2, 0, 1)) > 0.15


def test_trading_metrics_follow_their_definitions():
    rng = np.random.default_rng(0)
    signal = rng.random(300) < 0.3
    returns = rng.normal(0.002, 0.02, 300)
    m = trading_metrics(signal, returns, periods_per_year=252)
    s = np.where(signal, returns, 0.0)
    equity = np.cumprod(1 + s)
    peak = np.maximum.accumulate(np.r_[1.0, equity])[1:]
    assert m.n_trades == signal.sum()
    assert m.win_rate == pytest.approx(np.mean(returns[signal] > 0))
    assert m.avg_return == pytest.approx(returns[signal].mean())
    assert m.sharpe == pytest.approx(s.mean() / s.std() * np.sqrt(252))
    assert m.sortino == pytest.approx(s.mean() / np.sqrt(np.mean(np.minimum(s, 0) ** 2)) * np.sqrt(252))
    assert m.max_drawdown == pytest.approx(np.max(1 - equity / peak))
    assert set(m.to_dict()) == {"n_trades", "win_rate", "avg_return", "sortino", "sharpe", "max_drawdown",
                                "avg_return_gross", "sortino_gross", "sharpe_gross", "max_drawdown_gross",
                                "n_signals", "n_bars", "cost", "periods_per_year"}
    assert (m.sharpe_gross, m.n_bars, m.n_signals, m.cost) == (m.sharpe, 300, m.n_trades, 0.0)  # no cost: net is gross


def test_trading_metrics_without_trades_or_losses():
    none = trading_metrics([0, 0, 0], [0.01, -0.02, 0.03], periods_per_year=252)
    assert none.n_trades == 0 and np.isnan(none.win_rate) and np.isnan(none.sortino)
    assert none.max_drawdown == 0.0
    winners = trading_metrics([1, 0, 1], [0.01, -0.02, 0.03], periods_per_year=1)
    assert winners.sortino == np.inf and winners.win_rate == 1.0


@pytest.mark.parametrize(
    "signal, returns, ppy, match",
    [
        ([0, 2], [0.1, 0.2], 252, "0/1"),
        ([0, 1], [0.1, np.nan], 252, "finite"),
        ([0, 1], [0.1, 0.2], 0, "periods_per_year"),
    ],
)
def test_trading_metrics_rejects_bad_input(signal, returns, ppy, match):
    with pytest.raises(ValueError, match=match):
        trading_metrics(signal, returns, periods_per_year=ppy)


def test_evaluate_scores_a_block_without_buys_against_the_given_positive_label():
    p = np.array([0.1, 0.7, 0.2, 0.4])
    m = evaluate(np.zeros(4, dtype=int), p, 0.5, pos_label=1)
    assert (m.n_pos_pred, m.precision_buy, m.recall_buy) == (1, 0.0, 0.0)
    assert m.brier == pytest.approx(np.mean(p**2))
    assert np.isnan(m.auc)


def test_evaluate_still_rejects_a_positive_label_absent_from_two_classes():
    with pytest.raises(ValueError, match="pos_label='buy' is not one of the labels"):
        evaluate(["hold", "sell", "hold"], [0.2, 0.3, 0.9], 0.5, pos_label="buy")


@pytest.mark.parametrize("case", ["random", "ties", "extremes", "few_rows"])
def test_evaluate_scores_equal_scikit_learns_to_rounding(case):
    """AUC, log loss and Brier are computed on validated data without scikit-learn's per-call validation: same numbers."""
    rng = np.random.default_rng(7)
    y, p = _random_binary(2000, seed=3)
    if case == "ties":
        p = np.round(p, 1)  # 11 distinct values: most rows tie
    elif case == "extremes":
        p = np.where(rng.random(len(p)) < 0.2, (rng.random(len(p)) < 0.5).astype(float), p)  # exact 0s and 1s
    elif case == "few_rows":
        y, p = np.array([0, 1, 1, 0, 1]), np.array([0.3, 0.3, 0.9, 0.1, 0.3])
    m = evaluate(y, p, 0.5)
    assert m.auc == pytest.approx(roc_auc_score(y, p), rel=1e-12)
    assert m.log_loss == pytest.approx(log_loss(y, p), rel=1e-12)
    assert m.brier == pytest.approx(brier_score_loss(y, p), rel=1e-12)


def test_evaluate_auc_by_hand_with_a_tie():
    # positives 0.9 and 0.3, negatives 0.3 and 0.1: pairs (0.9>0.3), (0.9>0.1), (0.3=0.3: a half), (0.3>0.1) -> 3.5/4
    assert evaluate([1, 1, 0, 0], [0.9, 0.3, 0.3, 0.1], 0.5).auc == 0.875
    assert np.isnan(evaluate([1, 1], [0.9, 0.3], 0.5).auc)
