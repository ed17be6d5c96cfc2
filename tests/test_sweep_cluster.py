"""The sweep's Dask set-up: a lean LocalCluster, tasks sent with their nodes named, not pickled."""

import urllib.error
from pathlib import Path
import urllib.request

import dask
import pytest
from dask.distributed import Client

from cvn_sklearn.sweep.cluster import (COLD_CLUSTER_SECONDS, LEAN_DASK_CONFIG, choose_executor, environment, local_cluster,
                                      run_task)
from cvn_sklearn.dags import fixed_params_config


def _settings():
    return {name: dask.config.get(name) for name in LEAN_DASK_CONFIG}


def test_local_cluster_workers_run_one_thread_without_the_dashboard_monitors():
    with local_cluster(2) as cluster, Client(cluster) as client:
        workers = client.scheduler_info()["workers"].values()
        assert [w["nthreads"] for w in workers] == [1, 1]
        assert list(client.run(_settings).values()) == [LEAN_DASK_CONFIG] * 2
        with pytest.raises(urllib.error.HTTPError, match="404"):  # the scheduler's HTTP server serves no dashboard
            urllib.request.urlopen(cluster.dashboard_link, timeout=10)
    assert dask.config.get("distributed.worker.profile.enabled") is True  # this process's settings are untouched


def test_a_task_may_only_name_nodes_of_this_packages_dags():
    with pytest.raises(ValueError, match="modules must be cvn_sklearn.sweep.dag or modules of cvn_sklearn.dags"):
        run_task(("os",), (), ["system"], None)


def test_a_task_naming_nodes_the_worker_does_not_have_says_the_versions_differ():
    config = fixed_params_config("sigmoid", "f1")
    with pytest.raises(ValueError, match=r"no nodes \['cell_from_the_future'\].*same version"):
        run_task(("cvn_sklearn.sweep.dag",), config, ["cell_record", "cell_from_the_future"], None)


def test_a_task_from_a_driver_with_other_versions_is_refused_by_the_worker():
    # a worker that joined after the sweep's start-up check: each task carries the driver's versions
    driver = {**environment(), "lightgbm": "0.0.1"}
    with pytest.raises(ValueError, match=r"this Dask worker runs lightgbm \S+ \(driver: 0\.0\.1\): install the driver's"):
        run_task(("cvn_sklearn.sweep.dag",), fixed_params_config("sigmoid", "f1"), ["cell_record"], None, driver=driver)


def test_a_cell_or_base_model_task_carries_its_own_symbols_rows_not_every_symbols():
    from cvn_sklearn.dags import cached_driver
    from cvn_sklearn.sweep.run import SWEEP_DAG as SCREEN

    nodes = cached_driver(SCREEN, fixed_params_config("sigmoid", "f1"), "local").graph.nodes
    readers = sorted(name for name, node in nodes.items() if "symbol_data" in {d.name for d in node.dependencies})
    assert readers == ["base_job", "cell_todo"]  # the fan-outs (run in the driver), which attach one symbol's rows


# -- a real deployment: `dask scheduler` and `dask worker` processes -------------------------------------------------

import json
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import pandas as pd

from _dask_deployment import PauseAtTask, dask_deployment
from cvn_sklearn.sweep import screen
from cvn_sklearn.sweep.store import CellStore
from test_screen import _symbol


DATA = {"aaa": _symbol(1, n=300), "bbb": _symbol(2, n=300)}  # test_screen's symbols, shorter
SWEEP = {"variants": [{"name": "logreg", "model": "logreg"},
                      {"name": "logreg_strong_l2", "model": "logreg", "params": {"C": 0.01}},
                      {"name": "broken", "model": "logreg", "params": {"C": -1}},
                      {"name": "lgbm", "model": "lightgbm", "params": {"n_estimators": 10, "num_leaves": 4}}],
         "symbols": ["aaa", "bbb"], "folds": {"n_splits": 3, "gap": 2}, "calibration": "sigmoid", "mlflow": False,
         "cost": 0.0}
N_CELLS = 4 * 2 * 3


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    return screen({**SWEEP, "folder": str(tmp_path_factory.mktemp("local"))}, data=DATA)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    with dask_deployment(tmp_path_factory.mktemp("dask"), n_workers=2) as address:
        yield address


def _assert_same_results(local, distributed):
    columns = [c for c in local.cells.columns if c not in ("seconds", "training_time_sec")]
    pd.testing.assert_frame_equal(local.cells[columns], distributed.cells[columns])
    pd.testing.assert_frame_equal(local.ranking, distributed.ranking)
    assert local.pbo == distributed.pbo
    assert set(distributed.cells.loc[distributed.cells["variant"] == "broken", "status"]) == {"failed"}


def _copies(folder) -> list:
    """``(key, segment)`` of every copy of a cell in the store's segments (a torn one included)."""
    from cvn_sklearn.sweep.store import _frames_of

    return [(key, path) for path in sorted(Path(folder, "cells").iterdir()) for key, _ in _frames_of(path, print)]


def _cells_stored(folder) -> list:
    """The key of every copy of a cell in the store's segments."""
    return [key for key, _ in _copies(folder)]


def _assert_each_cell_stored_once(folder, result):
    """Every cell stored once (one copy in the segments), and read back verified."""
    stored = _cells_stored(folder)
    assert sorted(stored) == sorted(result.cells["key"]) and len(stored) == N_CELLS
    assert {path.suffix for path in Path(folder, "cells").iterdir()} == {".cells"}
    store = CellStore(folder)
    assert all(store.get(key) is not None for key in result.cells["key"])  # each cell verified (checksum, key)


def _dag_builds():
    from cvn_sklearn.sweep.cluster import _graph_nodes

    return _graph_nodes.cache_info().currsize


def test_a_sweep_on_dask_scheduler_and_dask_worker_processes_equals_the_local_run(deployment, local_run, tmp_path):
    from dask.distributed import Client

    folder = tmp_path / "sweep"
    result = screen({**SWEEP, "folder": str(folder), "executor": "dask", "scheduler": deployment}, data=DATA)
    _assert_same_results(local_run, result)
    _assert_each_cell_stored_once(folder, result)
    with Client(deployment) as client:
        workers = client.scheduler_info()["workers"].values()
        assert sorted(w["name"] for w in workers) == ["w0", "w1"] and {w["nthreads"] for w in workers} == {1}
        assert set(client.run(_dag_builds).values()) == {1}  # both worker processes ran cells (built the DAG once)


def test_a_worker_killed_mid_sweep_loses_no_cell_and_each_is_read_once(deployment, local_run, tmp_path):
    from dask.distributed import Client

    folder, marker = tmp_path / "sweep", tmp_path / "paused.json"
    config = {**SWEEP, "folder": str(folder), "executor": "dask", "scheduler": deployment}
    paused = None
    with Client(deployment) as client, ThreadPoolExecutor(1) as pool:
        client.register_plugin(PauseAtTask("w0", 3, marker))  # w0 hangs as its 3rd task is about to start
        try:
            sweep = pool.submit(screen, config, data=DATA)
            deadline = time.monotonic() + 120
            while not marker.exists() and not sweep.done() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert marker.exists(), "worker w0 never started its third task"
            paused = json.loads(marker.read_text())
            stored_before = _cells_stored(folder)
            os.kill(paused["pid"], signal.SIGKILL)  # w0's process, holding a task it has not run
            result = sweep.result(timeout=300)
        finally:
            if paused is None and marker.exists():  # failing before the kill: never leave the sweep hanging
                os.kill(json.loads(marker.read_text())["pid"], signal.SIGKILL)
            client.unregister_worker_plugin(PauseAtTask.name)
    assert 2 <= len(stored_before) < N_CELLS  # killed mid-sweep, after w0's first two cells
    _assert_same_results(local_run, result)
    # Dask ran again the cells whose results died with w0: a second copy of each, appended by w1; read once
    by_w0 = [key for key, segment in _copies(folder) if segment.name.startswith(f"{paused['pid']}-")]
    stored = _cells_stored(folder)
    twice = sorted(key for key in set(stored) if stored.count(key) > 1)
    assert sorted(set(stored)) == sorted(result.cells["key"]) and max(map(stored.count, stored)) <= 2
    assert set(twice) <= set(by_w0) and len(stored) == N_CELLS + len(twice)
    store = CellStore(folder)
    for key in result.cells["key"]:
        record, rows = store.get(key)  # verified (checksum, key): its latest copy
        assert record["status"] in ("ok", "failed") and len(rows)
    assert len(result.cells) == N_CELLS and set(result.cells["cached"]) == {False}


# -- executor: auto ---------------------------------------------------------------------------------------------------

def test_auto_runs_a_small_sweep_in_this_process_and_says_why(local_run, tmp_path):
    from structlog.testing import capture_logs

    with capture_logs() as logs:
        result = screen({**SWEEP, "folder": str(tmp_path / "auto"), "executor": "auto"}, data=DATA)
    [chosen] = [e for e in logs if e["event"] == "executor_chosen"]
    assert (chosen["requested"], chosen["executor"]) == ("auto", "local")
    assert 0 < chosen["estimated_seconds"] < 2 * COLD_CLUSTER_SECONDS
    assert f"twice the ~{COLD_CLUSTER_SECONDS:.0f} s a cold local cluster costs" in chosen["reason"]
    assert [e["executor"] for e in logs if e["event"] == "screen_started"] == ["local"]
    _assert_same_results(local_run, result)


def test_auto_starts_a_cluster_only_for_cells_that_pay_for_it_and_uses_a_running_scheduler(tmp_path):
    from cvn_sklearn.sweep import ScreenConfig
    from cvn_sklearn.sweep.plan import plan_cells

    def choose(variants, **changes):
        config = ScreenConfig(**{**SWEEP, "variants": variants, "folder": str(tmp_path), "executor": "auto", **changes})
        return choose_executor(config, plan_cells(config, DATA))

    small = [{"name": "lgbm", "model": "lightgbm", "params": {"n_estimators": 100}}]
    large = [{"name": "lgbm", "model": "lightgbm", "params": {"n_estimators": 100_000, "num_leaves": 255}}]
    executor, reason, small_seconds = choose(small)
    assert executor == "local" and "save at most" in reason
    executor, reason, large_seconds = choose(large)  # the same cells with 1,000x the rounds, 8x the leaves
    assert executor == "dask" and large_seconds > 4 * COLD_CLUSTER_SECONDS and large_seconds > 100 * small_seconds
    assert choose(large, n_workers=1)[:2] == ("local", "1 worker (n_workers 1, %d cores): no cells in parallel"
                                              % os.cpu_count())
    assert choose(small, scheduler="tcp://127.0.0.1:1")[0] == "dask"  # a running cluster has nothing to start


def test_workers_with_another_library_version_are_refused_before_any_cell_runs(tmp_path):
    # a worker whose LightGBM reports another version: its cells would be stored under the driver's versions
    fake = tmp_path / "site"
    (fake / "lightgbm-0.0.1.dist-info").mkdir(parents=True)
    (fake / "lightgbm-0.0.1.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: lightgbm\nVersion: 0.0.1\n")
    with dask_deployment(tmp_path / "dask", n_workers=1, worker_path=[fake]) as address:
        with pytest.raises(ValueError, match=r"scheduler: the workers must run the driver's Python and libraries: "
                                             r"tcp://127\.0\.0\.1:\d+ runs lightgbm 0\.0\.1 \(driver: \d"):
            screen({**SWEEP, "folder": str(tmp_path / "sweep"), "executor": "dask", "scheduler": address}, data=DATA)
    assert not (tmp_path / "sweep" / "cells").exists()
