"""``cvn-sklearn screen`` / ``demo`` and the HTML report: configs, progress, tables, JSON, bad input, a real browser."""

import contextlib
import html
import io
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from _report_charts import charts
from cvn_sklearn.cli import main
from cvn_sklearn.sweep.config import demo_config, read_config
from cvn_sklearn.sweep import ScreenConfig

SMALL = {
    "variants": [{"name": "logreg", "model": "logreg"},
                 {"name": "logreg&l2", "model": "logreg", "params": {"C": 0.01}}],  # & shown once, escaped once
    "symbols": ["goog", "ibm"],
    "folds": {"n_splits": 2, "gap": 10},
    "label": {"kind": "triple_barrier", "cusum": 1.5, "max_holding": 10},
    "calibration": "sigmoid",
}


def _write(tmp_path, content, name="sweep.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(content) if isinstance(content, dict) else content)
    return str(path)


@pytest.fixture(scope="module")
def screened(tmp_path_factory):
    """``cvn-sklearn screen CONFIG --report report.html`` once: (folder, config, report, stdout, stderr)."""
    folder = tmp_path_factory.mktemp("cli")
    config = _write(folder, {**SMALL, "folder": str(folder / "sweep"), "tracking_uri": f"sqlite:///{folder}/m.db"})
    report = folder / "report.html"
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        assert main(["screen", config, "--report", str(report)]) == 0
    return folder, config, report, out.getvalue(), err.getvalue()


def test_screen_prints_the_ranked_table_and_the_pbo_within_100_columns(screened):
    folder, config, report, out, err = screened
    lines = out.strip().splitlines()
    header = next(line for line in lines if line.startswith("variant"))
    assert header.split() == ["variant", "trades", "win_rate", "sharpe_ann", "gross", "sortino_ann", "dsr", "no_edge",
                              "failed"]
    units = " ".join(lines[:lines.index(header)])  # the sentence above the table: cost, unit, calendar, T
    assert "Net of a round-trip cost per trade (goog 10 bps" in units and "annualised with 252 periods per year" in units
    assert "T = " in units
    assert {line.split()[0] for line in lines[lines.index(header) + 2:][:2]} == {"logreg", "logreg&l2"}
    pbo = next(line for line in lines if line.startswith("PBO (probability of backtest overfitting):"))
    table = lines[lines.index(header):lines.index(pbo)]
    assert max(len(line) for line in [*table, pbo]) <= 100  # paths aside, readable in a 100-column terminal
    assert err == ""  # no progress bar when stderr is not a terminal (tests/test_cli_start.py: on one), no noise
    assert report.is_file()


def test_screen_json_parses_and_a_second_run_reads_every_cell_from_the_store(screened, capsys):
    _, config, _, _, _ = screened
    assert main(["screen", config, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {row["variant"] for row in out["ranking"]} == {"logreg", "logreg&l2"}
    assert set(out) == {"ranking", "pbo", "pbo_note", "failures", "folder", "parent_run_id", "periods_per_year",
                        "calendar", "costs"}
    assert out["failures"] == []
    assert out["parent_run_id"] and out["periods_per_year"] == 252 and out["costs"] == {"goog": 0.001, "ibm": 0.001}
    assert main(["screen", config]) == 0
    assert "from the store: 8" in capsys.readouterr().out


@pytest.mark.parametrize(
    "content, key",
    [
        ({**SMALL, "variants": [{"name": "x", "model": "lightgbn"}]}, "variants.0.model"),
        ({**SMALL, "folds": {"n_splits": 0}}, "folds.n_splits"),
        ({**SMALL, "executor": "spark"}, "executor"),
        ({**SMALL, "colour": "blue"}, "colour"),
        ({**SMALL, "label": {"kind": "triple_barrier", "max_holding": -1}}, "label.max_holding"),
    ],
)
def test_a_malformed_config_exits_2_with_one_line_naming_the_key(tmp_path, capsys, content, key):
    assert main(["screen", _write(tmp_path, content)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"cvn-sklearn screen: config error: {key}:")


def test_missing_file_bad_yaml_and_bad_input_are_clear(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit:
        main(["screen", str(tmp_path / "nope.yaml")])
    assert exit.value.code == 2 and "nope.yaml does not exist" in capsys.readouterr().err
    assert main(["screen", _write(tmp_path, "variants: [unclosed")]) == 2
    assert "is not valid YAML" in capsys.readouterr().err
    unknown = _write(tmp_path, {**SMALL, "symbols": ["goog", "btc"], "folder": str(tmp_path / "s"), "mlflow": False})
    assert main(["screen", unknown]) == 2  # a config error, found before any cell runs
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "btc" in err[0] and "goog" in err[0]  # names the symbol and lists the known ones
    assert err[0].startswith("cvn-sklearn screen: config error: symbols: unknown symbol 'btc'")
    few = _write(tmp_path, {**SMALL, "label": {"cusum": 12.0}, "folder": str(tmp_path / "f"), "mlflow": False})
    assert main(["screen", few]) == 2
    err = capsys.readouterr().err.strip().splitlines()  # one line per symbol the labels leave too few rows
    assert [line.split(":")[1:3] for line in err] == [[" config error", " label"]] * 2
    assert "symbol 'goog'" in err[0] and "symbol 'ibm'" in err[1]


def test_the_demo_config_is_valid_and_covers_what_the_readme_promises():
    config = read_config(demo_config())
    assert {v.model for v in config.variants} == {"xgboost", "lightgbm", "catboost", "logreg", "blend_avg",
                                                   "stack_logreg_shrink", "stack_nonneg"}
    assert len(config.symbols) >= 4 and config.label.kind == "triple_barrier"


def test_the_report_is_self_contained(screened):
    _, _, report, _, _ = screened
    page = report.read_text()
    assert "<script" not in page and "http://" not in page and "https://" not in page
    assert page.count('src="data:image/png;base64,') >= 4
    for needle in ("Ranking", "DSR", "PBO", "Equity curves", "Trades per fold", "Calibration and θ", "Config",
                   "Library versions"):
        assert needle in page
    assert "Failures" not in page  # no cell failed


def test_every_chart_has_axis_labels_dates_and_buy_and_hold(screened):
    _, _, report, _, _ = screened
    found = charts(report.read_text())
    assert len(found) == 5  # 2 symbols' equity curves, trades per fold, 2 variants' calibration
    for chart in found:
        assert chart["alt"]
        for axes in chart["axes"]:
            assert axes["ylabel"] and axes["title"], axes
            assert axes["xlabel"] or not axes["xticklabels"], axes  # a shared x axis is labelled where it is drawn
    equity = [chart for chart in found if chart["axes"][0]["ylabel"] == "cumulative return (%)"]
    assert len(equity) == 2
    for chart, symbol in zip(equity, ("goog", "ibm")):
        curves, drawdown = chart["axes"]
        assert drawdown["ylabel"] == "drawdown (%)" and drawdown["xlabel"] == "date"
        assert drawdown["xticklabels"] and all(re.fullmatch(r"\d{4}-\d{2}(-\d{2})?", t) for t in drawdown["xticklabels"])
        assert curves["legend"][0] == f"buy and hold {symbol}"
        lines = {line["label"]: line for line in curves["lines"]}
        assert lines[f"buy and hold {symbol}"]["finite"] == lines["logreg (net)"]["points"] > 100
        assert {"logreg (net)", "logreg (gross)", "logreg&l2 (net)", "logreg&l2 (gross)"} <= set(lines)
    calibration = [chart for chart in found if chart["axes"][0]["ylabel"] == "share of buys"]
    assert len(calibration) == 2
    for chart in calibration:
        reliability, theta = chart["axes"]
        assert reliability["legend"][1:] == ["test blocks (out of sample)", "validation (fitted on)"]
        assert {"f1, test block", "f1, validation"} <= set(theta["legend"])


def test_buy_and_hold_is_the_symbols_close_over_the_test_windows(screened):
    from cvn_sklearn.datasets import load_prices

    folder, _, _, _, _ = screened
    held = pd.read_parquet(folder / "sweep" / "buy_and_hold.parquet")["buy_and_hold"]
    for symbol in ("goog", "ibm"):
        mine = held.xs(symbol, level="symbol")
        close = load_prices(symbol)["close"]
        at = close.index.get_indexer(mine.index)
        stretches = np.split(at, np.flatnonzero(np.diff(at) != 1) + 1)
        expected = np.prod([close.iloc[s[-1]] / close.iloc[s[0]] for s in stretches]) - 1.0
        assert np.prod(1.0 + mine.to_numpy()) - 1.0 == pytest.approx(expected, rel=1e-9)


def test_the_config_section_is_yaml_of_the_config_without_python_reprs(screened):
    folder, config, report, _, _ = screened
    page = report.read_text()
    text = html.unescape(re.search(r"<h2>Config</h2><pre>(.*?)</pre>", page, re.S).group(1))
    shown = yaml.safe_load(text)
    # the folder as text (this long temporary path looks opaque to the scrubber: masked, as a secret would be)
    assert shown["folder"] in (str(folder / "sweep"), "***scrubbed***") and shown["symbols"] == ["goog", "ibm"]
    assert [v["name"] for v in shown["variants"]] == ["logreg", "logreg&l2"]
    assert shown["variants"][1]["params"] == {"C": 0.01} and shown["folds"]["n_splits"] == 2
    for repr_ in ("PosixPath(", "WindowsPath(", "Split(", " object at 0x", "&amp;amp;"):
        assert repr_ not in page, repr_
    assert "logreg&amp;l2" in page  # escaped once


def test_a_cross_validator_in_the_config_is_its_class_and_parameters():
    from cvn_sklearn.model_selection import WalkForwardSplit
    from cvn_sklearn.sweep.report import config_yaml

    config = ScreenConfig(variants=[{"name": "s", "model": "stack_logreg_shrink", "params": {
        "base_models": [["a", {"model": "logreg"}], ["b", {"model": "logreg"}]], "cv": WalkForwardSplit(3, gap=2)}}],
        symbols=["goog"])
    shown = yaml.safe_load(config_yaml(config))
    assert shown["variants"][0]["params"]["cv"] == {"splitter": "WalkForwardSplit", "params": {
        "n_splits": 3, "test_size": None, "gap": 2, "embargo": 0, "max_train_size": None}}


def _chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(_chromium() is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_the_report_in_headless_chromium_is_not_blank_logs_no_error_and_makes_no_request(screened, tmp_path):
    from playwright.sync_api import sync_playwright

    _, _, report, _, _ = screened
    console, requests = [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=_chromium(),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run"],
        )
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.on("console", lambda message: console.append((message.type, message.text)))
        page.on("pageerror", lambda error: console.append(("pageerror", str(error))))
        page.on("request", lambda request: requests.append(request.url))
        page.goto(report.resolve().as_uri(), wait_until="load")
        shot = tmp_path / "report.png"
        page.screenshot(path=str(shot), full_page=True)
        n_images = page.evaluate("document.images.length")
        loaded = page.evaluate("Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")
        alts = page.evaluate("Array.from(document.images).map(i => i.alt)")
        text = page.evaluate("document.body.innerText")
        ranked = page.evaluate("Array.from(document.querySelectorAll('table')[0].querySelectorAll('tbody tr'))"
                               ".map(r => r.cells[0].innerText)")
        browser.close()
    # what a reader sees: the variant names as written (escaped once), the config as YAML, every chart described
    assert sorted(ranked) == ["logreg", "logreg&l2"]
    assert "&amp;" not in text and "PosixPath(" not in text and "Split(" not in text
    assert "folds:\n  n_splits: 2" in text and "buy and hold" in text
    assert any("cumulative return" in alt for alt in alts) and all(alts)
    assert [url for url in requests if not url.startswith(("file://", "data:"))] == []
    assert [entry for entry in console if entry[0] in ("error", "pageerror")] == []
    assert n_images >= 4 and loaded
    from PIL import Image

    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert pixels.std() > 10  # not a blank page


def test_a_scheduler_nobody_listens_on_is_one_line_naming_the_address(tmp_path, capsys):
    import socket

    import dask
    import dask.distributed  # noqa: F401 - loads distributed's config first: config.set would drop it on exit

    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{free.getsockname()[1]}"
    config = _write(tmp_path, {**SMALL, "folder": str(tmp_path / "s"), "mlflow": False, "executor": "dask", "scheduler": address})
    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}):
        assert main(["screen", config]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("cvn-sklearn screen: error: scheduler: no Dask scheduler answered at")
    assert address in err[-1] and "Traceback" not in "\n".join(err)


def test_executor_auto_says_where_the_cells_run_and_why(tmp_path, capsys):
    config = _write(tmp_path, {**SMALL, "folder": str(tmp_path / "s"), "mlflow": False})
    assert main(["screen", config, "--executor", "auto"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("executor: local (about ") and "a cold local cluster costs" in err[0]


def test_a_damaged_cell_file_is_one_warning_line_naming_it_and_is_computed_again(tmp_path, capsys):
    config = _write(tmp_path, {**SMALL, "folder": str(tmp_path / "s"), "mlflow": False})
    assert main(["screen", config]) == 0
    capsys.readouterr()
    [damaged] = (tmp_path / "s" / "cells").glob("*.cells")  # the segment the sweep's process appended to
    content = damaged.read_bytes()
    last = content.rindex(b"cvn_sklearn cell 4 ")
    damaged.write_bytes(content[:-3])  # its last cell's last row cut short
    assert main(["screen", config]) == 0
    captured = capsys.readouterr()
    [line] = [line for line in captured.err.splitlines() if line.startswith("warning:")]
    assert line == f"warning: cells store: {damaged} rejected (torn: the segment ends inside it (its writer stopped " \
                   f"mid-write?) (the cell at byte {last})); computed again"
    assert "from the store: 7" in captured.out
    assert main(["screen", config, "--json"]) == 0 and "warning" not in capsys.readouterr().err  # nothing to reject now
    junk = damaged.with_name("0-junk.cells")
    junk.write_bytes(b"hello")  # a file that holds no cell: skipped, nothing computed
    assert main(["screen", config]) == 0
    captured = capsys.readouterr()
    [line] = [line for line in captured.err.splitlines() if line.startswith("warning:")]
    assert line == f"warning: cells store: {junk} rejected (bytes 0 to 5 are not a cell (damaged, or not a cell " \
                   "segment); skipped)"
    assert "from the store: 8" in captured.out
