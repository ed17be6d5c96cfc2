"""The sweep in MLflow: one parent run per sweep, one child run per cell, written by the driver only.

A sweep run again reuses its parent run (found by ``cvn.sweep_id``) and adds
only the cells not logged yet. Everything logged is scrubbed of secrets first
(:mod:`cvn_sklearn.scrubbing`).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from cvn_sklearn._disk import content_key
from cvn_sklearn.persist import _experiment_id, _store_lock, _tracking
from cvn_sklearn.scrubbing import scrub_structure

__all__ = ["log_report", "log_screen"]

_SWEEP_TAG = "cvn.sweep_id"
_CELL_TAG = "cvn.cell_key"
_CELL_METRICS = ("threshold", "training_time_sec", "seconds", "cost", "n_trades", "n_signals", "win_rate", "avg_return",
                 "avg_return_gross", "sortino_ann", "sortino_ann_gross", "sharpe_ann", "sharpe_ann_gross",
                 "max_drawdown", "max_drawdown_gross", "n_bars", "no_edge")


def log_screen(result, config):
    """Log a screening sweep to MLflow: one parent run, one child run per cell; return the result with its run id.

    Written from the calling process only (never from workers: a SQLite store
    has one writer), through :class:`mlflow.tracking.MlflowClient`, one
    ``log_batch`` per run. The parent run (tag ``cvn.sweep_id``: a hash of the
    variants, symbols, folds and training options) holds the config as params
    (scrubbed as a structure, :func:`~cvn_sklearn.scrubbing.scrub_structure`,
    before it becomes JSON text), the PBO as a metric, and the ranking,
    per-variant and per-cell tables as CSV files. Each child run holds a
    cell's test metrics and θ, tags ``variant``, ``symbol``, ``fold``,
    ``status`` (``FAILED`` runs for failed cells, with the error as a tag,
    scrubbed at its source, the ``cell_record`` node of :mod:`cvn_sklearn.sweep.dag`) and
    ``cvn.cell_key``; every tag but the ids is scrubbed again. Running the sweep again reuses the parent run and adds
    only the cells not logged yet.

    Parameters
    ----------
    result : ScreenResult
    config : ScreenConfig

    Returns
    -------
    ScreenResult
        ``result`` with ``parent_run_id`` set.
    """
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.tracking import MlflowClient

    with _tracking(config.tracking_uri) as uri:
        with _store_lock(uri):
            experiment_id = _experiment_id(config.experiment, None)
    client = MlflowClient(uri)
    sweep_id = _sweep_id(config)
    parent = _parent_run(client, experiment_id, sweep_id)
    if parent is None:
        parent = client.create_run(experiment_id, tags={_SWEEP_TAG: sweep_id, "mlflow.runName": f"screen-{sweep_id[:8]}"})
        client.log_batch(parent.info.run_id, params=[Param(k, str(v)[:6000]) for k, v in _parent_params(config).items()])
    run_id = parent.info.run_id
    logged = _logged_cells(client, experiment_id, run_id)
    now = _now_ms()
    for record in result.cells.to_dict("records"):
        if record["key"] in logged:
            continue
        tags = {"variant": record["variant"], "symbol": record["symbol"], "fold": str(record["fold"]),
                "status": record["status"], "model": record["model"],
                "mlflow.runName": f"{record['variant']}|{record['symbol']}|{record['fold']}"}
        if record["status"] != "ok":
            tags["error"] = f"{record['error_type']}: {record['error']}"[:5000]
        tags = {**scrub_structure(tags), "mlflow.parentRunId": run_id, _CELL_TAG: record["key"]}  # ids: not scrubbed
        child = client.create_run(experiment_id, tags=tags)
        metrics = [Metric(k, float(record[k]), now, 0) for k in _cell_metrics(record) if _finite(record.get(k))]
        client.log_batch(child.info.run_id, metrics=metrics)
        client.set_terminated(child.info.run_id, "FINISHED" if record["status"] == "ok" else "FAILED")
    pbo = [Metric("pbo", float(result.pbo), now, 0)] if _finite(result.pbo) else []
    client.log_batch(run_id, metrics=pbo, tags=[RunTag("n_cells", str(len(result.cells)))])
    for name in ("ranking", "by_variant", "cells"):
        client.log_artifact(run_id, str(Path(result.folder, f"{name}.csv")), "tables")
    client.set_terminated(run_id, "FINISHED")
    return replace(result, parent_run_id=run_id)


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
