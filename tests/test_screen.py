"""The screening sweep: cells, failures, resume, stackers on shared base models, Dask, MLflow."""

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import numpy as np
import pandas as pd
import pytest

from cvn_sklearn.threshold import NO_TRADE_THETA
import structlog
from mlflow.tracking import MlflowClient
from pydantic import ValidationError
from structlog.testing import capture_logs

from cvn_sklearn.events import EVENTS
from cvn_sklearn.harness import screen
from cvn_sklearn.model_selection import WalkForwardSplit
from cvn_sklearn.sweep import ScreenConfig, ScreenResult, SymbolData
from cvn_sklearn.sweep.plan import plan_cells
from cvn_sklearn.sweep.store import CellStore
from cvn_sklearn.stacking import realised_folds


def _symbol(seed, n=400, n_features=3):
    rng = np.random.RandomState(seed)
    X = pd.DataFrame(rng.normal(size=(n, n_features)), columns=[f"f{i}" for i in range(n_features)],
                     index=pd.date_range("2020-01-01", periods=n, freq="D"))
    y = pd.Series((X["f0"] + rng.normal(size=n) > 0.5).astype(int), index=X.index)
    returns = pd.Series(np.where(y == 1, 0.01, -0.01) + rng.normal(0, 0.01, n), index=X.index)
    return SymbolData(X, y, returns)


DATA = {"aaa": _symbol(1), "bbb": _symbol(2)}
VARIANTS = [
    {"name": "logreg", "model": "logreg"},
    {"name": "logreg_strong_l2", "model": "logreg", "params": {"C": 0.01}},
    {"name": "broken", "model": "logreg", "params": {"C": -1}},
]


def _config(tmp_path, **changes):
    return {"variants": VARIANTS, "symbols": ["aaa", "bbb"], "folds": {"n_splits": 2, "gap": 2},
            "calibration": "sigmoid", "folder": str(tmp_path / "sweep"), "mlflow": False, "cost": 0.0, **changes}


def _events(logs, name, **fields):
    return [e for e in logs if e["event"] == name and all(e.get(k) == v for k, v in fields.items())]


@pytest.fixture(scope="module")
def first(tmp_path_factory):
    folder = tmp_path_factory.mktemp("screen")
    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
        result = screen(_config(folder), data=DATA)
    return folder, result, logs


def test_a_cells_clock_starts_before_any_of_its_nodes_runs():
    # Hamilton runs a task's nodes in an order that changes from process to process (Python's string hashing): the
    # cell's seconds count every node of the cell because each of them reads `cell`, which starts the clock
    from cvn_sklearn.dags import cached_driver, fixed_params_config
    from cvn_sklearn.sweep.run import SWEEP_DAG

    nodes = cached_driver(SWEEP_DAG, fixed_params_config("sigmoid", "f1"), "local").graph.nodes

    def upstream(name, seen=None):
        seen = set() if seen is None else seen
        for dependency in nodes[name].dependencies:
            if dependency.name not in seen:
                seen.add(dependency.name)
                upstream(dependency.name, seen)
        return seen

    in_a_cell = [name for name in nodes if "cell_todo" in upstream(name) and name not in ("cell", "cell_records")]
    assert len(in_a_cell) > 30 and "cell_record" in in_a_cell and "cell_artifact.fit" in in_a_cell
    assert [name for name in in_a_cell if "cell" not in upstream(name)] == []


def test_every_cell_is_a_fold_of_a_symbol_of_a_variant_and_a_failure_is_recorded(first):
    _, result, _ = first
    cells = result.cells
    assert len(cells) == 3 * 2 * 2
    assert set(map(tuple, cells[["variant", "symbol", "fold"]].to_numpy().tolist())) == {
        (v["name"], s, f) for v in VARIANTS for s in DATA for f in (0, 1)
    }
    broken = cells[cells["variant"] == "broken"]
    assert set(broken["status"]) == {"failed"} and set(broken["error_type"]) == {"InvalidParameterError"}
    assert broken["error"].str.contains("'C' parameter").all()
    ok = cells[cells["variant"] != "broken"]
    assert set(ok["status"]) == {"ok"} and not ok["cached"].any()
    # θ was tuned: in (0, 1), or the no-trade θ just above 1 when a cell's validation rows show no edge
    assert ((ok["threshold"] > 0) & ((ok["threshold"] < 1) | (ok["threshold"] == NO_TRADE_THETA))).all()
    assert (ok["no_edge"] == (ok["threshold"] == NO_TRADE_THETA)).all() and (ok.loc[ok["no_edge"], "n_trades"] == 0).all()
    assert (ok["rows_theta"] > 0).all() and (ok["rows_test"] == ok["test_n"]).all()
    assert {"n_trades", "win_rate", "avg_return", "sortino_ann", "sharpe_ann", "max_drawdown", "sharpe_ann_gross",
            "avg_return_gross", "cost", "n_bars", "periods_per_year", "seconds"} <= set(cells)


def test_the_test_block_is_scored_with_the_row_policy_of_train_one(first):
    from cvn_sklearn.contracts import Datasets
    from cvn_sklearn.harness import train_one
    from cvn_sklearn.model_selection import walk_forward_folds

    _, result, _ = first
    X, y, returns = DATA["bbb"][:3]
    fold = walk_forward_folds(WalkForwardSplit(2, gap=2), X, y, gap=2)[1]
    parts = [tuple(v.iloc[rows] for v in (X, y, returns)) for rows in (fold.fit, fold.val, fold.test)]
    artifact = train_one("logreg", Datasets(*parts), calibration="sigmoid")
    cell = result.cells.query("variant == 'logreg' and symbol == 'bbb' and fold == 1").iloc[0]
    assert cell["threshold"] == artifact.threshold and cell["test_auc"] == artifact.metrics_test.auc
    assert cell["n_trades"] == artifact.trading_test.n_trades and cell["rows_fit"] == len(fold.fit)


def test_results_tables_and_files(first):
    _, result, _ = first
    assert list(result.ranking.index[:2]) != ["broken"] and result.ranking.loc["broken", "failed_cells"] == 4
    assert {"trades", "win_rate", "sharpe_ann", "sharpe_ann_gross", "sortino_ann", "psr", "dsr", "T", "no_edge_cells",
            "failed_cells"} <= set(result.ranking)
    # one row per day of the two symbols' test windows (the same days): T of the pooled series
    assert result.calendar == "bars" and result.periods_per_year == 252
    assert result.ranking["T"].dropna().unique().tolist() == [len(result.pooled)]
    assert 0.0 <= result.pbo <= 1.0
    overall = result.by_variant[result.by_variant["fold"] == "all"].set_index("variant")
    assert overall.loc["logreg", "avg_trades"] == result.cells.query("variant == 'logreg'")["n_trades"].mean()
    assert overall.loc["logreg", "no_edge_cells"] == result.cells.query("variant == 'logreg'")["no_edge"].sum()
    assert set(result.by_variant["fold"]) == {"0", "1", "all"}
    assert result.returns.shape[1] == 3 and result.returns["broken"].isna().all()
    assert result.returns.index.names == ["symbol", "time"] and result.pooled["broken"].isna().all()
    for name in ("cells", "by_variant", "ranking"):
        assert (result.folder / f"{name}.parquet").is_file() and (result.folder / f"{name}.csv").is_file()
    pd.testing.assert_frame_equal(pd.read_parquet(result.folder / "ranking.parquet"), result.ranking)


def test_events_follow_their_schema(first):
    _, result, logs = first
    started, done = _events(logs, "screen_started"), _events(logs, "screen_complete")
    assert len(started) == len(done) == 1
    assert started[0]["n_cells"] == 12 and started[0]["n_cached"] == 0
    assert done[0]["n_failed"] == 4 and done[0]["n_cached"] == 0
    cells = _events(logs, "cell_complete")
    assert len(cells) == 12 and {e["status"] for e in cells} == {"ok", "failed"}
    for event in started + done + cells:
        assert set(EVENTS[event["event"]].__annotations__) <= set(event)
    # the fit events of a cell carry the cell
    assert {(e["variant"], e["symbol"], e["fold"]) for e in _events(logs, "training_complete")} == {
        (v, s, f) for v in ("logreg", "logreg_strong_l2") for s in DATA for f in (0, 1)
    }


def test_a_second_run_fits_no_model_and_retry_failed_reruns_only_the_failures(first):
    folder, result, _ = first
    with capture_logs() as logs:
        again = screen(_config(folder), data=DATA)
    assert not _events(logs, "training_started")
    assert again.cells["cached"].all() and len(_events(logs, "cell_complete", cached=True)) == 12
    pd.testing.assert_frame_equal(again.ranking, result.ranking)
    with capture_logs() as logs:
        retried = screen(_config(folder, retry_failed=True), data=DATA)
    ran = _events(logs, "cell_complete", cached=False)
    assert {e["variant"] for e in ran} == {"broken"} and len(ran) == 4
    assert not _events(logs, "training_started")  # the broken variant fails before any fit
    assert retried.cells.query("variant != 'broken'")["cached"].all()


def test_six_stackers_over_three_bases_fit_each_base_once_per_symbol_and_fold(tmp_path):
    bases = ["logreg", "extra_trees", "hist_gb"]
    ensembles = ["blend_avg", "blend_weighted", "stack_logreg", "stack_logreg_shrink", "stack_xgb_meta", "stack_nonneg"]
    variants = [{"name": e, "model": e, "params": {"base_models": bases}} for e in ensembles]
    config = {"variants": variants, "symbols": ["aaa"], "folds": {"n_splits": 2}, "calibration": "sigmoid",
              "folder": str(tmp_path), "mlflow": False, "cost": 0.0}
    with capture_logs() as logs:
        result = screen(config, data={"aaa": DATA["aaa"]})
    assert set(result.cells["status"]) == {"ok"}
    from cvn_sklearn.model_selection import walk_forward_folds

    X, y = DATA["aaa"].X, DATA["aaa"].y
    folds = walk_forward_folds(WalkForwardSplit(2), X, y, val_size=0.2)
    expected_per_base = sum(len(realised_folds(None, X.iloc[f.fit], y.iloc[f.fit].to_numpy(), {})) + 1 for f in folds)
    fits = [e["model_type"] for e in _events(logs, "training_started")]
    assert {base: fits.count(base) for base in bases} == {base: expected_per_base for base in bases}


def test_cells_run_in_waves_of_cells_per_run_with_the_results_of_one_run(tmp_path, monkeypatch):
    """Hamilton's bookkeeping is quadratic in one execute's tasks: the sweep runs its cells in waves, same results."""
    import cvn_sklearn.sweep.run as run
    from cvn_sklearn.dags import QuietDriver

    variants = [*VARIANTS[:2], {"name": "blend", "model": "blend_avg", "params": {"base_models": ["logreg", "hist_gb"]}}]
    config = {**_config(tmp_path / "one"), "variants": variants}
    with capture_logs() as one_logs:
        whole = screen(config, data=DATA)
    executes = []
    real = QuietDriver.execute
    monkeypatch.setattr(QuietDriver, "execute", lambda self, *a, **k: executes.append(len(k["inputs"]["cells_todo"]))
                        or real(self, *a, **k))
    monkeypatch.setattr(run, "CELLS_PER_RUN", 5)
    with capture_logs() as logs:
        waves = screen({**config, "folder": str(tmp_path / "waves")}, data=DATA)
    assert executes == [5, 5, 2]  # 12 cells
    # the base model is fitted in the first wave only, as often as in one run (once per symbol and fold, per CV split)
    assert len(_events(logs, "training_started", model_type="hist_gb")) == len(
        _events(one_logs, "training_started", model_type="hist_gb")) > 0
    assert set(waves.cells["status"]) == {"ok"}
    columns = [c for c in whole.cells.columns if c not in ("seconds", "training_time_sec", "key")]
    pd.testing.assert_frame_equal(waves.cells[columns], whole.cells[columns])
    pd.testing.assert_frame_equal(waves.ranking, whole.ranking)
    assert waves.pbo == whole.pbo or (np.isnan(waves.pbo) and np.isnan(whole.pbo))


def test_bad_configs_name_the_key(tmp_path):
    with pytest.raises(ValidationError, match="lightgbn"):
        ScreenConfig.model_validate({"variants": [{"name": "x", "model": "lightgbn"}], "symbols": ["aaa"]})
    with pytest.raises(ValidationError, match="variant names must be unique"):
        ScreenConfig.model_validate({"variants": [VARIANTS[0], VARIANTS[0]], "symbols": ["aaa"]})
    with pytest.raises(ValidationError, match="folds.n_splits"):
        ScreenConfig.model_validate({"variants": VARIANTS, "symbols": ["aaa"], "folds": {"n_splits": 0}})
    with pytest.raises(ValueError, match=r"symbols: no data for \['ccc'\]"):
        screen(_config(tmp_path, symbols=["aaa", "ccc"]), data=DATA)
    short = {"aaa": SymbolData(*[part.iloc[:12] for part in DATA["aaa"][:3]])}
    with pytest.raises(ValueError, match=r"folds: symbol 'aaa' has 12 rows: Walk-forward fold 0 has no rows left to fit on"):
        screen(_config(tmp_path, symbols=["aaa"], folds={"n_splits": 4, "gap": 2}), data=short)


def test_cells_are_submitted_costliest_first_and_reported_in_config_order(tmp_path):
    variants = [{"name": "small", "model": "lightgbm", "params": {"n_estimators": 10, "num_leaves": 7}},
                {"name": "linear", "model": "logreg"},
                {"name": "big", "model": "lightgbm", "params": {"n_estimators": 50, "num_leaves": 31}},
                {"name": "typo", "model": "lightgbm", "params": {"n_estimatorz": 50}},
                {"name": "forest", "model": "random_forest", "params": {"n_estimators": 20, "max_depth": 3}}]
    config = ScreenConfig.model_validate(_config(tmp_path, variants=variants))
    plan = plan_cells(config, DATA)
    order = [cell.variant.name for cell in plan.todo]
    # per symbol and fold the same ranking; fold 1's larger training window puts its cells before fold 0's
    assert order[:2] == ["big", "big"] and order[-2:] == ["typo", "typo"]
    ranks = {name: [i for i, n in enumerate(order) if n == name] for name in ("big", "small", "forest", "linear")}
    assert max(ranks["big"]) < min(ranks["small"]) and max(ranks["forest"]) < min(ranks["linear"])
    assert [c.variant.name for c in plan.cells[:5]] == [v["name"] for v in variants]  # the results keep config order
    result = screen(config, data=DATA)
    assert result.cells["variant"].tolist()[:5] == [v["name"] for v in variants]
    assert set(result.cells.loc[result.cells["variant"] == "typo", "error_type"]) == {"TypeError"}


def test_a_cell_store_file_appears_whole(tmp_path):
    store = CellStore(tmp_path)
    store.put({"key": "k", "status": "ok"}, index=[1, 2], signal=[0, 1], proba=[0.2, 0.7], returns=[0.1, -0.2])
    assert store.keys() == {"k"} and [p.suffix for p in (tmp_path / "cells").iterdir()] == [".cells"]
    record, arrays = store.get("k")
    assert record == {"key": "k", "status": "ok"} and arrays["returns"].tolist() == [0.1, -0.2]


def test_local_and_dask_local_cluster_give_identical_cells_and_ranking(tmp_path):
    # the failing variant too: its failure is caught and recorded in the worker
    config = _config(tmp_path, variants=VARIANTS + [{"name": "lgbm", "model": "lightgbm", "params": {"n_estimators": 20}}])
    local = screen({**config, "folder": str(tmp_path / "local")}, data=DATA)
    with capture_logs() as logs:
        distributed = screen({**config, "folder": str(tmp_path / "dask"), "executor": "dask", "n_workers": 2}, data=DATA)
    [hint] = _events(logs, "executor_chosen")  # run on Dask as asked, with the hint that auto would not start a cluster
    assert (hint["requested"], hint["executor"]) == ("dask", "dask") and "executor: auto would run here" in hint["reason"]
    columns = [c for c in local.cells.columns if c not in ("seconds", "training_time_sec")]
    pd.testing.assert_frame_equal(local.cells[columns], distributed.cells[columns])
    pd.testing.assert_frame_equal(local.ranking, distributed.ranking)
    assert local.pbo == distributed.pbo
    assert set(distributed.cells.loc[distributed.cells["variant"] == "broken", "status"]) == {"failed"}


_KILLED_SWEEP = textwrap.dedent("""
    import sys
    import numpy as np, pandas as pd
    sys.path.insert(0, sys.argv[2])
    from test_screen import DATA
    from cvn_sklearn.harness import screen
    variants = [{"name": f"forest_{i}", "model": "random_forest", "params": {"n_estimators": 150, "max_depth": i + 2}}
                for i in range(6)]
    screen({"variants": variants, "symbols": ["aaa", "bbb"], "folds": {"n_splits": 2}, "calibration": "sigmoid",
            "folder": sys.argv[1], "mlflow": False, "cost": 0.0}, data=DATA)
""")


def test_a_killed_sweep_resumes_without_recomputing_finished_cells(tmp_path):
    folder = tmp_path / "sweep"
    script = tmp_path / "sweep.py"
    script.write_text(_KILLED_SWEEP)
    process = subprocess.Popen([sys.executable, str(script), str(folder), os.path.dirname(__file__)],
                               stderr=subprocess.DEVNULL)
    store = CellStore(folder)
    try:
        deadline = time.monotonic() + 180
        while len(store.keys()) < 3 and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    finished = store.keys()
    assert 3 <= len(finished) < 24, "the sweep must be killed after some cells and before the end"
    variants = [{"name": f"forest_{i}", "model": "random_forest", "params": {"n_estimators": 150, "max_depth": i + 2}}
                for i in range(6)]
    config = {"variants": variants, "symbols": ["aaa", "bbb"], "folds": {"n_splits": 2}, "calibration": "sigmoid",
              "folder": str(folder), "mlflow": False, "cost": 0.0}
    with capture_logs() as logs:
        result = screen(config, data=DATA)
    computed = _events(logs, "cell_complete", cached=False)
    assert len(_events(logs, "cell_complete", cached=True)) == len(finished)
    assert len(computed) == 24 - len(finished)
    assert set(result.cells.loc[result.cells["cached"], "key"]) == finished


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    """A real MLflow tracking server on localhost, SQLite behind it, as a team shares a store."""
    folder = tmp_path_factory.mktemp("mlflow_server")
    port = _free_port()
    command = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
               "--backend-store-uri", f"sqlite:///{folder}/server.db", "--default-artifact-root", str(folder / "art"),
               "--workers", "1"]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    uri = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            MlflowClient(uri).search_experiments(max_results=1)
            break
        except Exception:  # noqa: BLE001 - not up yet
            time.sleep(0.5)
    else:
        server.kill()
        pytest.fail("the MLflow server did not start")
    yield uri
    server.send_signal(signal.SIGTERM)
    server.wait(timeout=30)


@pytest.mark.parametrize("where", ["sqlite", "server"])
def test_mlflow_gets_one_parent_run_and_one_child_run_per_cell(tmp_path, where, request):
    uri = request.getfixturevalue("mlflow_server") if where == "server" else f"sqlite:///{tmp_path}/mlflow.db"
    experiment = f"screen-{where}-{tmp_path.name}"
    config = _config(tmp_path, tracking_uri=uri, mlflow=True, experiment=experiment)
    result = screen(config, data=DATA)
    client = MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name(experiment).experiment_id])
    parents = [run for run in runs if "mlflow.parentRunId" not in run.data.tags]
    children = [run for run in runs if run.data.tags.get("mlflow.parentRunId") == result.parent_run_id]
    assert [p.info.run_id for p in parents] == [result.parent_run_id] and len(children) == 12
    assert sorted(c.info.status for c in children).count("FAILED") == 4
    by_cell = {(c.data.tags["variant"], c.data.tags["symbol"], c.data.tags["fold"]): c for c in children}
    cell = result.cells.query("variant == 'logreg' and symbol == 'aaa' and fold == 0").iloc[0]
    logged = by_cell[("logreg", "aaa", "0")].data.metrics
    assert logged["threshold"] == cell["threshold"] and logged["test_auc"] == cell["test_auc"]
    assert "InvalidParameterError" in by_cell[("broken", "aaa", "0")].data.tags["error"]
    assert parents[0].data.metrics["pbo"] == result.pbo
    assert {a.path for a in client.list_artifacts(result.parent_run_id, "tables")} >= {"tables/ranking.csv"}
    assert ScreenResult.load(result.folder).parent_run_id == result.parent_run_id  # in result.json too
    again = screen(config, data=DATA)  # reuses the parent, adds nothing
    assert again.parent_run_id == result.parent_run_id
    assert len(client.search_runs([client.get_experiment_by_name(experiment).experiment_id])) == 13


def test_each_cell_keeps_its_test_blocks_reliability_bins_and_theta_curve(first):
    from sklearn.metrics import f1_score

    _, result, _ = first
    store = CellStore(result.folder)
    ok = result.cells[result.cells["status"] == "ok"]
    for _, cell in ok.iterrows():
        _, arrays = store.get(cell["key"])
        y_test = DATA[cell["symbol"]].y.to_numpy()[arrays["index"]]
        assert sum(cell["reliability_test_count"]) == cell["rows_test"] == len(y_test)
        assert sum(cell["reliability_test_positives"]) == y_test.sum()
        proba = arrays["proba"]
        thresholds = cell["theta_thresholds"]
        assert len(cell["theta_test_scores"]) == len(thresholds) == len(cell["theta_test_positive_rates"])
        # the θ curve of the test block: F1 (the sweep's objective) and the share of rows at or above each θ
        expected = [f1_score(y_test, (proba >= t).astype(int), zero_division=0.0) for t in thresholds]
        np.testing.assert_allclose(cell["theta_test_scores"], expected, rtol=1e-12)
        np.testing.assert_allclose(cell["theta_test_positive_rates"], [(proba >= t).mean() for t in thresholds])


def test_buy_and_hold_without_close_prices_buys_every_test_row(first):
    _, result, _ = first
    assert result.pbo_note is None  # the PBO is a number here
    for symbol, data in DATA.items():
        held = result.buy_and_hold.xs(symbol, level="symbol")["buy_and_hold"]
        assert held.index.equals(result.returns.xs(symbol, level="symbol").index)
        # no t1, no close: each row is a one-bar trade, so buying every row earns each test row's return
        pd.testing.assert_series_equal(held, data.returns.reindex(held.index), check_names=False)


def test_a_large_sweeps_report_shows_the_best_variants_and_aggregates_the_rest(first, tmp_path, monkeypatch):
    from _report_charts import charts

    from cvn_sklearn.sweep import report

    folder, result, _ = first
    # the thresholds of a large sweep, scaled down: above 2 variants show the best 1; above 1 symbol pool them
    monkeypatch.setattr(report, "SUMMARY_ABOVE", 2)
    monkeypatch.setattr(report, "SHOWN_VARIANTS", 1)
    monkeypatch.setattr(report, "SYMBOL_CHARTS", 1)
    monkeypatch.setattr(report, "FAILED_CELLS_SHOWN", 3)
    seconds = report.report_build_seconds(result, ScreenConfig(**_config(folder)), tmp_path / "r.html")
    assert seconds > 0
    page = (tmp_path / "r.html").read_text()
    best = result.ranking.index[0]
    ranking = page[page.index("<h2>Ranking</h2>"):page.index('<h2 id="all-variants">')]
    assert ranking.count("</tr>") == 2 and f"<td>{best}</td>" in ranking  # the header and the best variant
    assert "3 variants: the 1 best of the ranking are shown" in page
    assert "The first 3 of the 4 failed cells (every one is in cells.csv)" in page
    found = charts(page)
    [spread] = [c for c in found if c["axes"][0]["ylabel"] == "variants"]
    assert spread["axes"][0]["legend"] == ["all variants", best]
    [equity] = [c for c in found if c["axes"][0]["ylabel"] == "cumulative return (%)"]  # one chart: pooled
    assert equity["axes"][0]["legend"] == ["equal-weight buy and hold of the 2 symbols", f"{best} (net)",
                                          "dashed: gross of costs"]
    lines = {line["label"]: line for line in equity["axes"][0]["lines"]}
    assert lines["equal-weight buy and hold of the 2 symbols"]["finite"] == len(result.pooled)
    [calibration] = [c for c in found if c["axes"][0]["ylabel"] == "share of buys"]
    assert calibration["axes"][0]["title"] == f"{best}: reliability"


def test_cells_keep_their_curves_as_arrays_in_parquet_and_cells_csv_holds_the_scalars(first):
    """Arrays (a tenth of the memory of lists of floats at 10,000 cells); the CSV, for a spreadsheet, has no curves."""
    folder, result, _ = first
    ok = result.cells[result.cells["status"] == "ok"].iloc[0]
    assert isinstance(ok["theta_thresholds"], np.ndarray) and ok["theta_thresholds"].dtype == np.float64
    assert isinstance(ok["reliability_count"], np.ndarray) and ok["reliability_count"].dtype.kind == "i"
    curves = [c for c in result.cells.columns if isinstance(ok[c], np.ndarray)]
    assert {"theta_thresholds", "theta_test_scores", "reliability_count", "reliability_test_mean_proba"} <= set(curves)
    written = pd.read_csv(folder / "sweep" / "cells.csv")
    assert list(written.columns) == [c for c in result.cells.columns if c not in curves]
    assert written["key"].tolist() == result.cells["key"].tolist()
    pd.testing.assert_series_equal(written["test_auc"], result.cells["test_auc"])
    stored = pd.read_parquet(folder / "sweep" / "cells.parquet")
    row = stored[stored["key"] == ok["key"]].iloc[0]
    np.testing.assert_array_equal(row["theta_thresholds"], ok["theta_thresholds"])


def test_cells_parquet_written_in_pieces_reads_back_as_the_whole_table(first, tmp_path, monkeypatch):
    """Converted to Arrow a few rows at a time (10,000 cells' curves at once take ~100 MB): the same frame read back."""
    from cvn_sklearn.sweep import tables

    _, result, _ = first
    monkeypatch.setattr(tables, "_ROWS_AT_A_TIME", 3)
    cells = result.cells.copy()
    cells.loc[len(cells) - 1, "error"] = "a message only in the last piece"  # typed from the whole table
    tables._write_parquet(cells, tmp_path / "pieces.parquet")
    cells.to_parquet(tmp_path / "whole.parquet")
    import pyarrow.parquet as pq

    assert pq.ParquetFile(tmp_path / "pieces.parquet").num_row_groups == -(-len(cells) // 3)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "pieces.parquet"), pd.read_parquet(tmp_path / "whole.parquet"),
                                  check_exact=True)
    tables._write_parquet(result.ranking, tmp_path / "ranking.parquet")  # its own index: in one piece
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "ranking.parquet"), result.ranking, check_exact=True)


def test_the_return_tables_written_from_their_values_are_pandas_own_parquet_files(first, tmp_path):
    """Built from the values, not column by column through pandas: the same Arrow table, schema and metadata."""
    import pyarrow.parquet as pq

    from cvn_sklearn.sweep import tables

    _, result, _ = first
    nan_column = result.returns.assign(never=np.nan)  # a variant that failed: NaN, written as nulls
    with_ints = result.pooled.assign(count=1)  # not all floats: written by pandas
    named_as_a_level = result.returns.rename(columns={result.returns.columns[0]: "time"})  # pandas' own naming
    frames = [getattr(result, name) for name in tables._FRAMES] + [nan_column, with_ints, named_as_a_level]
    for i, frame in enumerate(frames):
        tables._write_returns(frame, tmp_path / f"{i}.ours.parquet")
        frame.to_parquet(tmp_path / f"{i}.pandas.parquet")
        ours, theirs = (pq.read_table(tmp_path / f"{i}.{who}.parquet") for who in ("ours", "pandas"))
        assert ours.equals(theirs) and ours.schema.equals(theirs.schema, check_metadata=True), i
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / f"{i}.ours.parquet"), frame, check_exact=True)


def test_the_cells_frame_built_column_by_column_is_pandas_frame_of_the_records(first):
    """The driver keeps each record as (field names, values); the frame equals pandas' of the dicts, in any order."""
    from cvn_sklearn.sweep.tables import _records_frame, packed_record

    folder, result, _ = first
    store = CellStore(folder / "sweep")
    records = [store.get(key)[0] for key in result.cells["key"]]
    assert {r["status"] for r in records} == {"ok", "failed"} and len({len(r) for r in records}) > 1  # layouts differ
    layouts = {}
    for order in (records, records[::-1], sorted(records, key=lambda r: r["status"] == "ok")):
        flags = [i % 3 == 0 for i in range(len(order))]
        expected = pd.DataFrame([{**record, "cached": flag} for record, flag in zip(order, flags)])
        packed = [packed_record(record, layouts) for record in order]
        pd.testing.assert_frame_equal(_records_frame(packed, flags), expected, check_exact=True)
    assert len(layouts) == len({tuple(r) for r in records})  # one tuple of names per layout, shared
