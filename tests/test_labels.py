"""Triple-barrier labels, the CUSUM filter and the volatility estimate, against hand-computed cases."""

import numpy as np
import pandas as pd
import pytest

from cvn_sklearn.labels import cusum_events, forward_return_label, triple_barrier_labels, volatility


def _series(values, freq="D"):
    return pd.Series(np.asarray(values, dtype=float), index=pd.date_range("2024-01-01", periods=len(values), freq=freq))


def _label_first_event(values, *, width=0.02, max_holding=3, **kwargs):
    close = _series(values)
    labels = triple_barrier_labels(close, events=close.index[:1], max_holding=max_holding,
                                   target=pd.Series(width, index=close.index), **kwargs)
    assert len(labels) == 1
    return close, labels.iloc[0]


def test_triple_barrier_upper_touched_first():
    # log(102.5 / 100) = 0.0247 >= 0.02 at the 2nd bar; the 1st (0.0100) touches nothing
    close, row = _label_first_event([100.0, 101.0, 102.5, 95.0])
    assert (row["label"], row["barrier"], row["bars"]) == (1, "upper", 2)
    assert row["t1"] == close.index[2] and row["ret"] == pytest.approx(0.025)
    assert (row["upper"], row["lower"]) == (pytest.approx(0.02), pytest.approx(-0.02))


def test_triple_barrier_lower_touched_first():
    # log(97.5 / 100) = -0.0253 <= -0.02 at the 2nd bar, before the rise at the 3rd
    close, row = _label_first_event([100.0, 99.5, 97.5, 103.0])
    assert (row["label"], row["barrier"], row["bars"]) == (0, "lower", 2)
    assert row["t1"] == close.index[2] and row["ret"] == pytest.approx(-0.025)


@pytest.mark.parametrize("vertical, label", [("zero", 0), ("sign", 1)])
def test_triple_barrier_neither_touched_ends_at_the_vertical_barrier(vertical, label):
    # every |log return| stays below 0.02 for 3 bars: the vertical barrier at the 3rd bar, return +0.5%
    close, row = _label_first_event([100.0, 101.0, 99.0, 100.5, 130.0], vertical=vertical)
    assert (row["label"], row["barrier"], row["bars"]) == (label, "vertical", 3)
    assert row["t1"] == close.index[3] and row["ret"] == pytest.approx(0.005)


def test_triple_barrier_sign_labels_a_losing_vertical_zero():
    _, row = _label_first_event([100.0, 101.0, 99.0, 99.5], vertical="sign")
    assert (row["label"], row["barrier"]) == (0, "vertical")


def test_triple_barrier_touch_on_the_vertical_bar_counts_as_the_horizontal_barrier():
    close, row = _label_first_event([100.0, 100.5, 100.2, 103.0])
    assert (row["label"], row["barrier"], row["bars"]) == (1, "upper", 3)


def test_triple_barrier_pt_sl_scales_and_disables_barriers():
    # pt=2: the upper barrier is at +0.04, so +2.47% no longer touches it; sl=0: no stop-loss at all
    _, row = _label_first_event([100.0, 101.0, 102.5, 95.0], pt_sl=(2, 0))
    assert (row["barrier"], row["upper"], row["lower"]) == ("vertical", pytest.approx(0.04), -np.inf)
    assert row["ret"] == pytest.approx(-0.05)


def test_triple_barrier_drops_events_without_max_holding_future_bars():
    close = _series([100.0, 101.0, 102.0, 103.0, 104.0, 105.0])
    labels = triple_barrier_labels(close, max_holding=3, target=pd.Series(0.5, index=close.index))
    assert list(labels.index) == list(close.index[:3])  # the last 3 bars' vertical barriers lie beyond the data
    assert list(labels["t1"]) == list(close.index[3:6])


def test_triple_barrier_default_width_is_causal_volatility_times_sqrt_max_holding():
    close = _series(100 * np.exp(np.cumsum(np.random.RandomState(1).normal(0, 0.01, 200))))
    labels = triple_barrier_labels(close, vol_span=20, max_holding=4, pt_sl=(1.5, 0.5))
    sigma = volatility(close, span=20).loc[labels.index]
    np.testing.assert_allclose(labels["upper"], 1.5 * 2 * sigma)
    np.testing.assert_allclose(labels["lower"], -0.5 * 2 * sigma)
    assert labels.index[0] == close.index[20] and labels.index[-1] == close.index[-5]  # warm-up and horizon dropped
    assert ((labels["t1"] > labels.index) & (labels["bars"].between(1, 4))).all()
    assert (labels["label"] == (labels["barrier"] == "upper")).all()


def test_volatility_is_the_ewm_std_of_log_returns_by_hand():
    close = _series([100.0, 101.0, 100.0])
    r = np.log([1.01, 100 / 101])
    assert volatility(close, span=2).iloc[2] == pytest.approx(abs(r[0] - r[1]) / np.sqrt(2))  # two returns, ddof=1


@pytest.mark.parametrize("kwargs, match", [
    ({"events": pd.DatetimeIndex(["2030-01-01"])}, r"1 event\(s\) are not times of close"),
    ({"pt_sl": (1, -1)}, "pt_sl multipliers must be finite and >= 0"),
    ({"pt_sl": 1}, "pt_sl must be two numbers"),
    ({"max_holding": 0}, "max_holding must be an integer >= 1"),
    ({"vertical": "half"}, "vertical must be 'zero' or 'sign'"),
    ({"target": pd.Series([0.1, 0.1])}, "target must be a Series indexed like close"),
])
def test_triple_barrier_refuses_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        triple_barrier_labels(_series([100.0, 101.0, 102.0, 103.0]), **kwargs)


@pytest.mark.parametrize("close, error, match", [
    (_series([100.0, 101.0]).iloc[::-1], ValueError, "sorted and without duplicates"),
    (_series([100.0, -1.0, 102.0]), ValueError, "positive, finite prices"),
    (np.array([100.0, 101.0]), TypeError, "close must be a pandas Series"),
])
def test_label_functions_refuse_bad_prices(close, error, match):
    for function in (triple_barrier_labels, lambda c: cusum_events(c, threshold=1.0), forward_return_label):
        with pytest.raises(error, match=match):
            function(close)


def _cusum_path():
    #       bar: 1     2     3     4     5     6     7     8
    returns = [0.4, 0.4, 0.4, -0.45, -0.45, -0.45, -0.2, 0.3]
    return _series(100 * np.exp(np.cumsum([0.0, *returns])))


def test_cusum_fires_on_hand_computed_bars():
    # S+ = 0.4, 0.8, 1.2 > 1 -> event at bar 3, reset; S- = -0.45, -0.9, -1.35 < -1 -> event at bar 6, reset;
    # then S- = -0.2, and +0.3 brings it back to 0: no third event
    close = _cusum_path()
    sampled = cusum_events(close, threshold=1.0, sigma=1.0)
    assert list(sampled.events) == [close.index[3], close.index[6]]
    assert sampled.metadata == {"threshold": 1.0, "sigma": 1.0, "h": 1.0, "sigma_mode": "fixed",
                                "n_bars": 8, "n_events": 2}


def test_cusum_threshold_is_a_multiple_of_sigma_and_symmetric():
    close = _cusum_path()
    assert list(cusum_events(close, threshold=2.0, sigma=0.5).events) == list(close.index[[3, 6]])  # h = 1 again
    # h = 0.75: S+ = 0.8 at bar 2; S- = -0.9 at bar 5, then -0.45, -0.65, -0.35: no third event
    assert list(cusum_events(close, threshold=0.75, sigma=1.0).events) == list(close.index[[2, 5]])
    mirrored = pd.Series(1e4 / close.to_numpy(), index=close.index)  # every log return negated
    assert list(cusum_events(mirrored, threshold=1.0, sigma=1.0).events) == list(close.index[[3, 6]])


def test_cusum_with_causal_volatility_starts_after_the_warm_up_and_never_looks_ahead():
    rng = np.random.RandomState(2)
    close = _series(100 * np.exp(np.cumsum(rng.normal(0, 0.01, 400))))
    sampled = cusum_events(close, threshold=1.5, vol_span=30)
    assert sampled.sigma_mode == "ewm" and sampled.n_bars == 400 - 30
    assert sampled.events[0] > close.index[29] and 20 < len(sampled.events) < 200
    assert sampled.sigma == pytest.approx(volatility(close, span=30).mean())
    assert all(isinstance(v, (int, float, str)) for v in sampled.metadata.values())
    changed = close.copy()
    changed.iloc[250:] *= np.exp(rng.normal(0, 0.05, 150)).cumprod()
    before = sampled.events[sampled.events < close.index[250]]
    rerun = cusum_events(changed, threshold=1.5, vol_span=30).events
    assert list(rerun[rerun < close.index[250]]) == list(before)


@pytest.mark.parametrize("kwargs, match", [
    ({"threshold": 0.0}, "threshold must be a positive number"),
    ({"threshold": 1.0, "sigma": -0.1}, "sigma must be a positive number or None"),
])
def test_cusum_refuses_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        cusum_events(_cusum_path(), **kwargs)


def test_triple_barrier_on_cusum_events_labels_only_those_events():
    close = _series(100 * np.exp(np.cumsum(np.random.RandomState(3).normal(0, 0.01, 300))))
    events = cusum_events(close, threshold=1.0, vol_span=20).events
    labels = triple_barrier_labels(close, events=events, vol_span=20, max_holding=5)
    assert set(labels.index) <= set(events) and len(labels) >= len(events) - 5
