"""How many threads each fit may use: every training path pins them, the same way.

Boosters and BLAS take every core by default. When fits run side by side (a
sweep's cells on Dask workers, folds or trials next to other work, a
``joblib`` caller) each one taking every core oversubscribes the machine:
oversubscribed OpenMP made one XGBoost fit 35x slower here, and one XGBoost
:func:`~cvn_sklearn.harness.walk_forward` took 25.1 s with default threads
vs 1.1 s pinned on a loaded 2-core machine, with the same predictions.

So :func:`~cvn_sklearn.harness.train_one`,
:func:`~cvn_sklearn.harness.walk_forward`, :func:`~cvn_sklearn.harness.tune`
and the sweep's cells run each fit on ``n_jobs`` threads (1 by default): the
models' own thread parameters (``n_jobs``, ``thread_count``; a stacker's
base models too) are set to it unless the caller set them, and
``threadpoolctl`` caps BLAS and OpenMP for the duration of the run. Pass
``n_jobs=None`` to leave every library its own default. A model fitted
directly under a caller that capped OpenMP (``threadpoolctl``, joblib's
workers, ``OMP_NUM_THREADS``) takes that many threads when its own thread
parameter is left at ``None`` (see :class:`~cvn_sklearn.adapter.Adapter`).

Examples
--------
>>> pinned_params("lightgbm", {"n_estimators": 50}, 1)
{'n_estimators': 50, 'n_jobs': 1}
>>> pinned_params("lightgbm", {"n_jobs": 4}, 1)  # set by the caller: kept
{'n_jobs': 4}
>>> pinned_params("lightgbm", {}, None)
{}
"""

from __future__ import annotations

import functools
from contextlib import contextmanager
from numbers import Integral

from sklearn.base import clone

from cvn_sklearn.adapter import THREAD_PARAMETERS
from cvn_sklearn.registry import registry

__all__ = ["check_n_jobs", "limited_threads", "pinned_params"]



def check_n_jobs(n_jobs):
    """``n_jobs`` if it is ``None`` or a positive integer; else a ``ValueError`` saying what to pass."""
    if n_jobs is None or (isinstance(n_jobs, Integral) and not isinstance(n_jobs, bool) and n_jobs >= 1):
        return n_jobs
    raise ValueError(
        f"n_jobs must be a positive integer (threads per fit) or None (each library's default), got {n_jobs!r}."
    )


def pinned_params(model_name: str, params: dict, n_jobs: int | None) -> dict:
    """``params`` of the registry entry ``model_name`` with every fit's thread parameters set to ``n_jobs``.

    A parameter the caller set is kept. For an ensemble, each base model is
    pinned: a registry name becomes ``(name, pinned estimator)``, and a given
    estimator whose thread parameter is left at ``None`` gets a pinned clone.
    ``n_jobs=None`` returns ``params`` unchanged.
    """
    params = dict(params)
    if n_jobs is None:
        return params
    cls = registry[model_name]
    if registry.entry(model_name).kind == "ensemble":
        bases = params.get("base_models") or list(cls._cvn_base_models)
        params["base_models"] = [_pinned_base(base, n_jobs) for base in bases]
        return params
    defaults = cls().get_params(deep=False)
    return params | {name: n_jobs for name in THREAD_PARAMETERS if name in defaults and name not in params}


def _pinned_base(base, n_jobs):
    """A stacker's base model as ``(name, estimator)`` with its fits on ``n_jobs`` threads."""
    if isinstance(base, str):
        return base, registry[base](**pinned_params(base, {}, n_jobs))
    if isinstance(base, tuple) and len(base) == 2 and hasattr(base[1], "get_params"):
        name, estimator = base
        defaults = estimator.get_params(deep=False)
        unset = {key: n_jobs for key in THREAD_PARAMETERS if key in defaults and defaults[key] is None}
        return (name, clone(estimator).set_params(**unset)) if unset else base
    return base


@contextmanager
def limited_threads(n_jobs: int | None):
    """Cap BLAS and OpenMP at ``n_jobs`` threads in this process for the block (``None``: no cap).

    The thread pools are found once (``threadpoolctl`` scans the loaded
    libraries: 13 ms here) and again only after new modules were imported,
    which is when a new pool can appear; the cap itself costs well under a
    millisecond.
    """
    if n_jobs is None:
        yield
        return
    with _controller().limit(limits=n_jobs):
        yield


def _controller():
    """The thread pools of this process, scanned again only after new modules were imported."""
    import sys

    return _scan(len(sys.modules))


@functools.lru_cache(maxsize=1)
def _scan(n_modules: int):
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()
