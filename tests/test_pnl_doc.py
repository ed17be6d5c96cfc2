"""docs/pnl.md ("From probabilities to P&L"): its code runs as written and its hand-computed tables are right.

The page's ``pycon`` blocks are doctests (every number they print is checked); each table marked
``<!-- table: name -->`` is read back and compared with what the functions return.
"""

import doctest
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from cvn_sklearn import theta_sweep
from cvn_sklearn.trading import bet_size, pool, positions, trading_metrics

PAGE = Path(__file__).parents[1] / "docs" / "pnl.md"
TEXT = PAGE.read_text()


def code_blocks(text: str, language: str) -> list[tuple[int, str]]:
    """The ``language`` fenced blocks of a Markdown page: (line number of the first line, content)."""
    pattern = re.compile(rf"^```{language}\n(.*?)^```", re.S | re.M)
    return [(text.count("\n", 0, match.start(1)), match.group(1)) for match in pattern.finditer(text)]


def table(name: str) -> list[list[str]]:
    """The body rows of the Markdown table after ``<!-- table: name -->``, as lists of cell texts."""
    lines = TEXT.split(f"<!-- table: {name} -->\n", 1)[1].splitlines()
    rows = []
    for line in lines[2:]:  # header and separator
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    assert rows, f"no table {name!r} in {PAGE}"
    return rows


def last_number(cell: str) -> float:
    """The result a cell states: its last number ('2/3 x 0.039000 = 0.026000' -> 0.026)."""
    numbers = re.findall(r"-?\d+(?:\.\d+)?", cell)
    return float(numbers[-1]) if numbers else 0.0


def test_the_pages_code_runs_and_prints_what_the_page_says():
    blocks = code_blocks(TEXT, "pycon")
    assert len(blocks) >= 8
    parser, runner = doctest.DocTestParser(), doctest.DocTestRunner(
        optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    globs = {}
    for line, block in blocks:  # one namespace, in page order, as a reader runs them
        test = parser.get_doctest(block, globs, f"pnl.md:{line + 1}", str(PAGE), line)
        test.globs = globs  # get_doctest copies them
        runner.run(test, clear_globs=False)
    result = runner.summarize(verbose=False)
    assert result.failed == 0 and result.attempted > 30


def test_costs_table():
    rows = table("costs")
    signal = [int(row[1]) for row in rows]
    gross = [float(row[2]) for row in rows]
    m = trading_metrics(signal, gross, periods_per_year=252, cost=0.001)
    net = np.array([last_number(row[4]) for row in rows])
    assert net == pytest.approx(np.multiply(signal, np.subtract(gross, 0.001)))
    assert [last_number(row[5]) for row in rows] == pytest.approx(np.multiply(signal, gross))
    assert [float(row[6]) for row in rows] == pytest.approx(np.cumprod(1 + net), abs=1e-6)
    assert m.max_drawdown == pytest.approx(1 - 1.007791 / 1.019, abs=1e-6)
    assert m.sharpe / np.sqrt(252) == pytest.approx(0.590735, abs=1e-6)
    assert np.std(net) == pytest.approx(0.015659, abs=1e-6)
    assert m.sortino == pytest.approx(0.00925 / 0.0055 * np.sqrt(252))


CLOSE = pd.Series([100.0, 102.0, 101.0, 104.0, 103.0, 105.0, 106.0], index=pd.date_range("2024-01-01", periods=7))
BARS = CLOSE.index
ENTRY, EXIT = BARS[[0, 1, 3]], BARS[[3, 4, 6]]
RET = [104 / 100 - 1, 103 / 102 - 1, 106 / 104 - 1]


def held(rule, close=None):
    return positions([1, 1, 1], RET, times=ENTRY, t1=EXIT, bars=BARS, close=close, cost=0.001, rule=rule)


def test_trades_table():
    rows = table("trades")
    assert [int(row[1]) for row in rows] == BARS.get_indexer(ENTRY).tolist()
    assert [int(row[2]) for row in rows] == BARS.get_indexer(EXIT).tolist()
    assert [last_number(row[4]) for row in rows] == pytest.approx(RET, abs=5e-7)
    taken = held("one_at_a_time").trades["row"].tolist()
    assert taken == [i for i, row in enumerate(rows) if row[5].startswith("taken")] == [0, 2]
    weights = held("equal_weight").trades["weight"].tolist()
    assert [last_number(row[7]) for row in rows] == pytest.approx(weights, abs=5e-7)


def test_bars_table():
    rows = table("bars")
    assert [float(row[1]) for row in rows] == CLOSE.tolist()
    moves = CLOSE.pct_change().fillna(0.0).to_numpy()
    assert [last_number(row[2]) for row in rows] == pytest.approx(moves, abs=5e-7)
    for column, (rule, close) in enumerate([("one_at_a_time", None), ("equal_weight", None),
                                            ("one_at_a_time", CLOSE), ("equal_weight", CLOSE)], start=3):
        expected = held(rule, close).bars["net"].to_numpy()
        assert [last_number(row[column]) for row in rows] == pytest.approx(expected, abs=5e-7), (rule, close is None)


def test_pool_table():
    rows = table("pool")
    hourly = pd.Series([0.01, -0.01, 0.02, 0.005],
                       index=pd.to_datetime(["2020-01-02 10:00", "2020-01-02 11:00", "2020-01-03 10:00", "2020-01-03 11:00"]))
    daily = pd.Series([0.03, 0.0, 0.01], index=pd.to_datetime(["2020-01-02", "2020-01-03", "2020-01-06"]))
    pooled, per_year, calendar = pool({"fx": hourly, "stock": daily}, {"fx": 6240, "stock": 252})
    assert [row[0] for row in rows] == pooled.index.strftime("%Y-%m-%d").tolist()
    assert [last_number(row[4]) for row in rows] == pytest.approx(pooled.tolist())
    assert [float(row[2]) for row in rows[:2]] == pytest.approx(hourly.groupby(hourly.index.normalize()).sum().tolist())
    assert [float(row[3]) for row in rows] == daily.tolist()
    assert (per_year, calendar) == (252, "days")


def test_edge_table():
    rows = table("edge")
    y = [0, 0, 0, 0, 1, 1, 1, 1]
    p = [0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.9]
    r = [-0.003] * 4 + [0.004] * 4
    results = [theta_sweep(y, p, returns=r, cost=float(rows[0][3])), theta_sweep(y, p, returns=r, cost=float(rows[1][3])),
               theta_sweep([0, 1, 0, 1, 0, 1, 0, 1], [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8])]
    for row, result in zip(rows, results):
        edge = result.edge
        assert float(row[4]) / 16 == pytest.approx(edge["auc"]) == pytest.approx(float(row[5]))
        z = (float(row[4]) - 8 - 0.5) / np.sqrt(12)
        assert float(row[6]) == pytest.approx(z, abs=5e-5)
        assert float(row[7]) == pytest.approx(edge["p_value"], abs=5e-5) == pytest.approx(norm.sf(z), abs=5e-5)
        if row[8]:
            assert float(row[8]) == pytest.approx(edge["mean_net_return"])
        assert result.no_edge == row[9].startswith("no trade")
        assert edge["reason"] == (row[9].split(": ")[1] if result.no_edge else "")
    assert results[0].theta == 0.5


def test_bet_size_table():
    rows = table("bet_size")
    p = np.array([float(row[0]) for row in rows])
    sd = np.sqrt(p * (1 - p))
    z = (p - 0.5) / sd
    assert [float(row[1]) for row in rows] == pytest.approx(sd, abs=5e-5)
    assert [last_number(row[2]) for row in rows] == pytest.approx(z, abs=5e-5)
    assert [float(row[3]) for row in rows] == pytest.approx(norm.cdf(z), abs=5e-5)
    assert [float(row[4]) for row in rows] == pytest.approx(bet_size(p), abs=5e-5)
    assert [float(row[5].split()[0]) for row in rows] == bet_size(p, step=0.25).tolist()
