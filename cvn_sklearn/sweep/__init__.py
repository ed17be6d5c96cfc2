"""The screening sweep: variants x symbols x walk-forward folds, ranked by out-of-sample trading results.

One concept per module:

* :mod:`~cvn_sklearn.sweep.config`: :class:`ScreenConfig` (pydantic), read from YAML content; :class:`ConfigError`, every problem of a config;
* :mod:`~cvn_sklearn.sweep.plan`: the cells, their keys, what is stored and what to compute;
* :mod:`~cvn_sklearn.sweep.store`: the cell store, one atomic file per finished cell;
* :mod:`~cvn_sklearn.sweep.dag`: the Hamilton DAG that runs the cells;
* :mod:`~cvn_sklearn.sweep.cluster`: where the cells run on Dask;
* :mod:`~cvn_sklearn.sweep.tables`: :class:`ScreenResult`: cells, per-variant table, ranking, PBO;
* :mod:`~cvn_sklearn.sweep.report`: the self-contained HTML report;
* :mod:`~cvn_sklearn.sweep.tracking`: the parent and child runs in MLflow, written as the cells complete;
* :mod:`~cvn_sklearn.sweep.champion`: the champion variant (best DSR) and the fitted model that stands for it;
* :mod:`~cvn_sklearn.sweep.progress`: the progress bar (cost-weighted ETA) and, for the CLI, library noise kept off stderr;
* :mod:`~cvn_sklearn.sweep.template`: the commented ``sweep.yaml`` of ``cvn-sklearn init``, and the configuration reference;
* :mod:`~cvn_sklearn.sweep.run`: :func:`screen`, the entry point.
"""

from cvn_sklearn.sweep.config import ConfigError, ScreenConfig, read_config
from cvn_sklearn.sweep.plan import SymbolData
from cvn_sklearn.sweep.progress import Progress
from cvn_sklearn.sweep.run import screen
from cvn_sklearn.sweep.tables import ScreenResult

__all__ = ["ConfigError", "Progress", "ScreenConfig", "ScreenResult", "SymbolData", "read_config", "screen"]
