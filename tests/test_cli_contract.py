"""The CLI's contract (``cvn-sklearn screen``/``demo``): exit codes, every config error found before any cell runs,
``~`` expanded, and ``executor: dask`` from a script without the main guard."""

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import yaml
from structlog.testing import capture_logs

import cvn_sklearn.sweep.run
from _report_charts import charts
from cvn_sklearn.cli import main
from cvn_sklearn.sweep import ScreenConfig, SymbolData, screen
from cvn_sklearn.sweep.config import ConfigError
from cvn_sklearn.sweep.store import CellStore

SMALL = {
    "variants": [{"name": "logreg", "model": "logreg"}],
    "symbols": ["goog"],
    "folds": {"n_splits": 2, "gap": 10},
    "label": {"kind": "triple_barrier", "cusum": 1.5, "max_holding": 10},
    "calibration": "sigmoid",
    "mlflow": False,
}
PREFIX = "cvn-sklearn screen: config error: "


def _write(tmp_path, content, name="sweep.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(content) if isinstance(content, dict) else content)
    return str(path)


@pytest.fixture
def no_cell_runs(monkeypatch):
    """Fail the test if the sweep gets as far as planning its cells (every check comes before)."""
    def planned(*args, **kwargs):
        raise AssertionError("plan_cells was called: a config error was not found before the cells")

    monkeypatch.setattr(cvn_sklearn.sweep.run, "plan_cells", planned)


def _no_cells(folder: Path) -> bool:
    return not folder.exists() or not CellStore(folder).keys()


# -- exit 2: every config error, before any cell runs ------------------------------------------------
EARLY = [
    pytest.param({"symbols": ["goog", "btc"]}, [], "symbols", "unknown symbol 'btc'", id="unknown-symbol"),
    pytest.param({"variants": [{"name": "st", "model": "stack_nonneg", "params": {"base_models": [
        ["a", {"model": "lightgbn"}], ["b", {"model": "logreg"}]]}}]}, [],
        "variants.0.params.base_models.0.model", "Did you mean 'lightgbm'?", id="unknown-base-model"),
    pytest.param({"folds": {"n_splits": 100000}}, [], "folds.n_splits", "symbol 'goog' has", id="n_splits-too-large"),
    pytest.param({"folds": {"n_splits": 2, "test_size": 100000}}, [], "folds.test_size", "Cannot make 2",
                 id="test_size-too-large"),
    pytest.param({"calibration": "isotonc"}, [], "calibration", "(did you mean 'isotonic'?)", id="calibration"),
    pytest.param({"objective": "sortno"}, [], "objective", "(did you mean 'sortino'?)", id="objective"),
    pytest.param({"constraints": {"max_positive_rate_ratoi": 1.0}}, [], "constraints",
                 "(did you mean 'max_positive_rate_ratio'?)", id="constraint-name"),
    pytest.param({"calibraton": "sigmoid"}, [], "calibraton", "unknown key (did you mean 'calibration'?)",
                 id="misspelt-key"),
    pytest.param({"folds": {"n_split": 2}}, [], "folds.n_split", "unknown key (did you mean 'n_splits'?)",
                 id="misspelt-nested-key"),
    pytest.param({}, ["--report", "{tmp}/missing/report.html"], "--report", "does not exist", id="report-folder"),
    pytest.param({"folder": "{tmp}/sweep.yaml"}, [], "folder", "is a file, not a folder", id="folder-is-a-file"),
    pytest.param({"mlflow": True, "tracking_uri": "sqlit:///{tmp}/m.db"}, [], "tracking_uri",
                 "MLflow does not know the scheme 'sqlit'", id="tracking-scheme"),
    pytest.param({"mlflow": True, "tracking_uri": "sqlite:///{tmp}/missing/m.db"}, [], "tracking_uri",
                 "does not exist", id="tracking-sqlite-folder"),
]


@pytest.mark.parametrize("change, options, key, needle", EARLY)
def test_each_config_error_exits_2_on_one_line_naming_the_key_before_any_cell(
        tmp_path, capsys, no_cell_runs, change, options, key, needle):
    tmp = str(tmp_path)
    content = {**SMALL, "folder": str(tmp_path / "s"),
               **{k: v.replace("{tmp}", tmp) if isinstance(v, str) else v for k, v in change.items()}}
    config = _write(tmp_path, content)
    assert main(["screen", config, *(o.replace("{tmp}", tmp) for o in options)]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{PREFIX}{key}: ") and needle in lines[0], lines[0]
    assert "Traceback" not in captured.err and captured.out == ""
    assert _no_cells(tmp_path / "s")


def test_every_error_of_a_config_is_listed_at_once(tmp_path, capsys, no_cell_runs):
    content = {**SMALL, "symbols": ["goog", "btc"], "calibration": "isotonc", "objective": "sortno",
               "colour": "blue", "folds": {"n_splits": 0}, "folder": str(tmp_path / "s")}
    assert main(["screen", _write(tmp_path, content), "--report", str(tmp_path / "no" / "r.html")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    keys = [line.removeprefix(PREFIX).split(":")[0] for line in lines]
    assert all(line.startswith(PREFIX) for line in lines)
    assert sorted(keys) == sorted(["symbols", "calibration", "objective", "colour", "folds.n_splits", "--report"])
    assert _no_cells(tmp_path / "s")


def test_a_failing_key_does_not_hide_the_checks_of_the_others(tmp_path, capsys, no_cell_runs):
    # symbols malformed: the cost and rows checks are skipped, the rest still checked
    content = {**SMALL, "symbols": "goog", "objective": "sortno", "folder": str(tmp_path / "s")}
    assert main(["screen", _write(tmp_path, content)]) == 2
    keys = [line.removeprefix(PREFIX).split(":")[0] for line in capsys.readouterr().err.strip().splitlines()]
    assert sorted(keys) == ["objective", "symbols"]


def test_a_file_that_holds_no_mapping_exits_2(tmp_path, capsys):
    assert main(["screen", _write(tmp_path, "- just\n- a list\n")]) == 2
    assert capsys.readouterr().err.startswith(f"{PREFIX}config: ")


# -- the library: one ValueError listing every problem, nothing printed --------------------------------
def _symbol(seed, n=300):
    r = np.random.RandomState(seed)
    X = r.normal(size=(n, 3))
    y = (X[:, 0] + r.normal(size=n) > 0.5).astype(int)
    return SymbolData(X, y, np.where(y == 1, 0.01, -0.01) + r.normal(0, 0.005, n))


def test_the_library_raises_one_value_error_listing_every_problem_and_prints_nothing(tmp_path, capsys):
    config = {"variants": [{"name": "logreg", "model": "logreg"}], "symbols": ["mine", "other"],
              "folds": {"n_splits": 2}, "calibration": "platt", "folder": str(tmp_path / "s"), "mlflow": False}
    with capture_logs() as logs, pytest.raises(ValueError) as info:
        screen(config, data={"mine": _symbol(1)}, report=tmp_path / "none" / "r.html")
    error = info.value
    assert isinstance(error, ConfigError)
    keys = [problem.key for problem in error.problems]
    assert sorted(keys) == ["calibration", "costs", "report", "symbols"]  # 'mine' has no cost, 'other' no data
    assert str(error).splitlines()[0] == "4 problems in the sweep's config:"
    assert "'mine' has no cost per trade" in str(error) and "no data for ['other']" in str(error)
    assert capsys.readouterr() == ("", "")
    assert not [event for event in logs if event["event"] in ("screen_started", "cell_complete")]
    assert _no_cells(tmp_path / "s")


def test_the_library_checks_the_rows_of_the_data_given(tmp_path):
    config = {"variants": [{"name": "logreg", "model": "logreg"}], "symbols": ["mine"], "cost": 0.0,
              "folds": {"n_splits": 200}, "folder": str(tmp_path / "s"), "mlflow": False}
    with pytest.raises(ConfigError) as info:
        screen(config, data={"mine": _symbol(1, n=100)})
    [problem] = info.value.problems
    assert problem.key == "folds.n_splits" and "symbol 'mine' has 100 rows" in problem.message


# -- exit 1 and 0 after the sweep ran ------------------------------------------------------------------
def test_a_sweep_with_failed_cells_exits_1_with_one_line_per_failing_variant(tmp_path, capsys):
    content = {**SMALL, "variants": [{"name": "logreg", "model": "logreg"},
                                     {"name": "broken", "model": "logreg", "params": {"C": -1.0}}],
               "folder": str(tmp_path / "s")}
    report = tmp_path / "report.html"
    assert main(["screen", _write(tmp_path, content), "--report", str(report)]) == 1
    captured = capsys.readouterr()
    assert "cells: 4, failed: 2" in captured.out  # the table and its summary were printed
    # under the table: each failed cell, its symbol, fold and error; the PBO says why it is n/a
    out = captured.out.splitlines()
    listed = out[out.index("variant  symbol  fold  error") + 2:][:2]
    assert [line.split()[:4] for line in listed] == [["broken", "goog", "0", "InvalidParameterError:"],
                                                     ["broken", "goog", "1", "InvalidParameterError:"]]
    assert all("'C' parameter of LogReg must be" in line for line in listed)
    assert "PBO (probability of backtest overfitting): n/a (only 1 variant is ranked" in captured.out
    # the report: a Failures section with the same cells and reasons, and the PBO's reason
    page = report.read_text()
    section = page[page.index('<h2 id="failures">Failures</h2>'):page.index("<h2>Ranking</h2>")]
    rows = re.findall(r"<tr>\s*<td>(.*?)</td>\s*<td>(.*?)</td>\s*<td>(.*?)</td>\s*<td>(.*?)</td>", section, re.S)
    assert [row[:3] for row in rows] == [("broken", "goog", "0"), ("broken", "goog", "1")]
    assert all(row[3].startswith("InvalidParameterError: The &#x27;C&#x27; parameter of LogReg") for row in rows)
    assert "PBO = n/a</b> (only 1 variant is ranked" in page
    # the equity curve: the failed variant's windows are gaps (NaN), not a flat line at 0
    [equity] = [chart for chart in charts(page) if chart["axes"][0]["ylabel"] == "cumulative return (%)"]
    lines = {line["label"]: line for line in equity["axes"][0]["lines"]}
    assert lines["broken (net)"]["points"] > 0 and lines["broken (net)"]["finite"] == 0
    assert lines["logreg (net)"]["finite"] == lines["logreg (net)"]["points"] > 0
    failures = [line for line in captured.err.splitlines() if line.startswith("cvn-sklearn screen: failed: ")]
    assert failures == [line for line in captured.err.splitlines()[-len(failures):]]  # the last lines, after the rest
    [line] = failures
    assert line.startswith("cvn-sklearn screen: failed: broken: 2 of 2 cells failed; first: InvalidParameterError: ")
    assert "'C' parameter" in line
    # --json: the same exit status and lines, stdout still one JSON document
    assert main(["screen", _write(tmp_path, content), "--json"]) == 1
    captured = capsys.readouterr()
    import json

    parsed = json.loads(captured.out)
    assert {row["variant"] for row in parsed["ranking"]} == {"logreg", "broken"}
    assert [(f["variant"], f["symbol"], f["fold"]) for f in parsed["failures"]] == [("broken", "goog", 0), ("broken", "goog", 1)]
    assert parsed["pbo"] is None and parsed["pbo_note"].startswith("PBO not computed: only 1 variant is ranked")
    assert captured.err.strip().splitlines()[-1] == line


def test_a_sweep_without_failed_cells_exits_0_and_prints_no_failure(tmp_path, capsys):
    assert main(["screen", _write(tmp_path, {**SMALL, "folder": str(tmp_path / "s")})]) == 0
    captured = capsys.readouterr()
    assert "failed: 0" in captured.out and "cvn-sklearn screen: failed" not in captured.err


# -- ~ expanded: folder, --report, sqlite tracking_uri -------------------------------------------------
def test_tilde_is_expanded_in_folder_report_and_tracking_uri(tmp_path, monkeypatch, capsys):
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    content = {**SMALL, "folder": "~/sweep", "mlflow": True, "tracking_uri": "sqlite:///~/m.db"}
    assert main(["screen", _write(tmp_path, content), "--report", "~/report.html"]) == 0
    out = capsys.readouterr().out
    assert (home / "sweep" / "ranking.csv").is_file() and (home / "report.html").is_file() and (home / "m.db").is_file()
    assert f"report: {home / 'report.html'}" in out
    assert not (work / "~").exists()  # no directory literally named ~ (MLflow's ./mlruns artifacts aside)
    config = ScreenConfig(variants=[{"name": "x", "model": "logreg"}], symbols=["sp500"], folder="~/x",
                          tracking_uri="sqlite:///~/runs/m.db")
    assert config.folder == home / "x" and config.tracking_uri == f"sqlite:///{home}/runs/m.db"


def test_tilde_in_the_demo_folder_is_expanded(tmp_path, monkeypatch):
    from cvn_sklearn.sweep.config import demo_config, read_config

    monkeypatch.setenv("HOME", str(tmp_path))
    assert read_config(demo_config("~/demo")).folder == tmp_path / "demo"


# -- executor: dask from a script without the main guard -----------------------------------------------
_UNGUARDED = textwrap.dedent("""
    import numpy as np
    from cvn_sklearn.sweep import SymbolData, screen

    r = np.random.RandomState(0)
    X = r.normal(size=(300, 3))
    y = (X[:, 0] > 0).astype(int)
    screen({"variants": [{"name": "logreg", "model": "logreg"}], "symbols": ["a"], "folds": {"n_splits": 2},
            "folder": FOLDER, "mlflow": False, "cost": 0.0, "executor": "dask", "n_workers": 1},
           data={"a": SymbolData(X, y, np.where(y == 1, 0.01, -0.01))})
    print("the sweep ran")
""")


def test_dask_from_a_script_without_the_main_guard_is_one_clear_error(tmp_path):
    script = tmp_path / "unguarded.py"
    script.write_text(f"FOLDER = {str(tmp_path / 's')!r}\n" + _UNGUARDED)
    process = subprocess.run([sys.executable, str(script)], check=False, cwd=tmp_path, capture_output=True, text=True, timeout=300,
                             env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [
                                 str(Path(cvn_sklearn.sweep.run.__file__).parents[2]), os.environ.get("PYTHONPATH")]))})
    lines = process.stderr.strip().splitlines()
    assert process.returncode == 1 and "the sweep ran" not in process.stdout
    assert lines[-1] == ('RuntimeError: executor: dask starts worker processes, which re-import your script; put the '
                         'call under `if __name__ == "__main__":` (see docs/screening.md, "Dask from a script")')
    assert len(lines) < 25, process.stderr  # Python's traceback of the one error; not Dask's ~200 lines
    assert "Nanny failed" not in process.stderr and "bootstrapping phase" not in process.stderr
    assert _no_cells(tmp_path / "s")
