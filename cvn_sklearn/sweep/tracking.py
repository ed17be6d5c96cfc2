"""The sweep in MLflow: one parent run per sweep, one child run per cell, written by the driver as the cells complete.

:class:`SweepRuns` opens (or reuses) the parent run before any cell runs,
writes each cell's child run as the cell comes back (in batches), and, once
the sweep's tables are built, gives the parent the ranking, the PBO, the
tables and the champion's model. A sweep run again reuses its parent run
(found by ``cvn.sweep_id``). Everything logged is scrubbed of secrets first
(:mod:`cvn_sklearn.scrubbing`).
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import replace
from pathlib import Path
from time import monotonic, time_ns

from cvn_sklearn._disk import content_key
from cvn_sklearn.persist import _experiment_id, _store_lock, _tracking
from cvn_sklearn.scrubbing import scrub_structure, scrub_text, scrub_uri

__all__ = ["SweepRuns", "insert_runs", "log_report", "store_uri", "where_lines", "write_run"]

_SWEEP_TAG = "cvn.sweep_id"
_CELL_TAG = "cvn.cell_key"
_CACHED_TAG = "cvn.cached"
_CHAMPION_TAG = "cvn.champion"
_CHAMPION_NOTE = "cvn.champion_note"
_REGISTERED_TAG = "cvn.registered_model"
_CHAMPION_KEY = "cvn.champion_cell_key"
_TABLES_TAG = "mlflow.loggedArtifacts"  # MLflow's list of a run's tables (MlflowClient.log_table sets it)
_CELL_METRICS = ("threshold", "training_time_sec", "seconds", "cost", "n_trades", "n_signals", "win_rate", "avg_return",
                 "avg_return_gross", "sortino_ann", "sortino_ann_gross", "sharpe_ann", "sharpe_ann_gross",
                 "max_drawdown", "max_drawdown_gross", "n_bars", "no_edge")
_BATCH = 1000
"""Child runs written at once at most; the queue is also written every :data:`_EVERY` seconds.

Each batch is one transaction, and a commit costs about 30 ms on a local disk (SQLite syncs it): a
sweep of 1,000 tiny cells spent 0.73 s on its child runs in batches of 100 every 2 s, 0.54 s in
batches of 500 every 5 s; its child runs, parent and champion together 0.82 s, then 0.68 s in
batches of 1,000 every 10 s with their rows handed to the driver as they are (:func:`_insert_many`)
(``benchmarks/mlflow_logging.py``)."""
_EVERY = 10.0


def store_uri(config) -> str:
    """The MLflow store the sweep logs to: ``tracking_uri``, else ``MLFLOW_TRACKING_URI``, else ``./mlflow.db`` (absolute)."""
    with _tracking(config.tracking_uri) as uri:
        return uri


class SweepRuns:
    """The sweep's MLflow runs, written from the driver process only, as the cells complete.

    Opening it (before any cell runs) creates the parent run, tag
    ``cvn.sweep_id`` (a hash of the variants, symbols, folds, training options
    and costs), with the config as params (scrubbed as a structure,
    :func:`~cvn_sklearn.scrubbing.scrub_structure`, before it becomes JSON
    text), or reuses the parent of an earlier run of the same sweep.
    :meth:`cell` queues a finished cell's child run; the queue is written in
    batches (at most :data:`_BATCH` runs, at least every :data:`_EVERY`
    seconds, and at :meth:`finish`): on an SQL store (SQLite, PostgreSQL,
    MySQL) in one transaction (:func:`insert_runs`), elsewhere (a tracking
    server) run by run through :class:`mlflow.tracking.MlflowClient`
    (:func:`write_run`: ``create_run`` with the cell's start time, one
    ``log_batch`` of its params and metrics, ``set_terminated`` with its end
    time, ``FAILED`` for a failed cell).

    A child run holds the variant's parameters as params (scrubbed, nested
    mappings flattened to dotted keys, lists as JSON), ``model``; the cell's
    test metrics and θ as metrics; tags ``variant``, ``symbol``, ``fold``,
    ``status``, ``model``, the error of a failed cell (scrubbed at its source,
    the ``cell_record`` node of :mod:`cvn_sklearn.sweep.dag`), ``cvn.cell_key``,
    ``cvn.cached`` and MLflow's source tags (``mlflow.user``,
    ``mlflow.source.name``, ``mlflow.source.type``, and
    ``mlflow.source.git.commit`` with ``mlflow.source.git.dirty`` when the
    working directory is a git checkout). Its end time is when it was
    written to the cell store, its start time that minus the cell's
    ``seconds``. A cell read from the store (cached) is logged only if this
    parent has no child run of it yet, tagged ``cvn.cached = true``, with the
    times of the run that computed it (from the store). A cell computed again
    (``retry_failed``, a rejected cell) gets a new child run; the earlier one
    stays.

    Parameters
    ----------
    config : ScreenConfig
    plan : Plan
    """

    def __init__(self, config, plan):
        from mlflow.tracking import MlflowClient

        self.config, self.plan = config, plan
        with _tracking(config.tracking_uri) as uri:
            with _store_lock(uri):
                self.experiment_id = _experiment_id(config.experiment, None)
        self.uri, self.client = uri, MlflowClient(uri)
        self.artifact_location = self.client.get_experiment(self.experiment_id).artifact_location
        self.source_tags = _source_tags()  # scrubbed, but for the git commit (a hash this package computed)
        self.params = {v.name: _variant_params(v) for v in config.variants}
        sweep_id = _sweep_id(config)
        parent = _parent_run(self.client, self.experiment_id, sweep_id)
        if parent is None:
            tags = {**scrub_structure({"mlflow.runName": f"screen-{sweep_id[:8]}"}), **self.source_tags,
                    _SWEEP_TAG: sweep_id}
            parent = self.client.create_run(self.experiment_id, start_time=_now_ms(), tags=tags)
            self._log_batch(parent.info.run_id, params=_parent_params(config))
            self.logged = set()
        else:
            self.client.update_run(parent.info.run_id, status="RUNNING")
            self.logged = _logged_cells(self.client, self.experiment_id, parent.info.run_id)
        self.run_id = parent.info.run_id
        self.queue, self.flushed = [], monotonic()
        for cell in plan.cached:
            if cell.key not in self.logged:
                self._queue(plan.stored[cell.key][0], cached=True)
        self.flush()

    def cell(self, record: dict) -> None:
        """Queue the child run of a cell computed now; write the queue when it is full or due."""
        self._queue(record, cached=False)
        if len(self.queue) >= _BATCH or monotonic() - self.flushed >= _EVERY:
            self.flush()

    def flush(self) -> None:
        """Write every queued child run: in one transaction on an SQL store, else run by run."""
        queue, self.queue, self.flushed = self.queue, [], monotonic()
        if not queue:
            return
        store = self._sql_store()
        if store is not None:
            insert_runs(store, self.experiment_id, self.artifact_location, queue)
            return
        for run in queue:
            write_run(self.client, self.experiment_id, run)

    def _sql_store(self):
        """The client's tracking store when it is an SQL one (SQLite, PostgreSQL, MySQL), else ``None``."""
        store = getattr(getattr(self.client, "_tracking_client", None), "store", None)
        return store if _is_sql_store(store) else None

    def _queue(self, record: dict, *, cached: bool) -> None:
        # when it was written: a stored cell's time in the store; a cell computed now came back just after its write
        end = self.plan.store.written(record["key"]) if cached else time_ns() // 1_000_000
        tags = {"variant": record["variant"], "symbol": record["symbol"],
                "fold": str(record["fold"]), "status": record["status"], "model": record["model"],
                "mlflow.runName": f"{record['variant']}|{record['symbol']}|{record['fold']}"}
        if record["status"] != "ok":
            tags["error"] = f"{record['error_type']}: {record['error']}"[:5000]
        tags = {**scrub_structure(tags), **self.source_tags, "mlflow.parentRunId": self.run_id, _CELL_TAG: record["key"],
                _CACHED_TAG: str(cached).lower()}  # ids: not scrubbed
        self.queue.append({
            "tags": tags, "params": self.params[record["variant"]], "start": end - round(1000 * record["seconds"]),
            "end": end, "metrics": {k: float(record[k]) for k in _cell_metrics(record) if _finite(record.get(k))},
            "status": "FINISHED" if record["status"] == "ok" else "FAILED"})

    def _log_batch(self, run_id: str, *, params=None, metrics=None, tags=None) -> None:
        """``log_batch`` in chunks within MLflow's limits (1,000 metrics, 100 params, 100 tags a call)."""
        from mlflow.entities import Metric, Param, RunTag

        now = _now_ms()
        params = [Param(k, str(v)[:6000]) for k, v in (params or {}).items()]
        metrics = [Metric(k, float(v), now, 0) for k, v in (metrics or {}).items()]
        tags = [RunTag(k, str(v)[:5000]) for k, v in (tags or {}).items()]
        while params or metrics or tags:
            self.client.log_batch(run_id, metrics=metrics[:1000], params=params[:100], tags=tags[:100])
            params, metrics, tags = params[100:], metrics[1000:], tags[100:]

    def finish(self, result):
        """Write the queued child runs, then the parent's ranking, PBO, tables and champion; return ``result`` with its run id.

        The parent gets, per ranked variant, its ranking's figures as metrics
        named ``<figure>/<variant>`` (``dsr/lightgbm``, ``sharpe_ann/lightgbm``,
        ...: one chart per figure in MLflow's UI), the PBO (``pbo``), the
        champion's figures as ``champion_<figure>`` (sortable across sweeps in
        the runs table) with its name as tag ``cvn.champion``, the ranking as
        an MLflow table (``tables/ranking.json``, replaced by a re-run's) and the ranking, per-variant
        and per-cell tables as CSV. The champion's model
        (:mod:`cvn_sklearn.sweep.champion`) is logged as the parent's model in
        the safe model file of :func:`cvn_sklearn.persist.log_artifact`
        (:func:`cvn_sklearn.persist.load_artifact` of the parent run loads
        it), and registered under ``config.registered_model`` when set. When no
        variant has a DSR, or the model cannot be logged without a secret,
        tag ``cvn.champion_note`` says why and no model is logged.
        """
        self.flush()
        ranking = result.ranking
        metrics = {"pbo": result.pbo}
        for variant, row in ranking.iterrows():
            metrics |= {f"{column}/{_key(variant)}": value for column, value in row.items() if _finite(value)}
        tags = {"n_cells": str(len(result.cells)),
                _TABLES_TAG: json.dumps([{"path": "tables/ranking.json", "type": "table"}])}
        self._champion(result, metrics, tags)
        metrics = {k: float(v) for k, v in metrics.items() if _finite(v)}
        store = self._sql_store()
        if store is not None:  # a figure per variant: thousands of metrics, in one transaction
            insert_metrics(store, self.run_id, metrics, _now_ms())
            metrics = {}
        self._log_batch(self.run_id, metrics=metrics, tags=tags)
        with tempfile.TemporaryDirectory() as folder:
            # MLflow's table (MlflowClient.log_table's file and tag), written whole: log_table appends to the file a
            # re-run's parent already holds, so its ranking would list every variant once more per run
            table = Path(folder, "ranking.json")
            ranking.reset_index().to_json(table, orient="split", index=False, date_format="iso")
            self.client.log_artifact(self.run_id, str(table), "tables")
        for name in ("ranking", "by_variant", "cells"):
            self.client.log_artifact(self.run_id, str(Path(result.folder, f"{name}.csv")), "tables")
        self.client.set_terminated(self.run_id, "FINISHED", end_time=_now_ms())
        return replace(result, parent_run_id=self.run_id)

    def fail(self) -> None:
        """The sweep stopped with an error: write what is queued, mark the parent run ``FAILED``."""
        self.flush()
        self.client.set_terminated(self.run_id, "FAILED", end_time=_now_ms())

    def _champion(self, result, metrics: dict, tags: dict) -> None:
        from cvn_sklearn.persist import MODEL_URI_TAGS
        from cvn_sklearn.sweep.champion import champion_cell

        tags[_CHAMPION_NOTE] = ""  # none: the champion's model is on the parent run (an earlier run's note replaced)
        champion = champion_cell(result, self.plan)
        if champion is None:
            tags[_CHAMPION_NOTE] = "no champion: no variant has a deflated Sharpe ratio (see the ranking's dsr_note)"
            return
        row = result.ranking.loc[champion.variant]
        metrics |= {f"champion_{column}": value for column, value in row.items() if _finite(value)}
        cell = champion.cell
        tags |= {_CHAMPION_TAG: scrub_text(champion.variant), "cvn.champion_cell": scrub_text(
            f"{cell.variant.name}|{cell.symbol}|{cell.fold.index}"), _CHAMPION_KEY: cell.key}
        held = self.client.get_run(self.run_id).data.tags
        if held.get(_CHAMPION_KEY) == cell.key and MODEL_URI_TAGS["estimator"] in held and not held.get(_CHAMPION_NOTE):
            model_uri = held[MODEL_URI_TAGS["estimator"]]  # a re-run: the parent holds this cell's model already
        else:
            model_uri = self._champion_model(champion, tags)
        if model_uri is not None and self.config.registered_model is not None:
            import mlflow

            with _tracking(self.uri):
                version = mlflow.register_model(model_uri, self.config.registered_model)
            tags[_REGISTERED_TAG] = f"{version.name}/{version.version}"

    def _champion_model(self, champion, tags: dict):
        """Refit the champion's cell and log its model on the parent run; its model URI (``None``: see the note tag)."""
        from cvn_sklearn.sweep.champion import refit_champion

        artifact = refit_champion(champion, self.config, self.plan)
        try:
            return _log_champion_model(self.uri, self.run_id, artifact.estimator)
        except ValueError as exc:  # the model keeps a secret: persist refuses to write it
            tags[_CHAMPION_NOTE] = f"champion model not logged: {scrub_text(str(exc))}"
            return None


def write_run(client, experiment_id: str, run: dict) -> str:
    """Write one finished run through MLflow's client: ``create_run``, ``log_batch``, ``set_terminated``; its id.

    ``run``: ``tags``, ``params``, ``metrics`` (mappings of str), ``start``
    and ``end`` (ms since the epoch), ``status`` (``FINISHED`` or ``FAILED``).
    """
    from mlflow.entities import Metric, Param, RunTag

    run_id = client.create_run(experiment_id, start_time=run["start"], tags=run["tags"]).info.run_id
    params = [Param(k, str(v)[:6000]) for k, v in run["params"].items()]
    metrics = [Metric(k, float(v), run["end"], 0) for k, v in run["metrics"].items()]
    while params or metrics:
        client.log_batch(run_id, metrics=metrics[:1000], params=params[:100])
        params, metrics = params[100:], metrics[1000:]
    client.set_terminated(run_id, run["status"], end_time=run["end"])
    return run_id


def _is_sql_store(store) -> bool:
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    return isinstance(store, SqlAlchemyStore)


def insert_runs(store, experiment_id: str, artifact_location: str, runs: list) -> list[str]:
    """Write finished runs (as for :func:`write_run`) into an SQL tracking store in one transaction; their ids.

    The rows :func:`write_run` would leave in MLflow's tables (``runs``,
    ``tags``, ``params``, ``metrics``, ``latest_metrics``), inserted with one
    ``executemany`` per table instead of some 20 statements and 3 commits
    per run: about 10x cheaper, which keeps the child runs of thousands of
    small cells a few percent of the sweep. ``tests/test_sweep_tracking.py``
    checks that a run written either way reads back the same through
    MLflow's client (an MLflow upgrade that changes its tables fails there).
    Each key is validated once, as MLflow's ``log_batch`` validates it; the
    values are finite floats (metrics) and strings cut to MLflow's lengths.
    """
    import uuid

    from mlflow.entities import Metric, Param, RunTag
    from mlflow.store.tracking.dbmodels.models import SqlLatestMetric, SqlMetric, SqlParam, SqlRun, SqlTag
    from mlflow.utils.mlflow_tags import MLFLOW_RUN_NAME, MLFLOW_USER
    from mlflow.utils.uri import append_to_uri_path
    from mlflow.utils.validation import _validate_batch_log_data

    rows = {SqlRun: [], SqlTag: [], SqlParam: [], SqlMetric: []}
    ids, checked = [], set()
    for run in runs:
        run_id = uuid.uuid4().hex
        ids.append(run_id)
        end = run["end"]
        metrics = [(k, float(v)) for k, v in run["metrics"].items()]
        params = [(k, str(v)[:6000]) for k, v in run["params"].items()]
        tags = [(k, str(v)[:8000]) for k, v in run["tags"].items()]
        new = [[(k, v) for k, v in items if (kind, k) not in checked]
               for kind, items in (("metric", metrics), ("param", params), ("tag", tags))]
        for start in range(0, max(map(len, new)), 100):  # each key once, as MLflow's log_batch checks it (values: types
            _validate_batch_log_data(  # and lengths fixed above)
                [Metric(k, v, end, 0) for k, v in new[0][start:start + 100]],
                [Param(k, v) for k, v in new[1][start:start + 100]],
                [RunTag(k, v) for k, v in new[2][start:start + 100]])
        checked |= {(kind, k) for kind, items in zip(("metric", "param", "tag"), new) for k, _ in items}
        rows[SqlRun].append(dict(
            run_uuid=run_id, name=run["tags"][MLFLOW_RUN_NAME], artifact_uri=append_to_uri_path(
                artifact_location, run_id, store.ARTIFACTS_FOLDER_NAME), experiment_id=int(experiment_id),
            source_type="UNKNOWN", source_name="", entry_point_name="", user_id=run["tags"].get(MLFLOW_USER, "unknown"),
            status=run["status"], start_time=run["start"], end_time=end, deleted_time=None, source_version="",
            lifecycle_stage="active"))
        rows[SqlTag] += [dict(run_uuid=run_id, key=k, value=v) for k, v in tags]
        rows[SqlParam] += [dict(run_uuid=run_id, key=k, value=v) for k, v in params]
        rows[SqlMetric] += _metric_rows(run_id, metrics, end)
    rows[SqlLatestMetric] = rows[SqlMetric]  # one value per key: the latest is the only one
    with store.ManagedSessionMaker(read_only=False) as session:  # the primary, never a read replica
        connection = session.connection()
        for table, values in rows.items():
            if values:
                _insert_many(connection, table.__table__, values)
    return ids


def _insert_many(connection, table, rows: list[dict]) -> None:
    """``connection.execute(insert(table), rows)``, the rows handed to the database driver's ``executemany`` as they are.

    The statement is compiled once for the connection's dialect, and each row
    goes to the driver as a tuple in the statement's order (a dict for a
    driver that names its parameters), not through SQLAlchemy's processing of
    each row's parameters: inserting 6 batches of 330 child runs took 1.22 s
    instead of 1.41–1.45 s.
    Every value here is a str, int, float, bool or None, which the drivers
    take as they are, as SQLAlchemy would pass them. When the statement needs
    parameters the rows do not give (a column with a default of SQLAlchemy's
    own, after an MLflow upgrade), SQLAlchemy inserts the rows itself.
    """
    from sqlalchemy import insert

    statement = insert(table)
    compiled = statement.compile(dialect=connection.dialect, column_keys=list(rows[0]))
    if set(compiled.params) != set(rows[0]):
        connection.execute(statement, rows)
        return
    if compiled.positional:
        rows = [tuple(row[name] for name in compiled.positiontup) for row in rows]
    connection.exec_driver_sql(compiled.string, rows)


def insert_metrics(store, run_id: str, metrics: dict, timestamp: int) -> None:
    """Log ``metrics`` (finite floats, step 0) on the run ``run_id`` of an SQL tracking store in one transaction.

    What :meth:`MlflowClient.log_batch <mlflow.tracking.MlflowClient.log_batch>`
    leaves, for a parent's figure per variant (thousands of metrics): a row
    each in ``metrics`` (the history) and, replacing the run's earlier row of
    the key, in ``latest_metrics`` (a value logged now at step 0 is the
    latest unless an earlier one was at a higher step, which the sweep never
    logs). Each key is validated as ``log_batch`` validates it.
    ``tests/test_sweep_tracking.py`` checks that the run reads back the same
    either way, first logged and logged again.
    """
    from mlflow.entities import Metric
    from mlflow.store.tracking.dbmodels.models import SqlLatestMetric, SqlMetric
    from mlflow.utils.validation import _validate_batch_log_data
    from sqlalchemy import delete

    items = list(metrics.items())
    for start in range(0, len(items), 1000):
        _validate_batch_log_data([Metric(k, v, timestamp, 0) for k, v in items[start:start + 1000]], [], [])
    rows = _metric_rows(run_id, items, timestamp)
    if not rows:
        return
    with store.ManagedSessionMaker(read_only=False) as session:
        latest = SqlLatestMetric.__table__
        for start in range(0, len(items), 500):  # SQLite takes at most 999 variables a statement (older builds)
            keys = [k for k, _ in items[start:start + 500]]
            session.execute(delete(latest).where(latest.c.run_uuid == run_id, latest.c.key.in_(keys)))
        connection = session.connection()
        _insert_many(connection, SqlMetric.__table__, rows)
        _insert_many(connection, latest, rows)


def _metric_rows(run_id: str, items, timestamp: int) -> list[dict]:
    """The rows of MLflow's ``metrics`` (and ``latest_metrics``) tables for ``(key, finite float)`` items at step 0."""
    return [dict(run_uuid=run_id, key=k, value=v, timestamp=timestamp, step=0, is_nan=False) for k, v in items]


def _log_champion_model(uri: str, run_id: str, estimator) -> str:
    """Log ``estimator`` as run ``run_id``'s model in the safe model file; return its model URI (tagged on the run)."""
    import mlflow

    from cvn_sklearn.persist import MODEL_URI_TAGS, _log_model, _model_file

    scrubbed, types = _model_file(estimator, "estimator")
    with _tracking(uri):
        with mlflow.start_run(run_id=run_id):
            model_uri = _log_model(scrubbed, types, "estimator")
            mlflow.set_tag(MODEL_URI_TAGS["estimator"], model_uri)
    return model_uri


def where_lines(config, result) -> list[str]:
    """What the CLI prints about the sweep's MLflow runs: the store, the parent run, the champion, how to open them."""
    if result.parent_run_id is None:
        return ["MLflow: nothing logged (mlflow: false, or --no-mlflow)"]
    from mlflow.tracking import MlflowClient

    uri = store_uri(config)
    tags = MlflowClient(uri).get_run(result.parent_run_id).data.tags
    shown = scrub_uri(uri)
    lines = [f"MLflow: parent run {result.parent_run_id} (one child run per cell) in experiment "
             f"{config.experiment!r} at {shown}"]
    if tags.get(_CHAMPION_NOTE):
        lines.append(tags[_CHAMPION_NOTE])
    elif _CHAMPION_TAG in tags:
        registered = f", registered as {tags[_REGISTERED_TAG]}" if _REGISTERED_TAG in tags else ""
        lines.append(f"champion: {tags[_CHAMPION_TAG]} (cell {tags.get('cvn.champion_cell')}), its model on the parent "
                     f"run{registered}: cvn_sklearn.persist.load_artifact({result.parent_run_id!r}, "
                     f"tracking_uri={shown!r})")
    if uri.startswith(("http://", "https://")):
        lines.append(f"open: {shown}")
    else:
        lines.append(f"open: mlflow ui --backend-store-uri {shown}")
    return lines


def _source_tags() -> dict:
    """MLflow's own source tags (user, source name and type), and the working directory's git commit when it is a checkout."""
    from mlflow.tracking.context.registry import resolve_tags
    from mlflow.utils.mlflow_tags import MLFLOW_GIT_COMMIT, MLFLOW_GIT_DIRTY

    from cvn_sklearn.contracts import code_commit

    tags = scrub_structure({k: v for k, v in resolve_tags({}).items() if k.startswith(("mlflow.user", "mlflow.source."))
                            and k != MLFLOW_GIT_COMMIT})
    commit = code_commit()
    if commit != "unknown":
        tags[MLFLOW_GIT_COMMIT] = commit.removesuffix("+dirty")
        tags[MLFLOW_GIT_DIRTY] = str(commit.endswith("+dirty")).lower()
    return tags


def _variant_params(variant) -> dict:
    """A variant's child-run params: ``model`` and its parameters, scrubbed, nested mappings flattened (``a.b``), lists as JSON."""
    flat = {"model": variant.model}

    def walk(value, key):
        if isinstance(value, dict) and value:
            for name, inner in value.items():
                walk(inner, f"{key}.{name}")
        else:
            flat[_key(key)] = json.dumps(value) if isinstance(value, (list, dict)) else value

    for name, value in scrub_structure(dict(variant.params)).items():
        walk(value, str(name))
    return flat


def _key(name) -> str:
    """``name`` as an MLflow key: characters MLflow refuses in a key become ``_``, at most 250 characters."""
    return "".join(c if c.isalnum() or c in "_-. /:" else "_" for c in str(name))[:250]


def _sweep_id(config) -> str:
    return content_key({"variants": [v.model_dump() for v in config.variants], "symbols": config.symbols,
                        "folds": config.folds.model_dump(), "options": config.training_options(),
                        "costs": _costs(config)})


def _costs(config) -> dict:
    return {symbol: config.symbol_cost(symbol) for symbol in config.symbols}


def _parent_params(config) -> dict:
    """The parent run's params: the config, scrubbed as a structure before anything becomes JSON text.

    ``variants`` (a stacker's base models as ``{"estimator", "params"}``) and
    every other field go through :func:`~cvn_sklearn.scrubbing.scrub_structure`
    first, so a secret-looking name at any depth is masked, and the tracking
    URI and scheduler lose their userinfo.
    """
    variants = scrub_structure([v.model_dump() for v in config.variants])
    params = {"variants": json.dumps(variants), "symbols": json.dumps(scrub_structure(config.symbols)),
              **_flat_options(config), "tracking_uri": config.tracking_uri, "experiment": config.experiment}
    if config.scheduler is not None:
        params["scheduler"] = config.scheduler
    return scrub_structure(params)


def _flat_options(config) -> dict:
    flat = {f"folds.{k}": v for k, v in config.folds.model_dump().items()}
    options = config.training_options()
    options["constraints"] = json.dumps(scrub_structure(options["constraints"]), sort_keys=True)
    costs = json.dumps(_costs(config), sort_keys=True)
    return flat | {k: v for k, v in options.items() if k not in ("val_size", "gap")} | {"costs": costs}


def _parent_run(client, experiment_id, sweep_id):
    runs = client.search_runs([experiment_id], filter_string=f"tags.`{_SWEEP_TAG}` = '{sweep_id}'", max_results=1)
    return runs[0] if runs else None


def _logged_cells(client, experiment_id, parent_id) -> set:
    keys, token = set(), None
    while True:
        page = client.search_runs([experiment_id], filter_string=f"tags.mlflow.parentRunId = '{parent_id}'",
                                  max_results=1000, page_token=token)
        keys |= {run.data.tags.get(_CELL_TAG) for run in page}
        token = page.token
        if not token:
            return keys


def _cell_metrics(record) -> list:
    return [k for k in record if k.startswith(("test_", "rows_")) or k in _CELL_METRICS]


def _finite(value) -> bool:
    import math

    import numpy as np

    return isinstance(value, (int, float, np.number, np.bool_)) and math.isfinite(float(value))


def _now_ms() -> int:
    import time

    return int(time.time() * 1000)


def log_report(config, run_id: str, report) -> None:
    """Attach the sweep's HTML report to its parent run ``run_id``."""
    from mlflow.tracking import MlflowClient

    with _tracking(config.tracking_uri) as uri:
        MlflowClient(uri).log_artifact(run_id, str(report))
