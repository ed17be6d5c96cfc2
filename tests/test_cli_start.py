"""What a new user meets first: ``cvn-sklearn init`` then ``screen``, ``--version``, ``--help``, the progress bar, quiet stderr.

The command runs as a real process where it matters (a terminal for the
progress bar through a pseudo-terminal, stderr as the user sees it), on real
shipped prices, with real MLflow.
"""

import fcntl
import io
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest
import yaml

from cvn_sklearn.cli import main
from cvn_sklearn.sweep.config import FoldSettings, LabelSettings, ScreenConfig, Variant, check_config, read_config
from cvn_sklearn.sweep.progress import Progress
from cvn_sklearn.sweep.template import config_reference, config_template

ROOT = Path(__file__).resolve().parents[1]

TINY = {
    "variants": [{"name": "logreg", "model": "logreg"}, {"name": "logreg_weak", "model": "logreg", "params": {"C": 0.01}}],
    "symbols": ["goog"],
    "folds": {"n_splits": 2, "gap": 10},
    "calibration": "sigmoid",
    "mlflow": False,
}


def _env() -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("MLFLOW_TRACKING_URI", None)
    return env


def _cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "cvn_sklearn.cli", *args], cwd=cwd, env=_env(), capture_output=True,
                          text=True, timeout=600)


def _on_a_terminal(*args, cwd) -> tuple[int, str]:
    """Run the command with stderr on a pseudo-terminal (120 columns); its exit status and what the terminal got."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    process = subprocess.Popen([sys.executable, "-m", "cvn_sklearn.cli", *args], cwd=cwd, env=_env(),
                               stdout=subprocess.DEVNULL, stderr=slave, close_fds=True)
    os.close(slave)
    received = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the process closed the terminal
            break
        if not chunk:
            break
        received += chunk
    os.close(master)
    return process.wait(timeout=600), received.decode()


# -- init ---------------------------------------------------------------------------------------------
def _keys(model) -> dict:
    return {name: field for name, field in model.model_fields.items()}


def test_init_then_screen_runs_unchanged_and_stderr_stays_empty(tmp_path):
    written = _cli("init", cwd=tmp_path)
    assert written.returncode == 0, written.stderr
    assert "next: cvn-sklearn screen sweep.yaml" in written.stdout and written.stderr == ""
    content = yaml.safe_load((tmp_path / "sweep.yaml").read_text())
    # every key, at its default (variants and symbols, which have none, hold a small sweep)
    assert list(content) == list(_keys(ScreenConfig))
    for section, model in (("folds", FoldSettings), ("label", LabelSettings)):
        assert content[section] == model().model_dump(mode="json")
    defaults = {name: field.get_default(call_default_factory=True) for name, field in _keys(ScreenConfig).items()
                if not field.is_required() and name not in ("folds", "label")}
    assert {name: content[name] for name in defaults} == {name: str(v) if isinstance(v, Path) else v
                                                           for name, v in defaults.items()}
    screened = _cli("screen", "sweep.yaml", cwd=tmp_path)  # as written: shipped prices, real MLflow in ./mlflow.db
    assert screened.returncode == 0, screened.stderr
    assert screened.stderr == ""  # no progress off a terminal, no MLflow INFO, no library warning
    assert "cells: 8, failed: 0, from the store: 0" in screened.stdout
    assert (tmp_path / "mlflow.db").is_file() and (tmp_path / "screen" / "ranking.csv").is_file()


def test_init_refuses_to_overwrite_and_force_does(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sweep.yaml").write_text("mine")
    assert main(["init"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["cvn-sklearn init: error: sweep.yaml exists; pass --force to overwrite it, or give another path"]
    assert (tmp_path / "sweep.yaml").read_text() == "mine"
    assert main(["init", "--force"]) == 0 and (tmp_path / "sweep.yaml").read_text() == config_template()
    (tmp_path / "sweeps").mkdir()
    assert main(["init", "sweeps"]) == 0 and (tmp_path / "sweeps" / "sweep.yaml").is_file()  # a folder: its sweep.yaml
    assert main(["init", "missing/s.yaml"]) == 1
    assert "the folder 'missing' does not exist" in capsys.readouterr().err


def test_every_key_is_described_once_for_the_template_the_reference_and_the_messages():
    template, reference = config_template(), config_reference()
    for prefix, model in (("", ScreenConfig), ("folds.", FoldSettings), ("label.", LabelSettings),
                          ("variants[].", Variant)):
        for name, field in model.model_fields.items():
            assert field.description and len(field.description) > 15, (prefix, name)
            words = " ".join(field.description.split()[:6])
            assert words in " ".join(line.lstrip("# ") for line in template.splitlines()), (name, words)
            row = f"## `{name}`" if name in ("folds", "label") else f"| `{prefix}{name}` |"  # sections: a table each
            assert row in reference and " ".join(field.description.split()) in reference, name
    problems = check_config({**TINY, "folds": {"n_splits": 0}}).problems
    assert [str(p) for p in problems] == [
        "folds.n_splits: Input should be greater than or equal to 1 (folds.n_splits: Test blocks (folds) per symbol, "
        "in time order)"]


def test_the_yaml_of_the_screening_page_is_a_valid_config():
    page = (ROOT / "docs" / "screening.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", page, re.DOTALL)
    assert len(blocks) == 1
    config = read_config(yaml.safe_load(blocks[0]))
    assert [v.name for v in config.variants] == ["lightgbm", "lightgbm_depth3", "stack"]
    assert config.symbols == ["sp500", "goog"] and config.costs == {"goog": 0.0015}
    assert config.folds.n_splits == 4 and config.constraints == {"max_positive_rate_ratio": 1.0}


# -- --version, --help --------------------------------------------------------------------------------
def test_version_exits_0_and_prints_the_version():
    from importlib.metadata import version

    done = _cli("--version", cwd=ROOT)
    assert done.returncode == 0 and done.stdout == f"cvn-sklearn {version('cvn_sklearn')}\n" and done.stderr == ""


HEAVY = ("xgboost", "lightgbm", "catboost", "mlflow", "dask", "distributed", "matplotlib", "hamilton", "optuna",
         "sklearn", "pandas", "scipy", "numpy", "pydantic", "structlog")


@pytest.mark.parametrize("code", ["import cvn_sklearn", "from cvn_sklearn.cli import _parser; _parser().format_help()"])
def test_help_and_the_package_import_no_heavy_library(code):
    done = subprocess.run([sys.executable, "-c", f"import sys; {code}; print([m for m in {HEAVY!r} if m in sys.modules])"],
                          env=_env(), capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_help_describes_the_command():
    done = _cli("--help", cwd=ROOT)
    assert done.returncode == 0
    assert "Screen trading-signal classifiers across symbols with walk-forward folds" in done.stdout
    assert "The ``cvn-sklearn`` command." not in done.stdout
    assert all(command in done.stdout for command in ("init", "screen", "demo", "train", "models"))


def test_a_sweep_imports_no_library_it_does_not_use(tmp_path):
    # Hamilton alone would import every library it has an extension for (xgboost, MLflow, Dask, matplotlib, ...)
    code = ("import sys; from cvn_sklearn.sweep import screen; "
            f"print([m for m in {HEAVY[:8]!r} if m in sys.modules])")
    done = subprocess.run([sys.executable, "-c", code], env=_env(), capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "['hamilton']"


# -- progress and noise -------------------------------------------------------------------------------
def test_on_a_terminal_a_progress_bar_then_one_line_for_a_cached_rerun(tmp_path):
    (tmp_path / "sweep.yaml").write_text(yaml.safe_dump({**TINY, "folder": str(tmp_path / "s")}))
    status, terminal = _on_a_terminal("screen", "sweep.yaml", cwd=tmp_path)
    assert status == 0, terminal
    frames = [frame for frame in terminal.replace("\r\n", "\r").split("\r") if frame.strip()]
    assert all(frame.startswith("screen ") for frame in frames), frames  # nothing but the bar
    assert any("ETA" in frame for frame in frames)
    assert re.search(r"screen 100%\|█+\| 4/4 cells, 0 cached, 0 failed, \d+s", frames[-1]), frames[-1]
    status, terminal = _on_a_terminal("screen", "sweep.yaml", cwd=tmp_path)
    assert status == 0
    assert re.fullmatch(r"screen: 4 cells, all from the store \(0 failed\), nothing to compute, \d+s\r\n", terminal), terminal
    status, terminal = _on_a_terminal("screen", "sweep.yaml", "--quiet", cwd=tmp_path)
    assert status == 0 and terminal == ""  # --quiet: nothing, even on a terminal


def test_verbose_shows_the_captured_warnings(tmp_path):
    config = {**TINY, "folder": str(tmp_path / "s"),
              "variants": [{"name": "slow", "model": "logreg", "params": {"max_iter": 1}}]}
    (tmp_path / "sweep.yaml").write_text(yaml.safe_dump(config))
    quiet = _cli("screen", "sweep.yaml", cwd=tmp_path)
    assert quiet.returncode == 0 and quiet.stderr == ""
    (tmp_path / "sweep.yaml").write_text(yaml.safe_dump({**config, "folder": str(tmp_path / "s2")}))
    verbose = _cli("screen", "sweep.yaml", "-v", cwd=tmp_path)
    assert verbose.returncode == 0
    lines = verbose.stderr.splitlines()
    warned = [line for line in lines if " library_warning " in line]
    assert warned and all("category='ConvergenceWarning'" in line for line in warned), lines
    assert all("/" not in line.split("where=")[1] for line in warned)  # a file name, not a full path
    assert sum(" cell_complete " in line for line in lines) == 2


def test_the_eta_weighs_what_is_left_by_its_cost_not_by_the_count_of_cells():
    progress = Progress(stream=io.StringIO())
    # two costly cells, then eight cheap ones of the same model: the first took 10 s
    progress.plan_jobs([("cell", "lightgbm", 1000.0)] * 2 + [("cell", "lightgbm", 10.0)] * 8)
    progress.job_done("lightgbm", 10.0, kind="cell")
    progress.started -= 10.0
    assert progress.eta() == pytest.approx(10.0 + 8 * 0.1, rel=0.01)  # counted by cells it would say 90 s
    # a model not seen finishing yet is expected to take the mean of the jobs seen so far
    progress.plan_jobs([("base", "xgboost", 50.0), ("cell", "stack_nonneg", 1.0)])
    progress.seen.clear(), setattr(progress, "job_seconds", 0.0)
    assert progress.eta() is None  # nothing finished: no guess
    progress.job_done("xgboost", 4.0, kind="base")
    progress.started -= 4.0
    assert progress.eta() == pytest.approx(4.0, rel=0.01)


def test_the_library_prints_nothing_by_default_and_a_bar_with_progress_true(tmp_path, capsys):
    from cvn_sklearn.sweep import screen

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    config = {**TINY, "folder": str(tmp_path / "s")}
    screen(config)
    assert capsys.readouterr() == ("", "")
    terminal = Terminal()
    screen({**config, "folder": str(tmp_path / "t")}, progress=Progress(stream=terminal))
    assert "screen 100%" in terminal.getvalue() and "4/4 cells" in terminal.getvalue()
    screen({**config, "folder": str(tmp_path / "t")}, progress=True)  # stderr is not a terminal here: nothing drawn
    assert capsys.readouterr() == ("", "")


def test_a_stackers_base_models_are_reported_as_they_finish_before_the_first_cell(tmp_path):
    import numpy as np
    from structlog.testing import capture_logs

    from cvn_sklearn.model_selection import WalkForwardSplit
    from cvn_sklearn.sweep import SymbolData, screen

    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 3))
    y = (X[:, 0] + rng.normal(size=300) > 0.5).astype(int)
    bases = [["l1", {"model": "logreg"}], ["l2", {"model": "logreg", "C": 0.1}]]
    with capture_logs() as logs:
        screen({"variants": [{"name": "st", "model": "stack_nonneg",
                              "params": {"base_models": bases, "cv": WalkForwardSplit(2)}}],
                "symbols": ["a"], "folds": {"n_splits": 2}, "calibration": "sigmoid", "folder": str(tmp_path),
                "mlflow": False, "cost": 0.0}, data={"a": SymbolData(X, y, np.where(y == 1, 0.01, -0.01))})
    names = [e["event"] for e in logs if e["event"] in ("base_model_complete", "cell_complete")]
    assert names == ["base_model_complete"] * 4 + ["cell_complete"] * 2  # 2 bases x 2 folds, then the cells
    done = [e for e in logs if e["event"] == "base_model_complete"]
    assert {e["model"] for e in done} == {"logreg"} and {e["symbol"] for e in done} == {"a"}
    assert all(e["seconds"] > 0 for e in done)
