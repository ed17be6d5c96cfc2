"""Ranking many variants without fooling ourselves: PSR, DSR and PBO.

A sweep that tries many variants and keeps the best one will find a high
Sharpe ratio by luck alone. This module corrects for that:

- :func:`probabilistic_sharpe_ratio` (PSR): the probability that the true
  Sharpe ratio exceeds a benchmark, given the estimate's sample length,
  skewness and kurtosis (Bailey & López de Prado 2012).
- :func:`expected_max_sharpe` and :func:`deflated_sharpe_ratio` (DSR): the PSR
  against the Sharpe ratio the best of ``n_trials`` skill-less variants would
  reach by luck (Bailey & López de Prado 2014).
- :func:`probability_of_backtest_overfitting` (PBO): how often the variant
  that is best in-sample falls to the bottom half out-of-sample, by
  combinatorially symmetric cross-validation (Bailey, Borwein, López de Prado
  & Zhu 2017).
- :func:`rank_variants`: the sweep's ranking table (Sharpe, Sortino, PSR, DSR
  per variant, and the sweep's PBO) from each variant's per-period returns.

Units. PSR and DSR take **per-period** (not annualised) Sharpe ratios: a
daily Sharpe, for daily returns. An annualised Sharpe ``SR_a`` over
``periods_per_year`` periods is ``SR_a / sqrt(periods_per_year)`` per period,
and a variance of annualised Sharpes ``V_a`` is ``V_a / periods_per_year``.

Edge cases, decided. DSR is NaN, with the reason in the ranking's
``dsr_note`` column, when the variance of the trials' Sharpe ratios cannot be
estimated (fewer than 2 Sharpe ratios, or all equal): taking it as 0 would make
DSR the PSR whatever the number of trials; ``rank_variants(sharpe_variance=)``
takes a prior instead. PBO breaks ties at random (each split counts the
probability that the in-sample best is at or below the median
out-of-sample) and is NaN, with a note, when the variants tie in every split.
See docs/ranking.md.

Kurtosis is the **raw** fourth standardised moment, ``E[(r - mu)^4] / sigma^4``
(3 for a normal distribution), not the excess kurtosis (0 for a normal
distribution). ``scipy.stats.kurtosis(r, fisher=False)`` gives it. Passing the
excess kurtosis understates the estimate's uncertainty for fat-tailed returns
and overstates PSR and DSR.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from itertools import combinations
from numbers import Integral

import numpy as np
import pandas as pd
from scipy import stats

from cvn_sklearn.trading import annualised_sortino, max_drawdown, sharpe_ratio

__all__ = [
    "PBOResult",
    "VariantRanking",
    "deflated_sharpe_ratio",
    "expected_max_sharpe",
    "probabilistic_sharpe_ratio",
    "probabilistic_sharpe_ratio_of_returns",
    "probability_of_backtest_overfitting",
    "rank_variants",
]


def probabilistic_sharpe_ratio(sharpe, *, n_obs, skew, kurtosis, benchmark=0.0):
    r"""Probability that the true Sharpe ratio exceeds ``benchmark`` (PSR).

    .. math::

        \mathrm{PSR}(SR^*) = \Phi\left(\frac{(\widehat{SR} - SR^*)\sqrt{T - 1}}
        {\sqrt{1 - \hat\gamma_3 \widehat{SR} + \frac{\hat\gamma_4 - 1}{4}\widehat{SR}^2}}\right)

    where :math:`\Phi` is the standard normal CDF, :math:`T` the number of
    returns, :math:`\hat\gamma_3` their skewness and :math:`\hat\gamma_4` their
    **raw** kurtosis. Source: D. H. Bailey and M. López de Prado (2012), "The
    Sharpe Ratio Efficient Frontier", *Journal of Risk* 15(2), eq. (11).
    For normal returns (skewness 0, kurtosis 3) the denominator is the
    textbook :math:`\sqrt{1 + \widehat{SR}^2 / 2}` (Lo 2002).

    Every argument may be an array; they broadcast together.

    Parameters
    ----------
    sharpe : float or array-like
        Estimated Sharpe ratio **per period** (not annualised): for an
        annualised Sharpe ``SR_a`` of daily returns pass
        ``SR_a / sqrt(periods_per_year)``.
    n_obs : int or array-like
        Number of returns ``T`` the Sharpe ratio was estimated on (at least 2).
    skew : float or array-like
        Skewness of the returns (0 for a normal distribution).
    kurtosis : float or array-like
        **Raw** kurtosis of the returns, ``E[(r - mu)^4] / sigma^4``: 3 for a
        normal distribution. Not the excess kurtosis: if you have the excess
        (as ``scipy.stats.kurtosis`` returns by default, or ``pandas.Series.kurt``),
        add 3.
    benchmark : float or array-like, default=0.0
        The Sharpe ratio :math:`SR^*` to beat, per period.

    Returns
    -------
    float or ndarray
        PSR in [0, 1]; an ndarray when any argument is an array.

    Raises
    ------
    ValueError
        If ``n_obs`` is below 2, or ``kurtosis < 1 + skew**2``: no distribution
        has that (Pearson's inequality), so the kurtosis passed is most likely
        the excess kurtosis.

    See Also
    --------
    probabilistic_sharpe_ratio_of_returns : the same from a returns array.
    deflated_sharpe_ratio : PSR against the best of many skill-less trials.

    Examples
    --------
    The worked example of Bailey & López de Prado (2012): 24 monthly returns,
    annualised Sharpe 1.585, skewness -2.448, kurtosis 10.164.

    >>> import numpy as np
    >>> from cvn_sklearn.ranking import probabilistic_sharpe_ratio
    >>> psr = probabilistic_sharpe_ratio(1.585 / np.sqrt(12), n_obs=24, skew=-2.448, kurtosis=10.164)
    >>> round(psr, 4)
    0.9132

    Normal returns: kurtosis 3, not 0.

    >>> round(probabilistic_sharpe_ratio(0.1, n_obs=250, skew=0.0, kurtosis=3.0), 4)
    0.9423
    >>> probabilistic_sharpe_ratio(0.1, n_obs=250, skew=0.0, kurtosis=0.0)
    Traceback (most recent call last):
    ...
    ValueError: kurtosis must be the raw fourth standardised moment (3 for a normal distribution), not the excess kurtosis; got kurtosis 0 with skew 0, below 1 + skew**2, which no distribution has. If you passed the excess kurtosis, add 3.
    """
    sharpe, n_obs, skew, kurtosis, benchmark = np.broadcast_arrays(
        *(np.asarray(a, dtype=np.float64) for a in (sharpe, n_obs, skew, kurtosis, benchmark))
    )
    _check_psr_inputs(n_obs, skew, kurtosis)
    variance = 1.0 - skew * sharpe + (kurtosis - 1.0) / 4.0 * sharpe**2
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (sharpe - benchmark) * np.sqrt(n_obs - 1.0) / np.sqrt(variance)
    return _float_or_array(stats.norm.cdf(z))


def probabilistic_sharpe_ratio_of_returns(returns, *, benchmark=0.0):
    """PSR of a series of per-period returns, from their own moments.

    The Sharpe ratio is ``mean / std`` (population standard deviation, as in
    :func:`cvn_sklearn.metrics.trading_metrics`, not annualised), the skewness
    and raw kurtosis are the sample moments of ``returns``; see
    :func:`probabilistic_sharpe_ratio` for the formula.

    Parameters
    ----------
    returns : array-like of shape (n_periods,)
        Per-period returns of one strategy (0.01 = +1%), at least 2, finite
        and not all equal.
    benchmark : float, default=0.0
        The per-period Sharpe ratio to beat. An annualised benchmark ``B_a``
        is ``B_a / sqrt(periods_per_year)`` per period.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If ``returns`` holds NaN or inf, fewer than 2 values, or does not vary
        (its Sharpe ratio is undefined).

    Examples
    --------
    >>> import numpy as np
    >>> from cvn_sklearn.ranking import probabilistic_sharpe_ratio_of_returns
    >>> r = np.random.default_rng(0).normal(0.001, 0.01, size=1000)
    >>> round(probabilistic_sharpe_ratio_of_returns(r), 3)
    0.953
    """
    r = np.asarray(returns, dtype=np.float64)
    if r.ndim != 1 or r.size < 2 or not np.isfinite(r).all():
        raise ValueError("returns must be a 1-d array of at least 2 finite per-period returns; drop or fill NaN and inf.")
    sharpe, skew, kurt = _moments(r)
    if np.isnan(sharpe):
        raise ValueError("returns do not vary, so their Sharpe ratio is undefined (a strategy that never trades?).")
    return probabilistic_sharpe_ratio(sharpe, n_obs=r.size, skew=skew, kurtosis=kurt, benchmark=benchmark)


def expected_max_sharpe(n_trials, sharpe_variance):
    r"""Expected maximum Sharpe ratio of ``n_trials`` skill-less trials.

    .. math::

        E[\max_n \widehat{SR}_n] \approx \sqrt{V}\left((1 - \gamma)\,\Phi^{-1}\!\left(1 - \frac1N\right)
        + \gamma\,\Phi^{-1}\!\left(1 - \frac{1}{N e}\right)\right)

    with :math:`\gamma \approx 0.5772` the Euler–Mascheroni constant,
    :math:`\Phi^{-1}` the standard normal quantile, :math:`N` the number of
    independent trials and :math:`V` the variance of their Sharpe ratios, whose
    true value is 0 (the null hypothesis: no skill). Source: D. H. Bailey and
    M. López de Prado (2014), "The Deflated Sharpe Ratio: Correcting for
    Selection Bias, Backtest Overfitting and Non-Normality", *Journal of
    Portfolio Management* 40(5), eq. (2) (from the false strategy theorem).
    For ``n_trials == 1`` the maximum is the single trial, whose expectation
    is 0.

    Parameters
    ----------
    n_trials : int
        Number of independent variants tried, :math:`N \ge 1`.
    sharpe_variance : float
        Variance of the trials' Sharpe ratios, :math:`V \ge 0`. The result is
        in the units of ``sqrt(sharpe_variance)``: per-period variance in,
        per-period Sharpe out (annualised in, annualised out).

    Returns
    -------
    float

    Examples
    --------
    >>> from cvn_sklearn.ranking import expected_max_sharpe
    >>> round(expected_max_sharpe(100, 0.5), 4)   # annualised, as in Bailey & López de Prado (2014)
    1.7894
    >>> expected_max_sharpe(1, 0.5)
    0.0
    """
    if isinstance(n_trials, bool) or not isinstance(n_trials, Integral) or n_trials < 1:
        raise ValueError(f"n_trials must be an integer >= 1 (the number of variants tried), got {n_trials!r}.")
    if not np.isfinite(sharpe_variance) or sharpe_variance < 0:
        raise ValueError(f"sharpe_variance must be a finite number >= 0, got {sharpe_variance!r}.")
    if n_trials == 1:
        return 0.0
    gamma = np.euler_gamma
    quantiles = (1.0 - gamma) * stats.norm.ppf(1.0 - 1.0 / n_trials) + gamma * stats.norm.ppf(1.0 - 1.0 / (n_trials * np.e))
    return float(np.sqrt(sharpe_variance) * quantiles)


def deflated_sharpe_ratio(sharpe, *, n_obs, skew, kurtosis, n_trials, sharpe_variance):
    r"""Deflated Sharpe ratio (DSR): PSR against the best of ``n_trials`` lucky trials.

    .. math::

        \mathrm{DSR} = \mathrm{PSR}(SR_0), \qquad SR_0 = E[\max_n \widehat{SR}_n]

    where :math:`SR_0` is :func:`expected_max_sharpe` of the ``n_trials``
    variants tried and the variance of their Sharpe ratios, and PSR is
    :func:`probabilistic_sharpe_ratio`. DSR is the probability that the
    selected variant's true Sharpe ratio is positive *after* accounting for the
    selection among ``n_trials`` variants and for non-normal returns. Source:
    D. H. Bailey and M. López de Prado (2014), "The Deflated Sharpe Ratio",
    *Journal of Portfolio Management* 40(5), eq. (1)–(2).

    Parameters
    ----------
    sharpe : float or array-like
        Estimated Sharpe ratio of the selected variant, **per period**.
    n_obs : int or array-like
        Number of returns the Sharpe ratio was estimated on.
    skew : float or array-like
        Skewness of its returns.
    kurtosis : float or array-like
        **Raw** kurtosis of its returns (3 for a normal distribution, not 0).
    n_trials : int
        Number of variants tried, :math:`N \ge 1`. With ``n_trials == 1``
        DSR equals PSR against 0.
    sharpe_variance : float
        Variance of the trials' Sharpe ratios, **per period**: a variance of
        annualised Sharpes ``V_a`` is ``V_a / periods_per_year``.

    Returns
    -------
    float or ndarray

    See Also
    --------
    rank_variants : DSR of every variant of a sweep from their returns.

    Examples
    --------
    The worked example of Bailey & López de Prado (2014): 100 trials whose
    annualised Sharpe ratios have variance 0.5, 1,250 daily returns, best
    annualised Sharpe 2.5, skewness -3, kurtosis 10. The paper converts with
    250 days a year (252 gives 0.8997).

    >>> import numpy as np
    >>> from cvn_sklearn.ranking import deflated_sharpe_ratio
    >>> dsr = deflated_sharpe_ratio(2.5 / np.sqrt(250), n_obs=1250, skew=-3.0, kurtosis=10.0,
    ...                             n_trials=100, sharpe_variance=0.5 / 250)
    >>> round(dsr, 4)
    0.9004
    """
    sr0 = expected_max_sharpe(n_trials, sharpe_variance)
    return probabilistic_sharpe_ratio(sharpe, n_obs=n_obs, skew=skew, kurtosis=kurtosis, benchmark=sr0)


@dataclass(frozen=True)
class PBOResult:
    """Probability of backtest overfitting, estimated by CSCV.

    Attributes
    ----------
    pbo : float
        Share of the combinations whose in-sample best variant ranks at or
        below the median out-of-sample (logit ``<= 0``): the mean of
        ``overfit``. With ties, each combination counts the probability of
        that under random tie-breaking (see
        :func:`probability_of_backtest_overfitting`). NaN when the variants
        tie in every combination (see ``note``).
    logits : ndarray of shape (n_combinations,)
        :math:`\\lambda_c = \\ln(\\bar\\omega_c / (1 - \\bar\\omega_c))`, with
        :math:`\\bar\\omega_c` the out-of-sample relative rank (in (0, 1)) of
        the in-sample best variant of combination ``c`` (with ties: the mean
        relative rank, tied scores sharing their average rank). Read-only.
    n_combinations : int
        Number of in-sample / out-of-sample splits, ``comb(n_partitions, n_partitions // 2)``.
    n_partitions : int
        Number of time blocks ``S`` the periods were cut into.
    overfit : ndarray of shape (n_combinations,)
        Per combination, the probability that the in-sample best ranks at or
        below the median out-of-sample: 0 or 1 without ties (``logits <= 0``),
        in between when ties are broken at random. Read-only.
    note : str or None
        Why ``pbo`` is NaN, else None.
    """

    pbo: float
    logits: np.ndarray = field(repr=False, compare=False)
    n_combinations: int
    n_partitions: int
    overfit: np.ndarray | None = field(default=None, repr=False, compare=False)
    note: str | None = None


_PBO_CHUNK = 2**18
"""(split, variant) scores computed at once by :func:`probability_of_backtest_overfitting`: the splits go in chunks."""


def probability_of_backtest_overfitting(returns, *, n_partitions=16, metric="sharpe") -> PBOResult:
    r"""Probability of backtest overfitting (PBO) by combinatorially symmetric cross-validation.

    CSCV (Bailey, Borwein, López de Prado & Zhu 2017, "The Probability of
    Backtest Overfitting", *Journal of Computational Finance* 20(4)):

    1. cut the ``T`` periods into ``S = n_partitions`` contiguous blocks of
       (nearly) equal size, in time order;
    2. for each of the :math:`\binom{S}{S/2}` ways to pick half the blocks as
       the in-sample set :math:`J` (the rest, :math:`\bar J`, out-of-sample),
       find the variant :math:`n^*` with the best in-sample performance;
    3. take its relative rank out-of-sample,
       :math:`\bar\omega_c = \mathrm{rank}(\bar R_{n^*}) / (N + 1) \in (0, 1)`
       (rank 1 = worst of the ``N`` variants), and its logit
       :math:`\lambda_c = \ln(\bar\omega_c / (1 - \bar\omega_c))`;
    4. :math:`\mathrm{PBO} = \#\{c : \lambda_c \le 0\} / \#C`, the share of
       splits where the in-sample winner is at or below the median
       out-of-sample.

    PBO near 0: picking the in-sample best also picks an out-of-sample
    winner. Near 0.5: the in-sample ranking says nothing about the
    out-of-sample one (selection is luck). Above 0.5: the in-sample best
    tends to do worse than the median variant out-of-sample.

    Ties. When several variants tie for the in-sample best, or the
    in-sample best ties with others out-of-sample, "its" out-of-sample rank
    is undefined. The rule here: ties are broken **uniformly at random**, and
    a combination counts the *probability* that the in-sample best then ranks
    at or below the median out-of-sample: the mean, over the tied in-sample
    best :math:`n`, of the share of the ranks :math:`L_n + 1, \dots, L_n + E_n`
    (:math:`L_n` variants score strictly below it out-of-sample, :math:`E_n`
    equal, itself included) that are :math:`\le (N + 1) / 2`. Without ties it
    is 0 or 1, the count above, so results on untied data are those of the
    paper. A combination where every variant ties counts
    :math:`\lfloor (N + 1) / 2 \rfloor / N` (1/2 for even ``N``), the PBO of a
    selection without information, not 1: the old "mean rank, logit
    ``<= 0``" counted such a tie (logit exactly 0) as overfit every time, so
    variants with identical returns had PBO 1.0. When the variants tie in
    **every** combination (identical returns, or none trades), there is no
    in-sample best to select and nothing to overfit: ``pbo`` is NaN and
    ``note`` says why. The logits keep the mean relative rank of the tied
    in-sample best, tied scores sharing their average rank. Scores equal to
    about 9 significant digits (30 bits) tie, so two variants with the same
    returns on a set of periods tie there whatever rounding the block sums
    met (unless the two rounding errors straddle a 30-bit step: a chance of
    the order of 1e-7). With the default Sharpe metric, a variant whose returns do not vary
    on a set of periods scores 0 there if they are all 0 (a variant that
    never trades) and ``±inf`` by the sign of their mean otherwise, so
    degenerate columns rank without NaN.

    Parameters
    ----------
    returns : array-like or DataFrame of shape (n_periods, n_variants)
        Per-period out-of-sample returns of each variant, rows in time
        order, one column a variant (a DataFrame's columns name them). A
        period where a variant holds no position has return 0.
    n_partitions : int, default=16
        Number of blocks ``S``: even, at least 2, with at least 2 periods per
        block. The cost grows as :math:`\binom{S}{S/2}` (12,870 splits for 16).
    metric : "sharpe" or callable, default="sharpe"
        Performance of the variants on a set of periods. ``"sharpe"`` is the
        per-period Sharpe ratio ``mean / std`` (population standard
        deviation). A callable receives an ndarray of shape
        ``(n_rows, n_variants)`` and returns ``n_variants`` scores, higher
        better, never NaN.

    Returns
    -------
    PBOResult

    Raises
    ------
    ValueError
        If ``returns`` is not 2-d, has fewer than 2 variants, holds NaN or
        inf, has too few periods for ``n_partitions``, ``n_partitions`` is odd
        or below 2, or ``metric`` is unknown or returns NaN.

    Examples
    --------
    Ten variants of pure noise: the in-sample best is a coin flip out-of-sample.

    >>> import numpy as np
    >>> from cvn_sklearn.ranking import probability_of_backtest_overfitting
    >>> noise = np.random.default_rng(0).normal(0.0, 0.01, size=(400, 10))
    >>> result = probability_of_backtest_overfitting(noise, n_partitions=8)
    >>> result.n_combinations, result.logits.shape
    (70, (70,))
    >>> 0.2 < result.pbo < 0.8
    True

    One variant with a real edge: the in-sample best stays best.

    >>> noise[:, 3] += 0.005
    >>> probability_of_backtest_overfitting(noise, n_partitions=8).pbo
    0.0

    Variants that never trade (or have identical returns) tie everywhere:
    there is nothing to select, so no PBO.

    >>> flat = probability_of_backtest_overfitting(np.zeros((40, 3)), n_partitions=4)
    >>> flat.pbo, flat.note
    (nan, 'PBO not computed: the 3 variants tie in every split (identical performance, e.g. none trades): there is no in-sample best to select')
    """
    values, _ = _check_returns_matrix(returns)
    n_periods, n_variants = values.shape
    if n_variants < 2:
        raise ValueError(f"PBO compares variants: returns has {n_variants} column(s); pass at least 2 (one column per variant).")
    _check_n_partitions(n_partitions, n_periods)
    blocks = np.array_split(np.arange(n_periods), n_partitions)
    in_sample = _in_sample_halves(n_partitions)
    if not (isinstance(metric, str) and metric == "sharpe") and not callable(metric):
        raise ValueError(f"metric must be 'sharpe' or a callable scoring each column, got {metric!r}.")
    chunk = max(1, _PBO_CHUNK // n_variants)  # memory stays a few MB however many variants
    # the halves come in complementary pairs (see _in_sample_halves): split c's out-of-sample set is split
    # n - 1 - c's in-sample one, so each set's scores are computed once and serve both splits
    n_splits = len(in_sample)
    logits, overfit, all_tie = np.empty(n_splits), np.empty(n_splits), True
    block_sums = None if callable(metric) else _block_sums(values, blocks)  # the same for every chunk of splits
    for start in range(0, n_splits // 2, chunk):
        stop = min(start + chunk, n_splits // 2)
        sides = in_sample[start:stop]
        if callable(metric):
            perf_in, perf_out = _metric_by_split(values, blocks, sides, metric)
        else:
            perf_in, perf_out = _sharpe_by_split(block_sums, sides)
        perf_in, perf_out = _tie_rounding(perf_in), _tie_rounding(perf_out)
        mirrored = slice(n_splits - 1 - start, n_splits - 1 - stop, -1)  # the splits n - 1 - c (stop <= n / 2)
        logits[start:stop], overfit[start:stop] = _logits(perf_in, perf_out)
        logits[mirrored], overfit[mirrored] = _logits(perf_out, perf_in)
        all_tie = all_tie and bool((perf_in == perf_in[:, :1]).all()) and bool((perf_out == perf_out[:, :1]).all())
    logits.setflags(write=False)
    overfit.setflags(write=False)
    note = None
    pbo = float(np.mean(overfit))
    if all_tie:  # every split ties all variants in-sample (and so out-of-sample)
        pbo = float("nan")
        note = (f"PBO not computed: the {n_variants} variants tie in every split (identical performance, e.g. none "
                "trades): there is no in-sample best to select")
    return PBOResult(pbo=pbo, logits=logits, n_combinations=len(in_sample), n_partitions=n_partitions,
                     overfit=overfit, note=note)


@dataclass(frozen=True)
class VariantRanking:
    """The ranking of a sweep's variants; see :func:`rank_variants`.

    Attributes
    ----------
    table : DataFrame
        One row per variant (index ``variant``), sorted by ``dsr`` descending.
    pbo : PBOResult or None
        The sweep's probability of backtest overfitting; ``None`` when
        ``n_partitions=None`` or there is a single variant.
    n_trials : int
        The ``N`` the deflated Sharpe ratios were computed with.
    sharpe_variance : float
        Variance of the trials' per-period Sharpe ratios used by DSR: the
        estimate, or the prior passed; NaN when it could not be estimated
        (then every ``dsr`` is NaN, unless ``n_trials == 1``).
    n_sharpe : int
        Number of variants with a Sharpe ratio (returns that vary), the ones
        the variance is estimated from.
    dsr_note : str or None
        How the Sharpe variance behind DSR was obtained when it is not the
        plain estimate from all ``n_trials`` trials, or why DSR was not
        computed; None otherwise. The table's ``dsr_note`` column carries it
        on each row it applies to.
    """

    table: pd.DataFrame = field(compare=False)
    pbo: PBOResult | None
    n_trials: int
    sharpe_variance: float
    n_sharpe: int = 0
    dsr_note: str | None = None


def rank_variants(returns, *, periods_per_year, n_trials=None, n_partitions=16, sharpe_variance=None) -> VariantRanking:
    """Rank a sweep's variants by deflated Sharpe ratio, with the sweep's PBO.

    For each variant (column), on its pooled out-of-sample per-period
    returns:

    - ``sharpe``, ``sortino``, ``max_drawdown``: annualised Sharpe and
      Sortino ratios and maximum drawdown, as defined by
      :func:`cvn_sklearn.metrics.trading_metrics` (population standard
      deviation; Sortino's downside deviation against 0);
    - ``n_periods``, ``skew``, ``kurtosis``: the sample length and moments
      (raw kurtosis, 3 for normal returns);
    - ``psr``: :func:`probabilistic_sharpe_ratio` against 0;
    - ``dsr``: :func:`deflated_sharpe_ratio` with ``N = n_trials`` and the
      variance (``ddof=1``) of the variants' per-period Sharpe ratios (or the
      prior ``sharpe_variance``);
    - ``dsr_note``: why ``dsr`` is NaN, or where its Sharpe variance came
      from when that is not all ``N`` trials (a string column, missing when
      there is nothing to say).

    The table is sorted by ``dsr`` descending (ties and NaN by ``sharpe``). A
    variant whose returns never vary (one that never trades) has no Sharpe
    ratio: its ``sharpe``, ``psr`` and ``dsr`` are NaN, it sorts last, and it
    is left out of the Sharpe variance (but still counts in ``n_trials``).

    When the Sharpe variance cannot be estimated, DSR is **not computed**
    (NaN, with the reason in ``dsr_note``) rather than silently equal to PSR:
    the deflation is :math:`SR_0 = \\sqrt{V} \\times f(N)`, so a variance
    taken as 0 removes the correction for the ``N`` trials however large
    ``N`` is. That is the case with fewer than 2 variants that have a Sharpe
    ratio (one tradeable variant, the others never traded or were dropped), or
    when those Sharpe ratios are all equal (identical variants: a variance of
    0 says nothing of the luck of ``N`` trials). NaN is the conservative
    answer: a DSR that cannot be told apart from PSR would overstate the
    evidence, and a made-up variance would hide that it is made up. Pass
    ``sharpe_variance=`` (a prior, e.g. the variance across an earlier,
    larger sweep of the same kind) to deflate anyway; the note then says so.
    With 2 or more Sharpe ratios but fewer than ``n_trials`` (trials that
    failed or never traded), the variance is estimated from those there are,
    ``N`` still counts every trial, and ``dsr_note`` says from how many.
    With ``n_trials == 1`` there is no selection: DSR is PSR whatever the
    variance.

    Parameters
    ----------
    returns : DataFrame or array-like of shape (n_periods, n_variants)
        Per-period out-of-sample returns of each variant in time order (0 for
        periods without a position); a DataFrame's columns name the variants.
    periods_per_year : float
        Periods per year, to annualise Sharpe and Sortino (252 for daily
        bars). PSR and DSR are computed per period and do not depend on it.
    n_trials : int, default=None
        Number of variants tried, ``N`` of the DSR; ``None`` means the number
        of columns. Pass more when variants were tried and dropped before
        (failed, or left out): they count in ``N``.
    n_partitions : int or None, default=16
        Blocks of :func:`probability_of_backtest_overfitting`; ``None`` skips
        PBO.
    sharpe_variance : float or None, default=None
        A prior for the variance of the trials' **per-period** Sharpe ratios
        (a variance of annualised Sharpes ``V_a`` is
        ``V_a / periods_per_year``), used instead of the estimate when given.
        ``None``: estimate it from the columns (NaN DSR when it cannot be).

    Returns
    -------
    VariantRanking

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from cvn_sklearn.ranking import rank_variants
    >>> rng = np.random.default_rng(0)
    >>> returns = pd.DataFrame(rng.normal(0.0, 0.01, size=(500, 4)), columns=["a", "b", "c", "d"])
    >>> returns["b"] += 0.004
    >>> ranking = rank_variants(returns, periods_per_year=252, n_partitions=8)
    >>> ranking.table.index[0], ranking.n_trials, ranking.pbo.pbo
    ('b', 4, 0.0)
    >>> list(ranking.table.columns)
    ['sharpe', 'sortino', 'max_drawdown', 'psr', 'dsr', 'n_periods', 'skew', 'kurtosis', 'dsr_note']

    One tradeable variant of 100 tried: the variance of the trials' Sharpe
    ratios is unknown, so no DSR, unless a prior is passed.

    >>> one = rank_variants(returns[["b"]], periods_per_year=252, n_trials=100)
    >>> float(one.table.loc["b", "dsr"]), one.table.loc["b", "dsr_note"]
    (nan, 'DSR not computed: the Sharpe variance of the trials is unknown (1 of N = 100 trials has a Sharpe ratio)')
    >>> prior = rank_variants(returns[["b"]], periods_per_year=252, n_trials=100, sharpe_variance=0.5 / 252)
    >>> bool(prior.table.loc["b", "dsr"] < prior.table.loc["b", "psr"])
    True
    """
    values, names = _check_returns_matrix(returns)
    n_periods, n_variants = values.shape
    n_trials = n_variants if n_trials is None else n_trials
    if isinstance(n_trials, bool) or not isinstance(n_trials, Integral) or n_trials < n_variants:
        raise ValueError(f"n_trials must be an integer >= the number of variants ({n_variants}), got {n_trials!r}.")
    n_trials = int(n_trials)
    if sharpe_variance is not None and (
        isinstance(sharpe_variance, bool) or not np.isfinite(sharpe_variance) or sharpe_variance < 0
    ):
        raise ValueError(
            f"sharpe_variance must be a finite number >= 0 (a prior for the variance of the trials' per-period Sharpe "
            f"ratios), or None to estimate it; got {sharpe_variance!r}."
        )
    if n_periods < 2:
        raise ValueError(f"returns has {n_periods} period(s); a Sharpe ratio needs at least 2.")
    table = _variant_table(values, periods_per_year, names)
    per_period = table["sharpe"].to_numpy() / np.sqrt(periods_per_year)
    has_sharpe = np.isfinite(per_period)
    variance, note = _sharpe_variance(per_period[has_sharpe], n_trials, sharpe_variance)
    moments = dict(n_obs=n_periods, skew=table["skew"].to_numpy(), kurtosis=table["kurtosis"].to_numpy())
    table["psr"] = probabilistic_sharpe_ratio(per_period, **moments)
    if n_trials == 1:  # no selection: SR0 = 0 whatever the variance
        table["dsr"] = table["psr"]
    elif np.isnan(variance):
        table["dsr"] = np.nan
    else:
        table["dsr"] = deflated_sharpe_ratio(per_period, **moments, n_trials=n_trials, sharpe_variance=variance)
    table["dsr_note"] = pd.Series([note if ok else _NO_SHARPE for ok in has_sharpe], index=table.index, dtype="str")
    table = table[["sharpe", "sortino", "max_drawdown", "psr", "dsr", "n_periods", "skew", "kurtosis", "dsr_note"]]
    table = table.sort_values(["dsr", "sharpe"], ascending=False, na_position="last", kind="stable")
    pbo = None
    if n_partitions is not None and n_variants > 1:
        pbo = probability_of_backtest_overfitting(values, n_partitions=n_partitions)
    return VariantRanking(table=table, pbo=pbo, n_trials=n_trials, sharpe_variance=variance,
                          n_sharpe=int(has_sharpe.sum()), dsr_note=note)


_NO_SHARPE = "no Sharpe ratio: the returns never vary (never traded)"


def _sharpe_variance(sharpes, n_trials, prior):
    """The variance of the trials' per-period Sharpe ratios for DSR (NaN when unknown), and the note to show with it."""
    k = sharpes.size
    if prior is not None:
        return float(prior), f"Sharpe variance of the trials: the prior passed, {float(prior):.6g} per period"
    variance = float(np.var(sharpes, ddof=1)) if k > 1 else float("nan")
    if n_trials == 1:
        return variance, None
    if k < 2:
        return float("nan"), (f"DSR not computed: the Sharpe variance of the trials is unknown ({k} of N = {n_trials} "
                              "trials has a Sharpe ratio)")
    if variance == 0.0:
        return float("nan"), (f"DSR not computed: the {k} Sharpe ratios of the trials are all equal (a variance of 0 "
                              f"says nothing of the luck of N = {n_trials} trials)")
    if k < n_trials:
        return variance, f"Sharpe variance from {k} of N = {n_trials} trials (the others have no Sharpe ratio)"
    return variance, None


def _variant_table(values, periods_per_year, names) -> pd.DataFrame:
    """Each variant's figures on its per-period returns (a column of ``values``): those of :func:`~cvn_sklearn.trading.trading_metrics`.

    A position on every period, without cost, earns the column itself, so the
    trading figures are computed on it directly, by the functions
    ``trading_metrics`` applies to its strategy returns (no trade engine run).
    The moments are :func:`_shape_moments` of every column at once.
    """
    annualise = np.sqrt(periods_per_year)
    columns = np.ascontiguousarray(values.T)
    skew, kurtosis = _shape_moments(columns)
    return pd.DataFrame({
        "sharpe": [sharpe_ratio(r) * annualise for r in columns],
        "sortino": [annualised_sortino(r, annualise) for r in columns],
        "max_drawdown": [max_drawdown(r) for r in columns],
        "n_periods": columns.shape[1], "skew": skew, "kurtosis": kurtosis,
    }, index=pd.Index(names, name="variant"))


def _moments(r):
    """Per-period Sharpe (population std), skewness and raw kurtosis; NaN when ``r`` does not vary."""
    skew, kurtosis = _shape_moments(r[None, :])
    return sharpe_ratio(r), float(skew[0]), float(kurtosis[0])


def _shape_moments(rows):
    """Skewness and raw kurtosis of each row of ``rows`` (C-contiguous); NaN for a row that does not vary.

    Each row contiguous, the sums run as for that row alone: the numbers of
    ``scipy.stats`` on a one-row array, bit for bit, so a variant's moments in
    the ranking and those of :func:`_moments` on its series agree exactly.
    ``scipy.stats`` on a 1-d series can differ from its 2-d path in the last
    bit (scipy 1.17: one series in 40).
    """
    flat = np.ptp(rows, axis=1) == 0
    with np.errstate(divide="ignore", invalid="ignore"):
        skew, kurtosis = stats.skew(rows, axis=1), stats.kurtosis(rows, axis=1, fisher=False)
    return np.where(flat, np.nan, skew), np.where(flat, np.nan, kurtosis)


def _check_psr_inputs(n_obs, skew, kurtosis):
    if np.any(~(n_obs >= 2)):
        bad = _first(n_obs, ~(n_obs >= 2))
        raise ValueError(f"n_obs must be at least 2 (the number of returns behind the Sharpe ratio), got {bad:g}.")
    impossible = kurtosis < (1.0 + skew**2) * (1.0 - 1e-9)
    if np.any(impossible):
        raise ValueError(
            "kurtosis must be the raw fourth standardised moment (3 for a normal distribution), not the excess "
            f"kurtosis; got kurtosis {_first(kurtosis, impossible):g} with skew {_first(skew, impossible):g}, below "
            "1 + skew**2, which no distribution has. If you passed the excess kurtosis, add 3."
        )


def _first(values, mask):
    return values[mask].flat[0]


def _float_or_array(x):
    return float(x) if np.ndim(x) == 0 else np.asarray(x)


def _check_returns_matrix(returns):
    names = list(returns.columns) if isinstance(returns, pd.DataFrame) else None
    values = np.asarray(returns, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(
            f"returns must be 2-d, shape (n_periods, n_variants), got {values.ndim}-d; pass one column per variant "
            "(a DataFrame with variant names as columns)."
        )
    if not np.isfinite(values).all():
        bad = [names[j] if names else j for j in np.flatnonzero(~np.isfinite(values).all(axis=0))]
        raise ValueError(
            f"returns holds NaN or inf in variant(s) {bad[:10]}; fill periods without a position with 0 "
            "(returns.fillna(0)) or drop the periods no variant covers."
        )
    return values, names if names is not None else list(range(values.shape[1]))


@functools.cache
def _in_sample_halves(n_partitions: int) -> np.ndarray:
    """One row per way to pick half of ``n_partitions`` blocks, True where a block is in-sample (read-only).

    In the order of :func:`itertools.combinations`, where row ``n - 1 - c``
    is row ``c``'s complement (its out-of-sample blocks):
    :func:`probability_of_backtest_overfitting` scores each set of blocks once
    for the two splits it serves.

    Built once per process and size: listing the 12,870 halves of 16 blocks
    takes about 12 ms, most of a small sweep's PBO.
    """
    picked = np.array(list(combinations(range(n_partitions), n_partitions // 2)))
    in_sample = np.zeros((len(picked), n_partitions), dtype=bool)
    in_sample[np.arange(len(picked))[:, None], picked] = True
    in_sample.setflags(write=False)
    return in_sample


def _check_n_partitions(n_partitions, n_periods):
    if isinstance(n_partitions, bool) or not isinstance(n_partitions, Integral) or n_partitions < 2 or n_partitions % 2:
        raise ValueError(
            f"n_partitions must be an even integer >= 2 (CSCV splits the blocks in two halves), got {n_partitions!r}; "
            "16 is the usual choice."
        )
    if n_periods < 2 * n_partitions:
        raise ValueError(
            f"returns has {n_periods} periods, too few for n_partitions={n_partitions}: each block needs at least 2 "
            f"periods. Pass n_partitions <= {2 * (n_periods // 4)} or more periods."
        )


def _block_sums(values, blocks):
    """What every split's Sharpe ratios are computed from: each block's sums of returns and of squared deviations
    (from each variant's overall mean), its number of periods, the means, and each variant's scale of returns."""
    centre = values.mean(axis=0)
    centred = values - centre
    counts = np.array([len(b) for b in blocks], dtype=np.float64)
    sums = np.array([values[b].sum(axis=0) for b in blocks])
    squares = np.array([(centred[b] ** 2).sum(axis=0) for b in blocks])
    scale = np.abs(centred).max(axis=0) + np.abs(centre)
    return sums, squares, counts, centre, scale


def _sharpe_by_split(block_sums, in_sample):
    """Per-period Sharpe of every variant on every in-sample and out-of-sample set, from :func:`_block_sums`."""
    sums, squares, counts, centre, scale = block_sums
    sides = (in_sample.astype(np.float64), (~in_sample).astype(np.float64))
    return tuple(_sharpe_from_sums(m @ sums, m @ squares, m @ counts, centre, scale) for m in sides)


def _sharpe_from_sums(sums, squares, counts, centre, scale):
    """Per-period Sharpe ratios from the sums of returns and of squared deviations (arrays reused in place)."""
    mean = np.divide(sums, counts[:, None], out=sums)
    # a mean of 0 up to rounding (returns summing to 0: .01 + .02 - .01 - .02) is 0, so that its Sharpe ratio ties
    # with a variant that never trades instead of being +-1e-16
    mean[np.abs(mean) <= 1e-9 * scale] = 0.0
    variance = np.divide(squares, counts[:, None], out=squares)
    spread = mean - centre
    spread *= spread
    variance -= spread
    flat = variance <= (1e-7 * scale) ** 2  # no variation beyond rounding: the Sharpe ratio is undefined
    variance[flat] = 1.0
    sharpe = np.divide(mean, np.sqrt(variance, out=variance), out=spread)
    level = mean[flat]
    sharpe[flat] = np.where(level > 0, np.inf, np.where(level < 0, -np.inf, 0.0))
    return sharpe


def _metric_by_split(values, blocks, in_sample, metric):
    rows = [np.concatenate([blocks[k] for k in np.flatnonzero(m)]) for m in in_sample]
    out = [np.concatenate([blocks[k] for k in np.flatnonzero(~m)]) for m in in_sample]
    perf_in = np.array([np.asarray(metric(values[r]), dtype=np.float64) for r in rows])
    perf_out = np.array([np.asarray(metric(values[r]), dtype=np.float64) for r in out])
    if perf_in.shape != (len(rows), values.shape[1]):
        raise ValueError(f"metric must return one score per variant ({values.shape[1]}), got shape {perf_in.shape[1:]}.")
    if np.isnan(perf_in).any() or np.isnan(perf_out).any():
        raise ValueError("metric returned NaN; make it return a number for every column (e.g. 0 for a variant that never trades).")
    return perf_in, perf_out


def _tie_rounding(scores):
    """Scores rounded to 30 significant bits (about 9 digits), so that equal returns tie whatever the rounding."""
    mantissa, exponent = np.frexp(scores)
    with np.errstate(invalid="ignore"):
        mantissa *= 2.0**30
        np.round(mantissa, out=mantissa)
        mantissa /= 2.0**30
        rounded = np.ldexp(mantissa, exponent, out=mantissa)
    infinite = ~np.isfinite(scores)
    rounded[infinite] = scores[infinite]
    return rounded


def _logits(perf_in, perf_out):
    """Per split: the logit of the out-of-sample relative rank of the in-sample best variant(s), and the
    probability that it is at or below the median out-of-sample when ties are broken at random."""
    n_splits, n_variants = perf_in.shape
    best = perf_in == perf_in.max(axis=1, keepdims=True)
    n_best = best.sum(axis=1)
    # a variant with `below` scores strictly below it and `equal` equal ones (itself included) has the average rank
    # below + (equal + 1) / 2; broken at random, its tie takes each rank below + 1 .. below + equal with probability
    # 1 / equal, overfit when that rank is <= (N + 1) / 2, i.e. <= median_rank
    median_rank = (n_variants + 1) // 2
    omega, overfit = np.empty(n_splits), np.empty(n_splits)
    one = n_best == 1  # most splits: count around the one best variant's score, one number per split
    rows = slice(None) if one.all() else one
    out = perf_out[rows]
    score = out[np.arange(len(out)), np.argmax(perf_in[rows], axis=1)][:, None]
    below, equal = (out < score).sum(axis=1).astype(np.float64), (out == score).sum(axis=1).astype(np.float64)
    omega[rows] = (below + (equal + 1.0) / 2.0) / (n_variants + 1)
    overfit[rows] = np.clip(median_rank - below, 0.0, equal) / equal
    if not one.all():  # several tie for the in-sample best: rank every variant of those splits, average over the best
        several = ~one
        below = stats.rankdata(perf_out[several], method="min", axis=1) - 1.0
        equal = stats.rankdata(perf_out[several], method="max", axis=1) - below
        ranks, tied = below + (equal + 1.0) / 2.0, best[several]
        omega[several] = np.where(tied, ranks, 0.0).sum(axis=1) / n_best[several] / (n_variants + 1)
        overfit[several] = np.where(tied, np.clip(median_rank - below, 0.0, equal) / equal, 0.0).sum(axis=1) / n_best[several]
    return np.log(omega / (1.0 - omega)), overfit