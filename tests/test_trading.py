"""From a signal to P&L (cvn_sklearn.trading): every rule checked on a case computed by hand."""

import numpy as np
import pandas as pd
import pytest

from cvn_sklearn.trading import BarBook, bet_size, pool, positions, trading_metrics

# Seven daily bars and three overlapping triple-barrier trades (entries on bars 0, 1, 3; exits on 3, 4, 6).
CLOSE = pd.Series([100.0, 102.0, 101.0, 104.0, 103.0, 105.0, 106.0], index=pd.date_range("2024-01-01", periods=7))
BARS = CLOSE.index
ENTRY, EXIT = BARS[[0, 1, 3]], BARS[[3, 4, 6]]
RET = [104 / 100 - 1, 103 / 102 - 1, 106 / 104 - 1]  # 0.04, 0.0098039, 0.0192308: close[t1] / close[t] - 1
PRICE_MOVES = [0.0, 102 / 100 - 1, 101 / 102 - 1, 104 / 101 - 1, 103 / 104 - 1, 105 / 103 - 1, 106 / 105 - 1]


def held(rule, close=None, cost=0.0, size=None):
    return positions([1, 1, 1], RET, times=ENTRY, t1=EXIT, bars=BARS, close=close, cost=cost, rule=rule, size=size)


def test_three_trades_with_a_cost_give_exact_net_metrics():
    # s = signal * (return - 0.001) = [0.019, 0, -0.011, 0.029]; mean 0.00925; population std 0.015658;
    # downside deviation sqrt(0.011^2 / 4) = 0.0055; equity 1.019, 1.019, 1.007791, 1.037017.
    m = trading_metrics([1, 0, 1, 1], [0.02, -0.05, -0.01, 0.03], periods_per_year=252, cost=0.001)
    assert (m.n_trades, m.n_signals, m.n_bars, m.cost) == (3, 3, 4, 0.001)
    assert m.win_rate == pytest.approx(2 / 3)
    assert m.avg_return == pytest.approx(0.037 / 3) and m.avg_return_gross == pytest.approx(0.04 / 3)
    assert m.sharpe == pytest.approx(0.00925 / np.sqrt(2.451875e-4) * np.sqrt(252))
    assert m.sortino == pytest.approx(0.00925 / 0.0055 * np.sqrt(252))
    assert m.max_drawdown == pytest.approx(1 - 1.007791 / 1.019, abs=1e-9)
    # gross: s = [0.02, 0, -0.01, 0.03], mean 0.01, downside sqrt(0.01^2 / 4) = 0.005
    assert m.sortino_gross == pytest.approx(0.01 / 0.005 * np.sqrt(252))
    assert m.max_drawdown_gross == pytest.approx(0.01)
    assert m.sharpe < m.sharpe_gross


def test_one_at_a_time_skips_the_trade_entered_while_a_position_is_open():
    result = held("one_at_a_time", cost=0.001)
    assert result.trades["row"].tolist() == [0, 2]  # the bar-1 entry comes while the bar-0 trade is open
    assert result.n_signals == 3
    # realised on the exit bars 3 and 6, net of 10 bps each
    assert result.bars["net"].tolist() == pytest.approx([0, 0, 0, 0.04 - 0.001, 0, 0, RET[2] - 0.001])
    assert result.bars["gross"].tolist() == pytest.approx([0, 0, 0, 0.04, 0, 0, RET[2]])
    assert result.bars["exposure"].tolist() == [0, 1, 1, 1, 1, 1, 1]


def test_equal_weight_splits_the_capital_among_open_positions():
    result = held("equal_weight", cost=0.001)
    # open on the bars after entry up to exit: A 1-3, B 2-4, C 4-6; positions open per bar 0,1,2,2,2,1,1
    # average uniqueness: A (1 + 1/2 + 1/2) / 3 = 2/3, B (1/2 * 3) / 3 = 1/2, C (1/2 + 1 + 1) / 3 = 5/6
    assert result.trades["weight"].tolist() == pytest.approx([2 / 3, 1 / 2, 5 / 6])
    expected = [0, 0, 0, 2 / 3 * (RET[0] - 0.001), 1 / 2 * (RET[1] - 0.001), 0, 5 / 6 * (RET[2] - 0.001)]
    assert result.bars["net"].tolist() == pytest.approx(expected)


@pytest.mark.parametrize("rule", ["one_at_a_time", "equal_weight"])
def test_marked_to_market_the_strategy_earns_each_bars_price_move(rule):
    result = held(rule, close=CLOSE)
    # one asset, long only: some position is open on bars 1-6 under both rules, so the exposure is 1 there
    assert result.bars["gross"].tolist() == pytest.approx(PRICE_MOVES)
    weights = [1, 1] if rule == "one_at_a_time" else [2 / 3, 1 / 2, 5 / 6]
    charged = held(rule, close=CLOSE, cost=0.001).bars
    exits = [3, 6] if rule == "one_at_a_time" else [3, 4, 6]
    cost = np.zeros(7)
    cost[exits] = np.multiply(weights, 0.001)
    assert charged["net"].to_numpy() == pytest.approx(np.asarray(PRICE_MOVES) - cost)
    # compounded over its bars, a lone position earns its trade's return: close[t1] / close[t] - 1
    assert np.prod(1 + charged["gross"].to_numpy()[1:4]) - 1 == pytest.approx(RET[0])


def test_equal_weight_with_sizes_marks_the_mean_size_of_the_open_positions():
    result = held("equal_weight", close=CLOSE, size=[1.0, 0.5, 0.0])  # size 0: no trade
    assert result.trades["row"].tolist() == [0, 1]
    exposure = [0, 1, 0.75, 0.75, 0.5, 0, 0]  # bar 2-3: (1 + 0.5) / 2; bar 4: B alone at 0.5
    assert result.bars["exposure"].tolist() == pytest.approx(exposure)
    assert result.bars["gross"].tolist() == pytest.approx(np.multiply(exposure, PRICE_MOVES))


def test_the_window_does_not_depend_on_the_signal():
    none = positions([0, 0, 0], RET, times=ENTRY, t1=EXIT, bars=BARS)
    assert none.bars.index.equals(BARS) and (none.bars["net"] == 0).all() and none.trades.empty
    m = trading_metrics([0, 0, 0], RET, times=ENTRY, t1=EXIT, bars=BARS, periods_per_year=252)
    assert m.n_trades == 0 and np.isnan(m.sharpe) and np.isnan(m.win_rate) and m.max_drawdown == 0


@pytest.mark.parametrize("rule", ["one_at_a_time", "equal_weight"])
@pytest.mark.parametrize("close", [None, CLOSE])
def test_one_book_holds_many_signals_as_positions_holds_each(rule, close):
    # a sweep's tables hold every variant's signal on one book: each must equal its own positions() call,
    # whatever was held on the book before it (no trade at all included: its bars are floats, zero)
    book = BarBook.of(3, times=ENTRY, t1=EXIT, bars=BARS, close=close)
    for signal, size in (([1, 1, 1], None), ([0, 0, 0], None), ([1, 0, 1], [0.5, 0.0, 1.0]), ([0, 1, 1], None)):
        alone = positions(signal, RET, times=ENTRY, t1=EXIT, bars=BARS, close=close, cost=0.001, rule=rule, size=size)
        held = book.hold(signal, RET, cost=0.001, rule=rule, size=size)
        assert book.window.equals(alone.bars.index)
        for column in ("gross", "net", "exposure"):
            assert getattr(held, column).dtype == np.float64
            np.testing.assert_array_equal(getattr(held, column), alone.bars[column].to_numpy())
        assert held.rows.tolist() == alone.trades["row"].tolist() and held.n_signals == sum(signal)
    with pytest.raises(ValueError, match="book was built for 3"):
        book.hold([1, 0], RET[:2])


def test_without_t1_the_calendar_is_the_rows_and_their_exits():
    # no bars given: the calendar is the union of the entries and exits
    result = positions([1, 1], [0.01, 0.02], times=[0, 5], t1=[3, 7], cost=0.0)
    assert result.bars.index.tolist() == [0, 3, 5, 7]
    assert result.bars["net"].tolist() == pytest.approx([0, 0.01, 0, 0.02])


def test_bet_size_follows_the_normal_cdf_of_the_z_score():
    # z = (p - 0.5) / sqrt(p (1 - p)); m = 2 Phi(z) - 1, 0 below the break-even
    p = np.array([0.3, 0.5, 0.6, 0.9, 1.0])
    z = (p[:4] - 0.5) / np.sqrt(p[:4] * (1 - p[:4]))
    from scipy.stats import norm

    expected = np.clip(2 * norm.cdf(z) - 1, 0, None).tolist() + [1.0]
    assert bet_size(p).tolist() == pytest.approx(expected)
    assert bet_size([0.6], break_even=0.6).tolist() == [0.0]
    assert bet_size([0.6, 0.9], step=0.25).tolist() == [0.25, 0.75]  # 0.162 -> 0.25, 0.818 -> 0.75


def test_an_hourly_and_a_daily_symbol_pool_per_calendar_day():
    hourly = pd.Series([0.01, -0.01, 0.02, 0.005],
                       index=pd.to_datetime(["2020-01-02 10:00", "2020-01-02 11:00", "2020-01-03 10:00", "2020-01-03 11:00"]))
    daily = pd.Series([0.03, 0.0, 0.01], index=pd.to_datetime(["2020-01-02", "2020-01-03", "2020-01-06"]))
    pooled, per_year, calendar = pool({"fx": hourly, "stock": daily}, {"fx": 6240, "stock": 252})
    # days: Jan 2 (fx 0.01 - 0.01 = 0, stock 0.03), Jan 3 (fx 0.025, stock 0), Jan 6 (stock alone 0.01)
    assert calendar == "days" and per_year == 252
    assert pooled.index.strftime("%m-%d").tolist() == ["01-02", "01-03", "01-06"]
    assert pooled.tolist() == pytest.approx([0.015, 0.0125, 0.01])
    # same frequency: the union of the bars, the mean over the symbols holding each bar
    same, per_year, calendar = pool({"a": daily, "b": daily.iloc[:2] * 2}, {"a": 252, "b": 252})
    assert calendar == "bars" and per_year == 252 and same.tolist() == pytest.approx([0.045, 0.0, 0.01])


@pytest.mark.parametrize("kwargs, message", [
    ({"times": [2, 1, 3]}, "time order"),
    ({"times": [0, 1, 2], "t1": [1, 0, 3]}, "at or after"),
    ({"t1": [1, 2, 3]}, "t1 needs times"),
    ({"times": [0, 1, 2], "close": pd.Series([1.0, 2.0, 3.0])}, "close needs t1"),
    ({"times": [0, 1, 2], "bars": [0, 1]}, "not bars of the calendar"),
    ({"rule": "fifo"}, "rule must be one of"),
    ({"cost": -0.001}, "cost must be a number >= 0"),
    ({"size": [0.5, 2.0, 1.0]}, "size must hold"),
])
def test_bad_input_gets_a_clear_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        positions([1, 0, 1], [0.01, 0.02, 0.03], **kwargs)


def test_prices_that_are_not_positive_are_refused():
    with pytest.raises(ValueError, match="positive price"):
        held("one_at_a_time", close=CLOSE.where(CLOSE.index != BARS[2], 0.0))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sized_trades_beat_binary_ones_on_a_signal_whose_strength_varies(seed):
    """Where calibration pays: P(buy) = sigmoid(1.5 f0), so the edge of a trade grows with its probability."""
    from structlog.testing import capture_logs

    from cvn_sklearn.contracts import Datasets
    from cvn_sklearn.harness import train_one

    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(12000, 3)), columns=["f0", "f1", "f2"])
    y = (rng.random(len(X)) < 1 / (1 + np.exp(-1.5 * X["f0"].to_numpy()))).astype(int)
    data = Datasets.temporal_split(X, y, returns=np.where(y == 1, 0.01, -0.01), val_size=0.25, test_size=0.25)
    with capture_logs():
        artifact = train_one("logreg", data, constraints={"cost": 0.001})
    proba = artifact.estimator.predict_proba(data.test.X)[:, 1]
    signal = proba >= artifact.threshold
    binary = trading_metrics(signal, data.test.returns, periods_per_year=252, cost=0.001)
    sized = trading_metrics(signal, data.test.returns, periods_per_year=252, cost=0.001, size=bet_size(proba))
    assert binary.n_signals == sized.n_signals > 1000 and sized.n_trades <= binary.n_trades  # size 0 below p0: no trade
    assert sized.sharpe > 1.1 * binary.sharpe and sized.sortino > 1.3 * binary.sortino  # measured: +23-32%, +60-80%
