"""The sweep's Dask set-up: a lean LocalCluster, tasks sent with their nodes named, not pickled."""

import urllib.error
import urllib.request

import dask
import pytest
from dask.distributed import Client

from cvn_sklearn.sweep.cluster import LEAN_DASK_CONFIG, local_cluster, run_task
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


def test_a_cell_or_base_model_task_carries_its_own_symbols_rows_not_every_symbols():
    from cvn_sklearn.dags import cached_driver
    from cvn_sklearn.sweep.run import SWEEP_DAG as SCREEN

    nodes = cached_driver(SCREEN, fixed_params_config("sigmoid", "f1"), "local").graph.nodes
    readers = sorted(name for name, node in nodes.items() if "symbol_data" in {d.name for d in node.dependencies})
    assert readers == ["base_job", "cell"]  # the fan-outs (run in the driver), which attach one symbol's rows
