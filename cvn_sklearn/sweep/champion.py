"""The sweep's champion: the variant with the best deflated Sharpe ratio, and the one fitted model that stands for it.

A variant is a recipe run on many (symbol, fold) cells, and the cells keep no
estimator (the cell store holds scalars and the test block's arrays). The
champion's model is its **cell on the last fold with the highest net
annualised Sharpe ratio** (ties: the config's symbol order), trained again in
the driver exactly as that cell was (the same rows, parameters, calibration,
θ, constraints and cost: the :mod:`~cvn_sklearn.dags.fixed_params` DAG on the
cell's own inputs, a stacker reading the sweep's OOS store), so its probabilities on
the test block are the ones the cell stored. The last fold's training window
is the most recent data any cell was trained on.
"""

from __future__ import annotations

import math
from typing import NamedTuple

__all__ = ["Champion", "champion_cell", "champion_variant", "refit_champion"]


class Champion(NamedTuple):
    """The champion variant and its chosen cell (``cell`` is a :class:`~cvn_sklearn.sweep.plan.Cell`)."""

    variant: str
    dsr: float
    cell: object


def champion_variant(ranking) -> tuple[str, float] | None:
    """``(name, dsr)`` of the ranked variant with the highest finite DSR, or ``None`` when no variant has one.

    Examples
    --------
    >>> import pandas as pd
    >>> ranking = pd.DataFrame({"dsr": [float("nan"), 0.7, 0.9]}, index=["a", "b", "c"])
    >>> champion_variant(ranking)
    ('c', 0.9)
    >>> champion_variant(ranking.assign(dsr=float("nan"))) is None
    True
    """
    if "dsr" not in ranking:
        return None
    dsr = ranking["dsr"].astype(float)
    dsr = dsr[dsr.map(math.isfinite)]
    if dsr.empty:
        return None
    name = dsr.idxmax()
    return str(name), float(dsr[name])


def champion_cell(result, plan):
    """The :class:`Champion` of a sweep (see the module docstring), or ``None`` when no variant has a DSR.

    Parameters
    ----------
    result : ScreenResult
    plan : Plan
        The sweep's plan (its cells, with their folds).

    Returns
    -------
    Champion or None
    """
    best = champion_variant(result.ranking)
    if best is None:
        return None
    name, dsr = best
    cells = result.cells
    mine = cells[(cells["variant"] == name) & (cells["status"] == "ok")]
    last = mine[mine["fold"] == mine["fold"].max()]
    sharpe = last["sharpe_ann"].astype(float).fillna(-math.inf) if "sharpe_ann" in last else None
    key = last["key"].iloc[0] if sharpe is None else last.loc[sharpe.idxmax(), "key"]  # idxmax: the first of ties
    cell = next(cell for cell in plan.cells if cell.key == key)
    return Champion(name, dsr, cell)


def refit_champion(champion: Champion, config, plan):
    """The champion cell's :class:`~cvn_sklearn.contracts.TrainedArtifact`, trained again from the cell's own inputs.

    The :mod:`~cvn_sklearn.dags.fixed_params` DAG on exactly what the sweep's
    ``cell_artifact`` sub-DAG received (:mod:`cvn_sklearn.sweep.dag`'s
    ``cell_*`` nodes), on one thread.

    Parameters
    ----------
    champion : Champion
    config : ScreenConfig
    plan : Plan

    Returns
    -------
    TrainedArtifact
    """
    from cvn_sklearn.dags import train_artifact
    from cvn_sklearn.sweep.dag import (cell_constraints, cell_context, cell_cusum, cell_datasets, cell_hpo_params,
                                       cell_model_name)
    from cvn_sklearn.threads import limited_threads

    cell = champion.cell._replace(data=plan.data[champion.cell.symbol])
    inputs = {"model_name": cell_model_name(cell), "datasets": cell_datasets(cell),
              "hpo_params": cell_hpo_params(cell, str(plan.oos_folder)), "calibration": config.calibration,
              "objective": config.objective, "constraints": cell_constraints(cell, dict(config.constraints)),
              "pos_label": config.pos_label, "event_context": cell_context(cell), "cusum_metadata": cell_cusum(cell)}
    with limited_threads(1):  # as the cell ran
        return train_artifact(inputs)
