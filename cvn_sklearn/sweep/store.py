"""The sweep's cell store: each finished cell on disk, written atomically as soon as it finishes.

A killed sweep, restarted, reads its finished cells back instead of
recomputing them (see :func:`cvn_sklearn.sweep.plan.plan_cells`).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from cvn_sklearn._disk import atomic_file, plain

__all__ = ["CellStore"]

_SCALARS = "scalars"
_ARRAYS = ("index", "signal", "proba", "returns")


class CellStore:
    """Finished cells on disk, one file per cell, written atomically as each cell finishes.

    A cell file is ``<folder>/cells/<key>.npz``: its scalar fields as JSON and
    the test block's index, buy signal and trade returns as arrays, read back
    with ``allow_pickle=False`` (nothing in the store decides which code runs).
    Several processes (Dask workers) may write to one store; a file appears
    whole or not at all.

    Parameters
    ----------
    folder : str or Path
        The sweep's folder.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     store = CellStore(folder)
    ...     store.put({"key": "abc", "status": "ok"}, index=[0, 1], signal=[1, 0], proba=[0.7, 0.2],
    ...               returns=[0.01, -0.02])
    ...     record, arrays = store.get("abc")
    >>> record["status"], arrays["signal"].tolist()
    ('ok', [1, 0])
    """

    def __init__(self, folder):
        self.folder = Path(folder, "cells")

    def put(self, record: dict, *, index, signal, proba, returns) -> None:
        """Write one cell: ``record`` (JSON-able scalars, with ``"key"``) and its test-block arrays (P(buy) NaN if failed)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        arrays = {
            _SCALARS: np.array(json.dumps(record, default=_json_value)),
            "index": np.asarray(index, dtype=np.int64),
            "signal": np.asarray(signal, dtype=np.int8),
            "proba": np.asarray(proba, dtype=np.float64),
            "returns": np.asarray(returns, dtype=np.float64),
        }
        with atomic_file(self._path(record["key"])) as file:
            np.savez(file, **arrays)

    def get(self, key: str):
        """``(record, arrays)`` of a stored cell, or ``None``."""
        path = self._path(key)
        if not path.is_file():
            return None
        with np.load(path, allow_pickle=False) as stored:
            return json.loads(str(stored[_SCALARS])), {name: stored[name] for name in _ARRAYS}

    def keys(self) -> set[str]:
        """Keys of every stored cell."""
        return {path.stem for path in self.folder.glob("*.npz")} if self.folder.is_dir() else set()

    def _path(self, key: str) -> Path:
        return self.folder / f"{key}.npz"


def _json_value(value):
    """What ``json.dumps`` cannot write itself: a numpy scalar's value, else the repr."""
    return plain(value) if isinstance(value, np.generic) else repr(value)
