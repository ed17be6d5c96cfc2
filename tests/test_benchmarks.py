"""The benchmarks run and print what the issues ask for (tiny sizes: this checks they work, not the numbers).

Benchmarks stay out of the default test run: these are deselected unless asked
for with ``python -m pytest -m benchmark``.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.benchmark

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _run(script, *args, cwd):
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_overhead_benchmark_prints_train_one_against_raw_fit_per_booster(tmp_path):
    out = _run("overhead.py", "--rows", "600", "--features", "5", "--repeats", "1", cwd=tmp_path)
    assert "raw fit s" in out and "train_one s" in out and "cpu ratio" in out and "cal+θ s" in out
    assert "vs fit+predict" in out and "probabilities differ" not in out, out
    for model in ("xgboost", "lightgbm", "catboost"):
        assert re.search(rf"^{model}\s+\d+\.\d+\s+\d+\.\d+\s+\d+\.\d+\s+\d+\.\d+", out, re.MULTILINE), out
    assert list(tmp_path.iterdir()) == []


def test_stacking_benchmark_prints_both_wall_times_the_ratio_the_agreement_and_the_fingerprint_time(tmp_path):
    out = _run("stacking.py", "--n-samples", "80", "--n-features", "4", "--repeats", "1",
               "--fingerprint-rows", "1000", cwd=tmp_path)
    assert re.search(r"one OOS store :\s+\d+\.\d+ s", out) and re.search(r"StackingClassifier fits\s+:\s+\d+\.\d+ s", out)
    assert re.search(r"ratio shared / independent\s+:\s+\d\.\d+", out), out
    assert re.search(r"largest \|difference\| of predict_proba\s+:\s+\d\.\de[-+]\d+", out), out
    assert re.search(r"fingerprint of 1000 x 30 float64\s+:\s+\d+\.\d+ s first", out), out
    assert list(tmp_path.iterdir()) == []


def test_screen_benchmark_prints_speed_up_overhead_resume_memory_and_logging(tmp_path):
    out = _run("screen.py", "--rows", "300", "--features", "4", "--trees", "5", "--repeats", "1", "--tiny", "10",
               "--many", "20", "--logging-cells", "10", "--logging-repeats", "1", "--logging-demo-rounds", "2",
               "--logging-demo-symbols", "1", cwd=tmp_path)
    assert re.search(r"speed-up\s+:\s+\d+\.\d+x \(same cells: True\)", out), out
    assert re.search(r"by client.map: \d+\.\d+x \(same predictions: True\)", out), out
    assert re.search(r"orchestration overhead\s+:\s+-?\d+\.\d+% of the cells' own time", out), out
    assert re.search(r"re-run of the finished sweep\s+:\s+\d+\.\d+ s \(\d+\.\d+% of the fresh run\)", out), out
    assert re.search(r"driver peak memory, 100 tiny cells : \d+ MB \(growth -?\d+ MB\)", out), out
    assert re.search(r"cell cost\s+:\s+\d+\.\d+x the same fits plain \(serial; in CPU time \d+\.\d+x\)", out), out
    assert re.search(r"^20 cells: overhead -?\d+\.\d+% of the cells' own time", out, re.MULTILINE), out
    for measure in ("re-run of the finished sweep", "result tables built", "report built \\(write_report\\)"):
        assert re.search(rf"^  {measure}\s+:\s+\d+\.\d+ s", out, re.MULTILINE), out
    assert re.search(r"driver peak memory\s+:\s+\d+ MB \(10 cells: \d+ MB, growth -?\d+ MB\)", out), out
    assert re.search(r"peak memory, re-run and rebuild\s+:\s+\d+ MB \(10 cells: \d+ MB\)", out), out
    for label in ("demo-sized sweep", "tiny cells"):  # mlflow_logging.py's lines, from its own process
        assert re.search(rf"^logging, {label} \(\d+ cells\): \d+\.\d% of the sweep's \d+\.\d s", out, re.MULTILINE), out
    assert list(tmp_path.iterdir()) == []


def test_threads_benchmark_prints_pinned_and_every_core_walk_forward_under_load(tmp_path):
    out = _run("threads.py", "--rows", "600", "--features", "4", "--trees", "5", "--repeats", "1", cwd=tmp_path)
    for label in ("1 (pinned, the default)", "None (every core)"):
        assert re.search(rf"^{re.escape(label)}\s+\d+\.\d+\s+\d+\.\d+\s+\d+\.\d+x$", out, re.MULTILINE), out
    assert "same predictions in all four: True" in out
    assert list(tmp_path.iterdir()) == []


def test_trading_benchmark_prints_the_series_time_the_reference_check_and_the_share_of_the_sweep(tmp_path):
    out = _run("trading.py", "--cells", "3", "--bars", "300", "--trees", "5", "--repeats", "1", "--check", "2",
               cwd=tmp_path)
    for rule in ("one_at_a_time", "equal_weight"):
        for mode in ("marked to market", "realised"):
            assert re.search(rf"^per-bar series \+ metrics, 3 cells x 300 bars : \d+\.\d+ s \({rule}, {mode}\)$", out,
                             re.MULTILINE), out
    assert re.search(r"reference loop: \d+\.\d+ s per cell, vectorised \d+\.\d+x faster \(same series: True", out), out
    assert re.search(r"sweep wall time, extrapolated from 8 measured cells : \d+\.\d+ s for 3 cells", out), out
    assert re.search(r"series share of the sweep's wall time : \d+\.\d+% \(target <= 5%", out), out
    assert list(tmp_path.iterdir()) == []


def test_report_benchmark_prints_the_build_time_of_a_small_and_a_summarised_report(tmp_path):
    out = _run("report.py", "--variants", "3,25", "--symbols", "2", "--folds", "2", "--bars", "30", "--repeats", "1",
               cwd=tmp_path)
    for cells, variants in (("12", 3), ("100", 25)):
        assert re.search(rf"^report of {cells} cells \({variants} variants x 2 symbols x 2 folds\): \d+\.\d+ s "
                         r"\(median of 1, \d+\.\d+ s of CPU", out, re.MULTILINE), out
    assert list(tmp_path.iterdir()) == []


def test_executor_benchmark_prints_local_and_cold_dask_auto_choice_and_the_rules_constants(tmp_path):
    out = _run("executor.py", "--rows", "300", "--features", "4", "--trees", "5", "--repeats", "1", cwd=tmp_path)
    rows = re.findall(r"^(tiny|LightGBM).*?\s+(\d+\.\d+)\s+(\d+\.\d+)\s+(\d+\.\d+)\s+(local|dask)\s+(local|dask)\s+True$",
                      out, re.MULTILINE)
    assert len(rows) == 3, out
    assert re.search(r"cold cluster cost \(cold - warm, tiny sweep\) : -?\d+\.\d+ s \(package: 12\.0 s\)", out), out
    assert re.search(r"a cell's seconds besides its fit \(logreg\)\s+: \d+\.\d+ s", out), out
    assert re.search(r"seconds per fit_cost unit \(LightGBM\)\s+: -?\d\.\d+e[-+]\d+", out), out
    assert list(tmp_path.iterdir()) == []


def test_startup_benchmark_prints_help_import_and_cached_sweep_times(tmp_path):
    out = _run("startup.py", "--repeats", "1", cwd=tmp_path)
    for label in ("python -c pass", "import cvn_sklearn", "cvn-sklearn --help"):
        assert re.search(rf"^{re.escape(label)}\s+\d+\.\d+\s+\d+\.\d+$", out, re.MULTILINE), out
    for mlflow in ("false", "true "):
        for hamilton in ("as set", "autoload"):
            assert re.search(rf"^cached sweep, mlflow {mlflow}, Hamilton {hamilton}\s+(\d+\.\d+\s+){{3}}\d+%$", out,
                             re.MULTILINE), out
    assert list(tmp_path.iterdir()) == []


def test_mlflow_logging_benchmark_prints_the_logging_share_and_the_report_time_of_both_sweeps(tmp_path):
    out = _run("mlflow_logging.py", "--cells", "10", "--demo-rounds", "2", "--demo-symbols", "1", "--repeats", "1",
               "--child-runs", "5", cwd=tmp_path)
    for label in ("demo-sized sweep", "tiny cells"):
        assert re.search(rf"^logging, {label} \(\d+ cells\): \d+\.\d% of the sweep's \d+\.\d s \(child runs \d+\.\d+ s, "
                         r"parent and champion \d+\.\d+ s\); report built in \d+\.\d+ s", out, re.MULTILINE), out
    assert re.search(r"one child run: \d+\.\d ms through MlflowClient .*, \d+\.\d ms inserted in bulk", out), out
    assert list(tmp_path.iterdir()) == []
