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
    # two blocks: one split in each direction; variant 1 wins block 0, variant 2 wins block 1
    block0 = np.array([[0.0, 0.03, 0.01], [0.01, 0.05, 0.0], [0.02, 0.04, 0.02]])
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
    # all variants flat: every split is a tie of all variants at the median rank, logit 0
    flat = probability_of_backtest_overfitting(np.zeros((40, 3)), n_partitions=4)
    assert np.allclose(flat.logits, 0.0) and flat.pbo == 1.0


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
