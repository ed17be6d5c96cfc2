"""The sweep's MLflow runs (real SQLite stores): child runs written as cells complete, the parent's ranking and champion, the CLI."""

import contextlib
import io
import json

import numpy as np
import pandas as pd
import pytest
import structlog
import yaml
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from cvn_sklearn.cli import main
from cvn_sklearn.harness import screen
from cvn_sklearn.persist import SCRUBBED, load_artifact
from cvn_sklearn.sweep import SymbolData, tracking
from cvn_sklearn.sweep.store import CellStore


def _symbol(seed, n=300):
    rng = np.random.RandomState(seed)
    X = pd.DataFrame(rng.normal(size=(n, 3)), columns=["f0", "f1", "f2"],
                     index=pd.date_range("2020-01-01", periods=n, freq="D"))
    y = pd.Series((X["f0"] + rng.normal(size=n) > 0.5).astype(int), index=X.index)
    return SymbolData(X, y, pd.Series(np.where(y == 1, 0.01, -0.01) + rng.normal(0, 0.01, n), index=X.index))


DATA = {"aaa": _symbol(1), "bbb": _symbol(2)}
SECRETS = ("Abcd123Secret9xyz", "Qwer456Secret8abc")
VARIANTS = [
    {"name": "logreg", "model": "logreg", "params": {"C": 1.0}},
    # secret-looking params, one nested (logreg does not take them: this variant's cells fail, and are logged)
    {"name": "leaky", "model": "logreg", "params": {"api_key": SECRETS[0], "extra": {"db_password": SECRETS[1]}}},
    {"name": "logreg_l2", "model": "logreg", "params": {"C": 0.05}},
]


def _config(tmp_path, **changes):
    return {"variants": VARIANTS, "symbols": ["aaa", "bbb"], "folds": {"n_splits": 2}, "calibration": "sigmoid",
            "folder": str(tmp_path / "sweep"), "mlflow": True, "tracking_uri": f"sqlite:///{tmp_path}/mlflow.db",
            "cost": 0.0005, **changes}


def _children(client, parent):
    experiment = client.get_run(parent).info.experiment_id
    return client.search_runs([experiment], f"tags.mlflow.parentRunId = '{parent}'", max_results=1000)


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """One sweep logged with a child run written after every cell; the store's child count at each cell_complete."""
    folder = tmp_path_factory.mktemp("tracking")
    config = _config(folder)
    seen = []

    def count_children(logger, method, event):  # the store as each cell completes (its own run is written next)
        if event["event"] == "cell_complete":
            client = MlflowClient(config["tracking_uri"])
            experiment = client.get_experiment_by_name("cvn-sklearn-screen")
            seen.append(len(client.search_runs([experiment.experiment_id], "tags.`cvn.cell_key` != ''")))
        raise structlog.DropEvent

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tracking, "_EVERY", 0.0)  # write the queue at every cell
        structlog.configure(processors=[count_children])
        try:
            result = screen(config, data=DATA)
        finally:
            structlog.reset_defaults()
    return folder, config, result, seen


def test_child_runs_are_written_as_the_cells_complete_with_the_cells_times(swept):
    _, config, result, seen = swept
    assert seen == list(range(len(result.cells)))  # at the k-th cell_complete, the k - 1 earlier cells are logged
    client = MlflowClient(config["tracking_uri"])
    children = _children(client, result.parent_run_id)
    assert len(children) == len(result.cells) == 12
    cells = result.cells.set_index("key")
    for child in children:
        cell = cells.loc[child.data.tags["cvn.cell_key"]]
        duration = (child.info.end_time - child.info.start_time) / 1000
        assert abs(duration - cell["seconds"]) <= 0.5 * cell["seconds"], (duration, cell["seconds"])
        assert child.info.status == ("FINISHED" if cell["status"] == "ok" else "FAILED")
        assert child.data.tags["cvn.cached"] == "false" and child.data.tags["variant"] == cell["variant"]
        assert child.data.tags["mlflow.source.name"] and child.data.tags["mlflow.source.type"] == "LOCAL"
        assert len(child.data.tags["mlflow.source.git.commit"]) == 40  # the tests run in a git checkout
        if cell["status"] == "ok":
            assert child.data.metrics["test_auc"] == cell["test_auc"]
            assert child.data.metrics.get("sharpe_ann", np.nan) == cell["sharpe_ann"] or cell["no_edge"]
    params = {c.data.tags["variant"]: c.data.params for c in children}
    assert params["logreg"] == {"model": "logreg", "C": "1.0"} and params["logreg_l2"]["C"] == "0.05"
    assert params["leaky"] == {"model": "logreg", "api_key": SCRUBBED, "extra.db_password": SCRUBBED}


def test_no_secret_in_any_param_or_tag_of_the_sweep(swept):
    _, config, result, _ = swept
    client = MlflowClient(config["tracking_uri"])
    runs = [client.get_run(result.parent_run_id), *_children(client, result.parent_run_id)]
    for run in runs:
        written = json.dumps([run.data.params, run.data.tags])
        assert not [secret for secret in SECRETS if secret in written], run.info.run_id


def test_the_parent_holds_the_ranking_the_pbo_and_a_loadable_champion(swept):
    folder, config, result, _ = swept
    client = MlflowClient(config["tracking_uri"])
    parent = client.get_run(result.parent_run_id)
    metrics, tags = parent.data.metrics, parent.data.tags
    ranked = result.ranking.dropna(subset=["dsr"])
    assert len(ranked) == 2 and parent.info.status == "FINISHED"
    for variant, row in ranked.iterrows():
        assert metrics[f"dsr/{variant}"] == row["dsr"] and metrics[f"sharpe_ann/{variant}"] == row["sharpe_ann"]
    champion = ranked["dsr"].idxmax()
    assert tags["cvn.champion"] == champion and metrics["champion_dsr"] == ranked.loc[champion, "dsr"]
    assert metrics["pbo"] == result.pbo or np.isnan(result.pbo)
    assert {a.path for a in client.list_artifacts(result.parent_run_id, "tables")} >= {"tables/ranking.csv",
                                                                                       "tables/ranking.json"}
    # the champion's model is its chosen cell's: the same probabilities on that cell's test rows
    model = load_artifact(result.parent_run_id, tracking_uri=config["tracking_uri"])
    cell = result.cells.set_index("key").loc[tags["cvn.champion_cell_key"]]
    assert cell["variant"] == champion and cell["fold"] == 1
    _, arrays = CellStore(folder / "sweep").get(tags["cvn.champion_cell_key"])
    X = DATA[cell["symbol"]].X.iloc[arrays["index"]]
    np.testing.assert_array_equal(model.predict_proba(X)[:, 1], arrays["proba"])


def test_a_rerun_logs_cells_computed_without_mlflow_as_cached_child_runs_once(tmp_path):
    screen(_config(tmp_path, mlflow=False), data=DATA)
    assert not (tmp_path / "mlflow.db").exists()
    config = _config(tmp_path)
    result = screen(config, data=DATA)
    assert result.cells["cached"].all()
    client = MlflowClient(config["tracking_uri"])
    children = _children(client, result.parent_run_id)
    assert len(children) == 12 and {c.data.tags["cvn.cached"] for c in children} == {"true"}
    cells = result.cells.set_index("key")
    for child in children:  # the times of the run that computed them, not of this one
        seconds = cells.loc[child.data.tags["cvn.cell_key"], "seconds"]
        assert abs((child.info.end_time - child.info.start_time) / 1000 - seconds) <= 0.5 * seconds
    again = screen(config, data=DATA)
    assert again.parent_run_id == result.parent_run_id and len(_children(client, result.parent_run_id)) == 12
    # the parent's ranking table is this run's, not the earlier runs' rows appended one after the other
    parent = client.get_run(again.parent_run_id)
    assert json.loads(parent.data.tags["mlflow.loggedArtifacts"]) == [{"path": "tables/ranking.json", "type": "table"}]
    table = pd.read_json(client.download_artifacts(again.parent_run_id, "tables/ranking.json", str(tmp_path)),
                         orient="split")  # MLflow's table format (what MlflowClient.load_table reads)
    pd.testing.assert_series_equal(table["variant"], again.ranking.reset_index()["variant"], check_dtype=False)
    pd.testing.assert_series_equal(table["sharpe_ann"], again.ranking.reset_index()["sharpe_ann"], check_dtype=False)


SHIPPED = {"variants": [{"name": "logreg", "model": "logreg"}, {"name": "logreg_l2", "model": "logreg",
                                                                 "params": {"C": 0.01}}],
           "symbols": ["goog", "ibm"], "folds": {"n_splits": 2, "gap": 10}, "calibration": "sigmoid",
           "label": {"kind": "triple_barrier", "cusum": 1.5, "max_holding": 10},
           "objective": None}  # θ = 0.5: these variants trade, so they have a DSR and a champion


def _cli(tmp_path, *options):
    config = tmp_path / "sweep.yaml"
    config.write_text(yaml.safe_dump({**SHIPPED, "folder": str(tmp_path / "sweep")}))
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        status = main(["screen", str(config), *options])
    return status, out.getvalue()


def test_cli_tracking_uri_and_register_create_a_registered_version_and_say_where_everything_went(tmp_path):
    uri = f"sqlite:///{tmp_path}/runs.db"
    status, out = _cli(tmp_path, "--tracking-uri", uri, "--register", "sweep_champion", "--report",
                       str(tmp_path / "report.html"))
    assert status == 0
    versions = MlflowClient(uri).search_model_versions("name = 'sweep_champion'")
    assert [str(v.version) for v in versions] == ["1"]
    run_id = versions[0].run_id
    lines = out.strip().splitlines()[-6:]
    assert lines[0] == f"folder: {tmp_path / 'sweep'}/ (cell store: cells/, OOS store: oos/)"
    assert f"{tmp_path / 'sweep'}/returns.parquet" in lines[1] and "ranking.csv" in lines[1]
    assert lines[2] == f"report: {tmp_path / 'report.html'}"
    assert lines[3].startswith(f"MLflow: parent run {run_id} ") and uri in lines[3]
    assert "registered as sweep_champion/1" in lines[4] and f"load_artifact('{run_id}'" in lines[4]
    assert lines[5] == f"open: mlflow ui --backend-store-uri {uri}"


def test_cli_no_mlflow_writes_no_mlflow_db(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    status, out = _cli(tmp_path, "--no-mlflow")
    assert status == 0 and out.strip().splitlines()[-1] == "MLflow: nothing logged (mlflow: false, or --no-mlflow)"
    assert not [path for path in tmp_path.rglob("*") if path.name.startswith("mlflow") or path.name == "mlruns"]


def test_a_run_inserted_in_bulk_reads_back_as_the_same_run_written_through_mlflows_client(tmp_path):
    """The SQL fast path (tracking.insert_runs) leaves what create_run + log_batch + set_terminated leave."""
    client = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    experiment = client.create_experiment("contract")
    parent = client.create_run(experiment).info.run_id
    run = {"tags": {"mlflow.runName": "v|s|0", "mlflow.parentRunId": parent, "mlflow.user": "me", "variant": "v"},
           "params": {"model": "logreg", "C": 0.5}, "metrics": {"test_auc": 0.61, "seconds": 1.25, "no_edge": False},
           "start": 1_700_000_000_000, "end": 1_700_000_001_250, "status": "FAILED"}
    written = client.get_run(tracking.write_run(client, experiment, run))
    location = client.get_experiment(experiment).artifact_location
    [inserted_id] = tracking.insert_runs(client._tracking_client.store, experiment, location, [run])
    inserted = client.get_run(inserted_id)
    fields = ("status", "start_time", "end_time", "run_name", "lifecycle_stage", "user_id", "experiment_id")
    assert [getattr(inserted.info, f) for f in fields] == [getattr(written.info, f) for f in fields]
    assert inserted.info.artifact_uri == written.info.artifact_uri.replace(written.info.run_id, inserted_id)
    assert (inserted.data.params, inserted.data.metrics, inserted.data.tags) == (
        written.data.params, written.data.metrics, written.data.tags)
    history = [client.get_metric_history(r, "test_auc")[0] for r in (inserted_id, written.info.run_id)]
    assert [(m.value, m.timestamp, m.step) for m in history] == [(0.61, 1_700_000_001_250, 0)] * 2
    found = client.search_runs([experiment], "metrics.test_auc > 0.6 and params.C = '0.5' and tags.variant = 'v'")
    assert {r.info.run_id for r in found} == {inserted_id, written.info.run_id}


def test_on_dask_each_cells_child_run_is_written_by_the_driver_with_the_cells_times(tmp_path):
    config = _config(tmp_path, variants=VARIANTS[:1], executor="dask", n_workers=1)
    result = screen(config, data=DATA)
    client = MlflowClient(config["tracking_uri"])
    children = _children(client, result.parent_run_id)
    cells = result.cells.set_index("key")
    assert sorted(c.data.tags["cvn.cell_key"] for c in children) == sorted(cells.index)
    for child in children:
        seconds = cells.loc[child.data.tags["cvn.cell_key"], "seconds"]
        assert abs((child.info.end_time - child.info.start_time) / 1000 - seconds) <= 0.5 * seconds
    assert client.get_run(result.parent_run_id).data.tags["cvn.champion"] == "logreg"


def test_a_parents_metrics_inserted_in_bulk_read_back_as_those_logged_through_mlflows_client(tmp_path):
    """tracking.insert_metrics leaves what log_batch leaves: on a new run, and logged again (a re-run's parent)."""
    client = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    experiment = client.create_experiment("contract")
    logged, inserted = (client.create_run(experiment).info.run_id for _ in range(2))
    store = client._tracking_client.store
    for timestamp, values in ((1_700_000_000_000, {"dsr/a": 0.9, "dsr/b": 0.1, "pbo": 0.25}),
                              (1_700_000_005_000, {"dsr/a": 0.7, "pbo": 0.5, "sharpe_ann/a": 1.5})):
        from mlflow.entities import Metric

        client.log_batch(logged, metrics=[Metric(k, v, timestamp, 0) for k, v in values.items()])
        tracking.insert_metrics(store, inserted, values, timestamp)
        assert client.get_run(inserted).data.metrics == client.get_run(logged).data.metrics
    assert client.get_run(inserted).data.metrics == {"dsr/a": 0.7, "dsr/b": 0.1, "pbo": 0.5, "sharpe_ann/a": 1.5}
    for key in ("dsr/a", "dsr/b", "pbo", "sharpe_ann/a"):
        histories = [[(m.value, m.timestamp, m.step) for m in client.get_metric_history(run, key)]
                     for run in (inserted, logged)]
        assert histories[0] == histories[1] and histories[0]
    found = client.search_runs([experiment], "metrics.`dsr/a` < 0.8 and metrics.pbo > 0.4")
    assert {r.info.run_id for r in found} == {inserted, logged}
    for bad in ("../x", "a" * 300):  # a key log_batch refuses is refused, and nothing is written
        with pytest.raises(MlflowException, match="Invalid value|exceeds the maximum length"):
            tracking.insert_metrics(store, inserted, {"fine": 1.0, bad: 1.0}, 1_700_000_010_000)
    assert "fine" not in client.get_run(inserted).data.metrics


def test_rows_inserted_through_the_driver_are_those_sqlalchemy_inserts_and_a_default_they_lack_is_filled(tmp_path):
    """tracking._insert_many: the same rows as ``connection.execute(insert(table), rows)``, defaults included."""
    import sqlalchemy as sa

    engine = sa.create_engine(f"sqlite:///{tmp_path}/rows.db")
    meta = sa.MetaData()
    tables = [sa.Table(name, meta, sa.Column("key", sa.String(50)), sa.Column("value", sa.Float),
                       sa.Column("is_nan", sa.Boolean), sa.Column("step", sa.BigInteger, default=7))
              for name in ("ours", "theirs")]
    meta.create_all(engine)
    rows = [{"key": "a", "value": 0.5, "is_nan": False, "step": 0}, {"key": "b", "value": None, "is_nan": True, "step": 3}]
    short = [{"key": "c", "value": 1.5, "is_nan": False}]  # no step: SQLAlchemy's default fills it
    with engine.begin() as connection:
        tracking._insert_many(connection, tables[0], rows)
        tracking._insert_many(connection, tables[0], short)
        connection.execute(sa.insert(tables[1]), rows)
        connection.execute(sa.insert(tables[1]), short)
    with engine.connect() as connection:
        ours, theirs = (connection.execute(sa.select(t)).all() for t in tables)
    assert ours == theirs == [("a", 0.5, False, 0), ("b", None, True, 3), ("c", 1.5, False, 7)]
