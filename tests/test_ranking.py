import dataclasses

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from cvn_sklearn.metrics import trading_metrics
from cvn_sklearn.ranking import (
    PBOResult,
    deflated_sharpe_ratio,
    expected_max_sharpe,
    probabilistic_sharpe_ratio,
    probabilistic_sharpe_ratio_of_returns,
    probability_of_backtest_overfitting,
    rank_variants,
)
from cvn_sklearn.ranking import _in_sample_halves  # the order PBO relies on


def _noise(n_periods=1000, n_variants=50, seed=0):
    return np.random.default_rng(seed).normal(0.0, 0.01, size=(n_periods, n_variants))


# --- PSR ---------------------------------------------------------------------------------------


def test_psr_worked_example_bailey_lopez_de_prado_2012():
    # 24 monthly returns, annualised Sharpe 1.585 (sqrt(12) per year), skew -2.448, kurtosis 10.164
    psr = probabilistic_sharpe_ratio(1.585 / np.sqrt(12), n_obs=24, skew=-2.448, kurtosis=10.164)
    assert round(psr, 4) == 0.9132


@pytest.mark.parametrize("sharpe", [-0.2, 0.0, 0.05, 0.3])
def test_psr_normal_kurtosis_3_is_the_textbook_normal_case(sharpe):
    # normal returns: standard error of the Sharpe ratio sqrt((1 + SR^2 / 2) / (T - 1)) (Lo 2002)
    n_obs, benchmark = 500, 0.02
    expected = stats.norm.cdf((sharpe - benchmark) / np.sqrt((1 + sharpe**2 / 2) / (n_obs - 1)))
    got = probabilistic_sharpe_ratio(sharpe, n_obs=n_obs, skew=0.0, kurtosis=3.0, benchmark=benchmark)
    assert got == pytest.approx(expected, rel=1e-12)


def test_psr_refuses_excess_kurtosis_that_no_distribution_has():
    with pytest.raises(ValueError, match="raw fourth standardised moment.*add 3"):
        probabilistic_sharpe_ratio(0.1, n_obs=100, skew=0.0, kurtosis=0.0)
    # the DSR example passed with its excess kurtosis (10 - 3 = 7 < 1 + (-3)^2) is caught too
    with pytest.raises(ValueError, match="not the excess"):
        probabilistic_sharpe_ratio(0.1, n_obs=1250, skew=-3.0, kurtosis=7.0)


def test_psr_broadcasts_and_returns_floats_for_scalars():
    got = probabilistic_sharpe_ratio(np.array([0.0, 0.1]), n_obs=100, skew=0.0, kurtosis=3.0)
    assert isinstance(got, np.ndarray) and got.shape == (2,)
    assert got[0] == 0.5
    assert isinstance(probabilistic_sharpe_ratio(0.1, n_obs=100, skew=0.0, kurtosis=3.0), float)


def test_psr_refuses_too_few_observations():
    with pytest.raises(ValueError, match="n_obs must be at least 2"):
        probabilistic_sharpe_ratio(0.1, n_obs=1, skew=0.0, kurtosis=3.0)


def test_psr_of_returns_uses_the_sample_moments():
    r = np.random.default_rng(1).standard_t(5, size=800) * 0.01 + 0.0008
    expected = probabilistic_sharpe_ratio(
        r.mean() / r.std(), n_obs=r.size, skew=stats.skew(r), kurtosis=stats.kurtosis(r, fisher=False)
    )
    assert probabilistic_sharpe_ratio_of_returns(r) == pytest.approx(expected)
    with pytest.raises(ValueError, match="do not vary"):
        probabilistic_sharpe_ratio_of_returns(np.zeros(10))
    with pytest.raises(ValueError, match="finite"):
        probabilistic_sharpe_ratio_of_returns([0.01, np.nan, 0.02])


@settings(max_examples=50, deadline=None)
@given(
    a=st.floats(-1.0, 1.0),
    b=st.floats(-1.0, 1.0),
    skew=st.floats(-1.99, 1.99),
    extra=st.floats(0.0, 20.0),
    n_obs=st.integers(2, 5000),
)
def test_psr_is_monotone_in_sharpe(a, b, skew, extra, n_obs):
    # kurtosis >= 1 + skew^2 keeps the variance term positive; then PSR increases with the Sharpe ratio wherever
    # 1 - skew * SR / 2 > 0 (the sign of d PSR / d SR), i.e. for |SR| <= 1 when |skew| < 2. Beyond that the
    # formula itself turns (skew -3, SR < -2/3: Hypothesis found it), which is not a property to test.
    low, high = min(a, b), max(a, b)
    kwargs = dict(n_obs=n_obs, skew=skew, kurtosis=1.0 + skew**2 + extra)
    assert probabilistic_sharpe_ratio(low, **kwargs) <= probabilistic_sharpe_ratio(high, **kwargs) + 1e-12


# --- E[max SR] and DSR -------------------------------------------------------------------------


def test_dsr_worked_example_bailey_lopez_de_prado_2014():
    # N = 100 trials, V[annualised SR] = 0.5, T = 1250 daily returns, best annualised SR 2.5, skew -3, kurtosis 10;
    # the paper annualises with 250 days (252 would give 0.8997)
    dsr = deflated_sharpe_ratio(
        2.5 / np.sqrt(250), n_obs=1250, skew=-3.0, kurtosis=10.0, n_trials=100, sharpe_variance=0.5 / 250
    )
    assert round(dsr, 4) == 0.9004
    assert round(expected_max_sharpe(100, 0.5 / 250) * np.sqrt(250), 4) == 1.7894  # annualised SR0
    assert round(expected_max_sharpe(100, 0.5 / 250), 4) == 0.1132


def test_expected_max_sharpe_matches_simulated_maxima():
    # the (asymptotic) approximation of the expected maximum of N standard normals (false strategy theorem):
    # within 1% of the simulated mean at N = 100 (2.531 vs 2.510; the simulation's standard error is 0.003)
    rng = np.random.default_rng(0)
    simulated = rng.standard_normal((20000, 100)).max(axis=1).mean()
    assert expected_max_sharpe(100, 1.0) == pytest.approx(simulated, rel=0.01)
    assert expected_max_sharpe(100, 4.0) == 2 * expected_max_sharpe(100, 1.0)


@pytest.mark.parametrize(
    "args, match",
    [((0, 1.0), "n_trials must be an integer >= 1"), ((2.5, 1.0), "n_trials"), ((10, -1.0), "sharpe_variance")],
)
def test_expected_max_sharpe_refuses_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        expected_max_sharpe(*args)


def test_dsr_with_one_trial_is_psr_against_zero():
    kwargs = dict(n_obs=300, skew=-0.5, kurtosis=5.0)
    assert deflated_sharpe_ratio(0.08, **kwargs, n_trials=1, sharpe_variance=0.3) == probabilistic_sharpe_ratio(
        0.08, **kwargs
    )


@settings(max_examples=50, deadline=None)
@given(
    sharpe=st.floats(-0.5, 0.5),
    n_trials=st.integers(2, 10_000),
    variance=st.floats(1e-6, 0.1),
    skew=st.floats(-2.0, 2.0),
    extra=st.floats(0.0, 10.0),
)
def test_dsr_never_exceeds_psr_against_zero(sharpe, n_trials, variance, skew, extra):
    kwargs = dict(n_obs=500, skew=skew, kurtosis=1.0 + skew**2 + extra)
    dsr = deflated_sharpe_ratio(sharpe, **kwargs, n_trials=n_trials, sharpe_variance=variance)
    assert dsr <= probabilistic_sharpe_ratio(sharpe, **kwargs) + 1e-12


# --- PBO ---------------------------------------------------------------------------------------


def test_pbo_of_noise_is_near_one_half():
    # One PBO estimate on pure noise is itself noisy (its 12,870 splits reuse the same data: the standard
    # deviation over seeds is about 0.16 for 50 variants x 1000 periods), so the test averages 16 seeds:
    # the mean's standard error is about 0.04, and 0.5 +/- 0.1 is 2.5 of them.
    pbos = [probability_of_backtest_overfitting(_noise(seed=seed)).pbo for seed in range(16)]
    assert 0.4 < np.mean(pbos) < 0.6
    assert all(0.0 < p < 1.0 for p in pbos)


@pytest.mark.parametrize("seed", range(3))
def test_pbo_of_one_truly_better_variant_is_near_zero(seed):
    returns = _noise(seed=seed)
    returns[:, 7] += 0.002  # per-period Sharpe 0.2 (about 3.2 a year) among 49 noise variants
    result = probability_of_backtest_overfitting(returns)
    assert result.pbo < 0.1
    assert np.median(result.logits) > 2.0


def test_pbo_result_shape_and_is_frozen():
    result = probability_of_backtest_overfitting(_noise(200, 5), n_partitions=6)
    assert isinstance(result, PBOResult)
    assert result.n_combinations == 20 and result.n_partitions == 6
    assert result.logits.shape == (20,) and np.isfinite(result.logits).all()
    assert result.pbo == np.mean(result.logits <= 0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.pbo = 0.0
    with pytest.raises(ValueError, match="read-only"):
        result.logits[0] = 1.0


def test_pbo_logits_are_the_relative_ranks_of_the_in_sample_best():
    # two blocks: one split in each direction; variant 1 wins block 0, variant 2 wins block 1. (Variant 2's block 0
    # was [0.01, 0.0, 0.02], the same returns as variant 0's in another order: the same Sharpe ratio, a tie that only
    # rounding broke before ties were decided; now -0.005, its Sharpe 0.81 < 1.22, so no tie.)
    block0 = np.array([[0.0, 0.03, 0.01], [0.01, 0.05, -0.005], [0.02, 0.04, 0.02]])
    block1 = np.array([[0.01, -0.02, 0.06], [0.0, -0.01, 0.05], [0.02, 0.0, 0.07]])
    result = probability_of_backtest_overfitting(np.vstack([block0, block1]), n_partitions=2)
    # in-sample best of block 0 (variant 1) is the worst of 3 in block 1: rank 1 -> omega 1/4; and vice versa
    assert np.allclose(np.sort(result.logits), np.log([(1 / 4) / (3 / 4), (1 / 4) / (3 / 4)]))
    assert result.pbo == 1.0


def test_pbo_handles_variants_that_never_trade_and_ties():
    returns = _noise(400, 6, seed=3)
    returns[:, 0] = 0.0  # never trades
    returns[:, 1] = 0.0  # never trades either: a tie
    returns[:, 5] = returns[:, 4]  # two identical variants: tied everywhere
    result = probability_of_backtest_overfitting(returns, n_partitions=8)
    assert np.isfinite(result.logits).all() and 0.0 <= result.pbo <= 1.0
    # all variants flat: every split is a tie of all variants at the median rank, logit 0; nothing to select, so
    # no PBO (it was 1.0: a logit of exactly 0 counted as overfit)
    flat = probability_of_backtest_overfitting(np.zeros((40, 3)), n_partitions=4)
    assert np.allclose(flat.logits, 0.0) and np.isnan(flat.pbo) and "tie in every split" in flat.note


def test_pbo_is_invariant_to_the_order_of_variants():
    returns = _noise(300, 8, seed=4)
    returns[:300:50, 2] = 0.0
    permuted = returns[:, np.random.default_rng(0).permutation(8)]
    a = probability_of_backtest_overfitting(returns, n_partitions=6)
    b = probability_of_backtest_overfitting(permuted, n_partitions=6)
    assert a.pbo == b.pbo and np.allclose(a.logits, b.logits)


def test_pbo_sharpe_metric_matches_a_direct_computation():
    def sharpe(x):
        return x.mean(axis=0) / x.std(axis=0)

    returns = _noise(240, 7, seed=5)
    fast = probability_of_backtest_overfitting(returns, n_partitions=8)
    slow = probability_of_backtest_overfitting(returns, n_partitions=8, metric=sharpe)
    assert fast.pbo == slow.pbo
    assert np.allclose(fast.logits, slow.logits)


def test_pbo_logits_split_by_split_are_those_of_scoring_each_half_on_its_own():
    # every split scored directly, in-sample and out-of-sample apart (the paper's loop); the function scores each
    # set of blocks once, for the split it is in-sample in and the one it is out-of-sample in
    from itertools import combinations

    returns = _noise(320, 9, seed=7)
    returns[:, 8] = 0.0  # one variant never trades: ties out-of-sample
    blocks = np.array_split(np.arange(320), 8)
    expected, overfit = [], []
    for picked in combinations(range(8), 4):
        rows_in = np.concatenate([blocks[k] for k in picked])
        rows_out = np.concatenate([blocks[k] for k in range(8) if k not in picked])
        trading_in, trading_out = returns[rows_in, :8], returns[rows_out, :8]
        # the one that never trades scores 0 (the function's rule for returns that are all 0)
        score_in = np.r_[trading_in.mean(axis=0) / trading_in.std(axis=0), 0.0]
        score_out = np.r_[trading_out.mean(axis=0) / trading_out.std(axis=0), 0.0]
        best = np.argmax(score_in)
        below, equal = np.sum(score_out < score_out[best]), np.sum(score_out == score_out[best])
        omega = (below + (equal + 1) / 2) / 10
        expected.append(np.log(omega / (1 - omega)))
        overfit.append(np.clip(5 - below, 0, equal) / equal)
    result = probability_of_backtest_overfitting(returns, n_partitions=8)
    assert np.allclose(result.logits, expected, rtol=0, atol=1e-12)
    assert result.pbo == np.mean(overfit)


def test_the_halves_of_pbo_come_in_complementary_pairs_mirrored():
    for n_partitions in (2, 4, 8, 16):
        halves = _in_sample_halves(n_partitions)
        assert (halves[::-1] == ~halves).all() and (halves.sum(axis=1) == n_partitions // 2).all()


def test_pbo_accepts_a_dataframe():
    frame = pd.DataFrame(_noise(100, 4), columns=["lightgbm", "xgboost", "catboost", "blend_avg"])
    assert probability_of_backtest_overfitting(frame, n_partitions=4).pbo == probability_of_backtest_overfitting(
        frame.to_numpy(), n_partitions=4
    ).pbo


@pytest.mark.parametrize(
    "returns, kwargs, match",
    [
        (np.zeros((100, 4)), dict(n_partitions=5), "even integer"),
        (np.zeros((100, 4)), dict(n_partitions=0), "even integer"),
        (np.zeros((100, 1)), {}, "at least 2"),
        (np.zeros((20, 4)), dict(n_partitions=16), r"too few for n_partitions=16.*n_partitions <= 10"),
        (np.zeros(100), {}, "must be 2-d"),
        (np.zeros((100, 4)), dict(metric="sortino"), "metric must be 'sharpe' or a callable"),
        (np.zeros((100, 4)), dict(metric=lambda x: np.full(x.shape[1], np.nan)), "metric returned NaN"),
    ],
)
def test_pbo_refuses_bad_input(returns, kwargs, match):
    with pytest.raises(ValueError, match=match):
        probability_of_backtest_overfitting(returns, **kwargs)


def test_pbo_refuses_nan_and_names_the_variant():
    frame = pd.DataFrame(_noise(100, 3), columns=["a", "b", "c"])
    frame.loc[5, "b"] = np.nan
    with pytest.raises(ValueError, match=r"\['b'\].*fillna\(0\)"):
        probability_of_backtest_overfitting(frame, n_partitions=4)


# --- the sweep's ranking table -----------------------------------------------------------------


def test_rank_variants_table():
    returns = pd.DataFrame(_noise(1000, 6, seed=6), columns=[f"v{i}" for i in range(6)])
    returns["v4"] += 0.002
    returns["v0"] = 0.0  # never trades
    ranking = rank_variants(returns, periods_per_year=252)
    table = ranking.table
    assert table.index.name == "variant" and table.index[0] == "v4" and table.index[-1] == "v0"
    assert list(table["dsr"].dropna()) == sorted(table["dsr"].dropna(), reverse=True)
    assert ranking.n_trials == 6 and ranking.pbo.n_combinations == 12870 and ranking.pbo.pbo < 0.1
    # Sharpe, Sortino and drawdown are cvn_sklearn.metrics' definitions
    m = trading_metrics(np.ones(1000), returns["v4"], periods_per_year=252)
    assert table.loc["v4", "sharpe"] == m.sharpe and table.loc["v4", "sortino"] == m.sortino
    assert table.loc["v4", "max_drawdown"] == m.max_drawdown
    # PSR and DSR are per period; the Sharpe variance leaves out the variant without a Sharpe ratio
    per_period = table["sharpe"] / np.sqrt(252)
    assert ranking.sharpe_variance == pytest.approx(per_period.dropna().var(ddof=1))
    row = table.loc["v4"]
    moments = dict(n_obs=1000, skew=row["skew"], kurtosis=row["kurtosis"])
    assert row["psr"] == pytest.approx(probabilistic_sharpe_ratio(per_period["v4"], **moments))
    assert row["dsr"] == pytest.approx(
        deflated_sharpe_ratio(per_period["v4"], **moments, n_trials=6, sharpe_variance=ranking.sharpe_variance)
    )
    assert (table["dsr"].dropna() <= table["psr"].dropna()).all()
    assert table.loc["v0", ["sharpe", "psr", "dsr"]].isna().all()
    # v0 counts in N = 6 but has no Sharpe ratio: the notes say so
    assert table.loc["v0", "dsr_note"] == "no Sharpe ratio: the returns never vary (never traded)"
    assert (table.drop(index="v0")["dsr_note"] == "Sharpe variance from 5 of N = 6 trials (the others have no Sharpe "
                                                  "ratio)").all()
    assert ranking.n_sharpe == 5 and ranking.pbo.note is None


def test_rank_variants_more_trials_deflate_more():
    returns = _noise(500, 4, seed=7) + 0.001
    few = rank_variants(returns, periods_per_year=252, n_partitions=None)
    many = rank_variants(returns, periods_per_year=252, n_trials=1000, n_partitions=None)
    assert few.pbo is None and many.n_trials == 1000
    assert (many.table["dsr"] < few.table.loc[many.table.index, "dsr"]).all()
    assert np.allclose(many.table["psr"], few.table.loc[many.table.index, "psr"])


def test_rank_variants_single_variant_and_bad_n_trials():
    single = rank_variants(_noise(100, 1) + 0.001, periods_per_year=252)
    assert single.pbo is None
    assert single.table["dsr"].iloc[0] == single.table["psr"].iloc[0]
    with pytest.raises(ValueError, match="n_trials must be an integer >= the number of variants"):
        rank_variants(_noise(100, 3), periods_per_year=252, n_trials=2)


# --- edge cases, decided (issue 19) ------------------------------------------------------------
# DSR: a Sharpe variance of the trials that cannot be estimated gives NaN with the reason in dsr_note (or a prior
# passed as sharpe_variance=), never a silent DSR == PSR. PBO: ties are broken at random, each split counting the
# probability that the in-sample best is at or below the median out-of-sample; NaN when every split ties.


def test_rank_variants_one_tradeable_column_of_many_trials_is_not_its_psr():
    returns = pd.DataFrame({"only": _noise(500, 1, seed=8)[:, 0] + 0.0008})
    ranking = rank_variants(returns, periods_per_year=252, n_trials=100)
    row = ranking.table.loc["only"]
    assert 0.5 < row["psr"] < 1.0 and np.isnan(row["dsr"]) and np.isnan(ranking.sharpe_variance)
    assert row["dsr_note"] == ranking.dsr_note == (
        "DSR not computed: the Sharpe variance of the trials is unknown (1 of N = 100 trials has a Sharpe ratio)"
    )
    assert ranking.n_trials == 100 and ranking.n_sharpe == 1
    # a prior for the variance (per period: 0.5 a year over 252 days) deflates, and says it was a prior
    prior = rank_variants(returns, periods_per_year=252, n_trials=100, sharpe_variance=0.5 / 252)
    row = prior.table.loc["only"]
    moments = dict(n_obs=500, skew=row["skew"], kurtosis=row["kurtosis"])
    expected = deflated_sharpe_ratio(row["sharpe"] / np.sqrt(252), **moments, n_trials=100, sharpe_variance=0.5 / 252)
    assert row["dsr"] == pytest.approx(expected) and row["dsr"] < row["psr"] - 0.1
    assert prior.sharpe_variance == 0.5 / 252 and row["dsr_note"].startswith("Sharpe variance of the trials: the prior")
    # one column, one trial: no selection, DSR is PSR, nothing to note
    alone = rank_variants(returns, periods_per_year=252)
    assert alone.table.loc["only", "dsr"] == alone.table.loc["only", "psr"] and pd.isna(alone.table.loc["only", "dsr_note"])


def test_rank_variants_when_the_others_never_traded_or_are_identical():
    returns = pd.DataFrame({"a": _noise(400, 1, seed=9)[:, 0] + 0.001, "flat": 0.0, "flat2": 0.0})
    ranking = rank_variants(returns, periods_per_year=252, n_partitions=4)
    table = ranking.table
    assert list(table.index) == ["a", "flat", "flat2"]  # the tradeable variant first, though its DSR is NaN
    assert np.isnan(table.loc["a", "dsr"]) and table.loc["a", "psr"] > 0.5
    assert "1 of N = 3 trials has a Sharpe ratio" in table.loc["a", "dsr_note"]
    assert (table.loc[["flat", "flat2"], "dsr_note"] == "no Sharpe ratio: the returns never vary (never traded)").all()
    # two identical variants: their Sharpe ratios are equal, a variance of 0 would make DSR the PSR
    same = rank_variants(pd.DataFrame({"a": returns["a"], "b": returns["a"]}), periods_per_year=252, n_trials=10,
                         n_partitions=4)
    assert same.table["dsr"].isna().all() and same.table["psr"].notna().all()
    assert "2 Sharpe ratios of the trials are all equal" in same.table.loc["a", "dsr_note"]
    assert np.isnan(same.pbo.pbo)  # and no PBO: they tie in every split


def test_rank_variants_variance_from_fewer_trials_than_n_says_so():
    returns = pd.DataFrame(_noise(600, 3, seed=10) + 0.0005, columns=["a", "b", "c"])
    returns["never"] = 0.0
    ranking = rank_variants(returns, periods_per_year=252, n_trials=6, n_partitions=None)
    table = ranking.table
    per_period = table["sharpe"] / np.sqrt(252)
    assert ranking.n_sharpe == 3 and ranking.sharpe_variance == pytest.approx(per_period.dropna().var(ddof=1))
    row = table.loc["a"]
    expected = deflated_sharpe_ratio(per_period["a"], n_obs=600, skew=row["skew"], kurtosis=row["kurtosis"],
                                     n_trials=6, sharpe_variance=ranking.sharpe_variance)
    assert row["dsr"] == pytest.approx(expected)  # N = 6: the never-traded column and 2 dropped trials count
    assert (table.loc[["a", "b", "c"], "dsr_note"] == "Sharpe variance from 3 of N = 6 trials (the others have no "
                                                      "Sharpe ratio)").all()
    assert table.loc["never", "dsr_note"].startswith("no Sharpe ratio")


@pytest.mark.parametrize("bad", [-1e-4, np.nan, np.inf, True])
def test_rank_variants_refuses_a_bad_prior(bad):
    with pytest.raises(ValueError, match="sharpe_variance must be a finite number >= 0"):
        rank_variants(_noise(100, 2), periods_per_year=252, sharpe_variance=bad)


def test_pbo_all_tied_is_not_one():
    # every variant identical (or a leveraged copy: the Sharpe ratio ignores the scale), or none trading: every
    # split ties all variants in-sample, so there is no in-sample best to select. PBO was 1.0 (logit 0 counted as
    # overfit); now NaN with the reason
    base = _noise(64, 1, seed=11)[:, 0]
    for returns in (np.zeros((64, 4)), np.column_stack([base, base, base]), np.column_stack([base, 2 * base])):
        result = probability_of_backtest_overfitting(returns, n_partitions=8)
        assert np.isnan(result.pbo) and result.note.startswith("PBO not computed")
        assert np.allclose(result.logits, 0.0)


def test_pbo_tied_in_sample_best_by_hand_two_variants():
    # N = 2 variants a, b; S = 2 blocks of 3 periods, so 2 splits; median rank (N + 1) / 2 = 1.5: overfit when the
    # in-sample best has out-of-sample rank 1 (rank 1 = worst).
    # block 0: a = b = [.01, .02, .03] (tied, Sharpe 2.45); block 1: a = [.02, .03, .04] (Sharpe 3.67), b = [.01, -.01,
    # 0] (Sharpe 0).
    # split 1, in-sample block 0: a and b tie for the best; out-of-sample a has rank 2 (not overfit), b rank 1
    #   (overfit): picked at random, overfit with probability 1/2. Mean rank 1.5, omega 1.5 / 3 = 1/2, logit 0.
    # split 2, in-sample block 1: a is best; out-of-sample a and b tie, a's rank is 1 or 2 at random: overfit with
    #   probability 1/2. Mean rank 1.5, logit 0.
    # PBO = (1/2 + 1/2) / 2 = 1/2. (The old rule, logit <= 0, counted both splits as overfit: PBO 1.0.)
    a = [0.01, 0.02, 0.03, 0.02, 0.03, 0.04]
    b = [0.01, 0.02, 0.03, 0.01, -0.01, 0.0]
    result = probability_of_backtest_overfitting(np.column_stack([a, b]), n_partitions=2)
    assert result.pbo == 0.5 and np.allclose(result.overfit, [0.5, 0.5]) and np.allclose(result.logits, 0.0)
    assert result.note is None


def test_pbo_some_tied_by_hand_three_variants():
    # N = 3 variants a, b, c; S = 2 blocks of 3 periods; median rank (N + 1) / 2 = 2: overfit at rank 1 or 2.
    # block 0: a = b = [.01, .02, .03] (Sharpe 2.45), c = [.01, -.01, 0] (Sharpe 0): ranks c 1, a and b tied 2-3.
    # block 1: a = [.02, .03, .04] (3.67), b = [.01, .02, .03] (2.45), c = [0, -.01, -.02] (-1.22): ranks c 1, b 2, a 3.
    # split 1, in-sample block 0: a and b tie for the best. Out-of-sample (block 1) a has rank 3 (not overfit), b rank
    #   2 (overfit): probability 1/2. Mean rank 2.5, omega 2.5 / 4, logit ln(5/3) > 0.
    # split 2, in-sample block 1: a is best. Out-of-sample (block 0) a ties b for ranks 2 and 3: rank 2 (overfit) or
    #   3 with probability 1/2 each: 1/2. Mean rank 2.5, logit ln(5/3).
    # PBO = 1/2. (The old rule counted neither split: logit > 0, PBO 0.0; the midrank hid the coin toss.)
    a = [0.01, 0.02, 0.03, 0.02, 0.03, 0.04]
    b = [0.01, 0.02, 0.03, 0.01, 0.02, 0.03]
    c = [0.01, -0.01, 0.0, 0.0, -0.01, -0.02]
    result = probability_of_backtest_overfitting(np.column_stack([a, b, c]), n_partitions=2)
    assert result.pbo == 0.5 and np.allclose(result.overfit, [0.5, 0.5])
    assert np.allclose(result.logits, np.log(5 / 3))
    # a tie that is not for the best changes nothing: with c worst everywhere and a above b in block 0, split 1 picks
    # a, which is rank 3 out-of-sample (not overfit); split 2 picks a, rank 3 in block 0: PBO 0
    a_up = [0.02, 0.03, 0.04, 0.02, 0.03, 0.04]
    assert probability_of_backtest_overfitting(np.column_stack([a_up, b, c]), n_partitions=2).pbo == 0.0


def _reference_pbo(ints, n_partitions):
    """CSCV written out with exact arithmetic on integer returns, split by split and variant by variant.

    The Sharpe ratio of integer returns with sum s and sum of squares q over n periods is s / sqrt(n q - s^2);
    sign(s) s^2 / (n q - s^2) orders the variants the same way, exactly (a Fraction). Flat returns score +inf, -inf
    or 0 by the sign of their sum, as in the package.
    """
    from fractions import Fraction
    from itertools import combinations

    n_periods, n_variants = ints.shape
    blocks = np.array_split(np.arange(n_periods), n_partitions)

    def key(rows, j):
        x = [int(v) for v in ints[rows, j]]
        n, s, q = len(x), sum(x), sum(v * v for v in x)
        spread = n * q - s * s
        if spread == 0:
            return float("inf") if s > 0 else float("-inf") if s < 0 else Fraction(0)
        return Fraction((1 if s > 0 else -1) * s * s, spread)

    overfit, logits, every_split_tied = [], [], True
    for half in combinations(range(n_partitions), n_partitions // 2):
        ins = np.concatenate([blocks[k] for k in half])
        out = np.concatenate([blocks[k] for k in range(n_partitions) if k not in half])
        k_in = [key(ins, j) for j in range(n_variants)]
        k_out = [key(out, j) for j in range(n_variants)]
        best = [j for j in range(n_variants) if k_in[j] == max(k_in)]
        every_split_tied &= len(best) == n_variants
        probabilities, ranks = [], []
        for j in best:
            below = sum(k < k_out[j] for k in k_out)
            equal = sum(k == k_out[j] for k in k_out)
            ranks.append(below + (equal + 1) / 2)
            probabilities.append(sum(r <= (n_variants + 1) / 2 for r in range(below + 1, below + equal + 1)) / equal)
        overfit.append(sum(probabilities) / len(best))
        omega = sum(ranks) / len(ranks) / (n_variants + 1)
        logits.append(np.log(omega / (1 - omega)))
    return (float("nan") if every_split_tied else float(np.mean(overfit))), np.array(overfit), np.array(logits)


@settings(max_examples=60, deadline=None)
@given(
    data=st.data(),
    n_variants=st.integers(2, 5),
    n_partitions=st.sampled_from([2, 4]),
    extra=st.integers(0, 8),
)
def test_pbo_in_unit_interval_invariant_to_permutation_and_agrees_with_a_reference(data, n_variants, n_partitions,
                                                                                 extra):
    # returns from a few values (-2..2 hundredths), so ties in-sample and out-of-sample are frequent
    n_periods = 2 * n_partitions + extra
    ints = np.array(data.draw(st.lists(st.lists(st.integers(-2, 2), min_size=n_variants, max_size=n_variants),
                                       min_size=n_periods, max_size=n_periods)))
    returns = ints * 0.01
    result = probability_of_backtest_overfitting(returns, n_partitions=n_partitions)
    assert np.isnan(result.pbo) or 0.0 <= result.pbo <= 1.0
    assert ((result.overfit >= 0.0) & (result.overfit <= 1.0)).all()
    assert (result.note is None) == (not np.isnan(result.pbo))
    order = data.draw(st.permutations(range(n_variants)))
    permuted = probability_of_backtest_overfitting(returns[:, order], n_partitions=n_partitions)
    assert permuted.pbo == pytest.approx(result.pbo, abs=1e-12, nan_ok=True)
    assert np.allclose(permuted.overfit, result.overfit) and np.allclose(permuted.logits, result.logits)
    pbo, overfit, logits = _reference_pbo(ints, n_partitions)
    assert result.pbo == pytest.approx(pbo, abs=1e-4, nan_ok=True)
    assert np.allclose(result.overfit, overfit, atol=1e-4) and np.allclose(result.logits, logits, atol=1e-4)


def test_pbo_on_untied_data_is_the_papers_count():
    # without ties each split is overfit or not (logit <= 0), as in Bailey et al. 2017: the rule for ties changes
    # nothing there. Checked against the exact reference on integer returns with many distinct values.
    ints = np.random.default_rng(12).integers(-1000, 1000, size=(120, 7))
    result = probability_of_backtest_overfitting(ints * 1e-5, n_partitions=8)
    assert set(np.unique(result.overfit)) <= {0.0, 1.0}
    assert np.array_equal(result.overfit, (result.logits <= 0).astype(float))
    assert result.pbo == np.mean(result.logits <= 0)
    pbo, overfit, logits = _reference_pbo(ints, 8)
    assert result.pbo == pbo and np.array_equal(result.overfit, overfit) and np.allclose(result.logits, logits, atol=1e-4)


# --- the sweep: N counts the variants that failed or never traded -------------------------------


def _sweep_symbol(seed, n=300):
    rng = np.random.RandomState(seed)
    X = pd.DataFrame(rng.normal(size=(n, 3)), columns=["f0", "f1", "f2"],
                     index=pd.date_range("2020-01-01", periods=n, freq="D"))
    y = pd.Series((X["f0"] + rng.normal(size=n) > 0.5).astype(int), index=X.index)
    returns = pd.Series(np.where(y == 1, 0.01, -0.01) + rng.normal(0, 0.01, n), index=X.index)
    from cvn_sklearn.sweep import SymbolData

    return SymbolData(X, y, returns)


_GOOD = {"name": "good", "model": "logreg"}
_BROKEN = {"name": "broken", "model": "logreg", "params": {"C": -1}}
# a forest of single leaves predicts the base rate: constant probabilities, no edge, no trade
_FLAT = {"name": "flat", "model": "random_forest", "params": {"n_estimators": 3, "min_samples_leaf": 100_000}}


@pytest.fixture(scope="module")
def lone_survivor(tmp_path_factory):
    from cvn_sklearn.sweep import screen

    folder = tmp_path_factory.mktemp("rank_edges")
    config = {"symbols": ["aaa"], "folds": {"n_splits": 2, "gap": 2}, "calibration": "sigmoid", "mlflow": False,
              "cost": 0.0}
    data = {"aaa": _sweep_symbol(1)}
    one = screen({**config, "variants": [_GOOD, _BROKEN, _FLAT], "folder": str(folder / "one")}, data=data)
    # the same variants and one more tradeable one
    two = screen({**config, "variants": [_GOOD, {"name": "good_l2", "model": "logreg", "params": {"C": 0.01}}, _BROKEN,
                                         _FLAT], "folder": str(folder / "two")}, data=data)
    return one, two


def test_sweep_where_every_other_variant_failed_or_never_traded(lone_survivor):
    result, _ = lone_survivor
    ranking = result.ranking
    assert list(ranking.index) == ["good", "flat", "broken"]
    assert ranking.loc["good", "trades"] > 0 and ranking.loc["flat", "trades"] == 0
    assert ranking.loc["flat", "no_edge_cells"] == 2 and ranking.loc["broken", "failed_cells"] == 2
    good = ranking.loc["good"]
    assert 0.0 < good["psr"] < 1.0 and np.isnan(good["dsr"])  # not its PSR: N = 3, the variance of 1 Sharpe unknown
    assert good["dsr_note"] == ("DSR not computed: the Sharpe variance of the trials is unknown (1 of N = 3 trials "
                                "has a Sharpe ratio)")
    assert ranking.loc["flat", "dsr_note"] == "no Sharpe ratio: the returns never vary (never traded)"
    assert ranking.loc["broken", "dsr_note"] == "not ranked: 2 failed cell(s) (a trial: counted in N = 3)"
    assert 0.0 <= result.pbo <= 1.0  # PBO compares the complete variants: good against flat (Sharpe 0 everywhere)
    pd.testing.assert_frame_equal(pd.read_parquet(result.folder / "ranking.parquet"), ranking)


def test_sweep_dsr_counts_failed_and_never_traded_variants_in_n(lone_survivor):
    _, result = lone_survivor
    ranking = result.ranking
    tradeable = ["good", "good_l2"]
    assert ranking.loc[tradeable, "dsr"].notna().all()
    assert (ranking.loc[tradeable, "dsr"] < ranking.loc[tradeable, "psr"]).all()
    assert (ranking.loc[tradeable, "dsr_note"] == "Sharpe variance from 2 of N = 4 trials (the others have no Sharpe "
                                                  "ratio)").all()
    complete = result.pooled[["good", "good_l2", "flat"]].dropna(how="all")
    with_n4 = rank_variants(complete, periods_per_year=result.periods_per_year, n_trials=4, n_partitions=None).table
    with_n3 = rank_variants(complete, periods_per_year=result.periods_per_year, n_trials=3, n_partitions=None).table
    assert np.allclose(ranking.loc[tradeable, "dsr"], with_n4.loc[tradeable, "dsr"])
    assert (ranking.loc[tradeable, "dsr"] < with_n3.loc[tradeable, "dsr"]).all()  # the failed variant deflates too


def test_rank_variants_figures_are_trading_metrics_and_scipy_moments_of_each_column_exactly():
    """The table is built for every column at once; each number is what the one-column functions give, bit for bit."""
    from scipy import stats

    from cvn_sklearn.ranking import _moments

    rng = np.random.default_rng(11)
    returns = pd.DataFrame(rng.normal(0.0005, 0.01, size=(300, 40)) * (rng.random((300, 40)) < 0.4),
                           columns=[f"v{i}" for i in range(40)])
    returns["v7"] = 0.0  # never trades: no Sharpe, no moments
    table = rank_variants(returns, periods_per_year=252, n_partitions=None).table
    for name in returns:
        r = returns[name].to_numpy()
        m = trading_metrics(np.ones(len(r), dtype=bool), r, periods_per_year=252)
        row = table.loc[name]
        np.testing.assert_array_equal([row["sharpe"], row["sortino"], row["max_drawdown"]],
                                      [m.sharpe, m.sortino, m.max_drawdown])
        if name == "v7":
            assert np.isnan(row["skew"]) and np.isnan(row["kurtosis"])
        else:
            assert (row["skew"], row["kurtosis"]) == _moments(r)[1:]  # the one-series function's, bit for bit
            # and scipy's on the series: its 1-d path can differ from its 2-d one in the last bit (scipy 1.17)
            np.testing.assert_allclose([row["skew"], row["kurtosis"]], [stats.skew(r), stats.kurtosis(r, fisher=False)],
                                       rtol=4 * np.finfo(float).eps, atol=0)


def test_pbo_in_chunks_equals_pbo_in_one_piece(monkeypatch):
    """The splits are scored in chunks (memory stays flat in the variants); the chunk size changes no number."""
    import cvn_sklearn.ranking as ranking

    rng = np.random.default_rng(5)
    returns = rng.normal(0, 0.01, size=(200, 30)) * (rng.random((200, 30)) < 0.5)
    whole = probability_of_backtest_overfitting(returns, n_partitions=8)  # 70 splits in one chunk
    monkeypatch.setattr(ranking, "_PBO_CHUNK", 30 * 4)  # 4 splits a chunk, the last one shorter
    chunked = probability_of_backtest_overfitting(returns, n_partitions=8)
    assert chunked.pbo == whole.pbo and chunked.n_combinations == whole.n_combinations == 70
    np.testing.assert_array_equal(chunked.logits, whole.logits)
    np.testing.assert_array_equal(chunked.overfit, whole.overfit)
