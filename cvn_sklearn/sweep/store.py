"""The sweep's cell store: each finished cell on disk, written atomically as soon as it finishes.

A killed sweep, restarted, reads its finished cells back instead of
recomputing them (see :func:`cvn_sklearn.sweep.plan.plan_cells`). What it reads
it verifies first: a cell file that is truncated, corrupt, holds pickled
objects, fails its checksum or belongs to another key is reported (one
``store_file_rejected`` event naming the file and what is wrong) and treated
as absent, so the cell is computed again and its file replaced.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np

from cvn_sklearn._disk import TEMPORARY_PREFIX, RejectedFile, atomic_file, check_zip, fingerprint, plain
from cvn_sklearn.events import emit

__all__ = ["CellStore", "compact_record"]

_SCALARS = "scalars"
_CHECKSUM = "checksum"
_ARRAYS = {"index": np.int64, "signal": np.int8, "proba": np.float64, "returns": np.float64}
_MEMBERS = {_SCALARS, _CHECKSUM, *_ARRAYS}


class CellStore:
    """Finished cells on disk, one file per cell, written atomically as each cell finishes; verified when read.

    A cell file is ``<folder>/cells/<key>.npz``: its scalar fields as JSON
    (the cell's key among them), the test block's index, buy signal, P(buy)
    and trade returns as arrays, and a SHA-256 checksum of the JSON and of
    every array's dtype, shape and bytes. It is read back with
    ``allow_pickle=False`` (nothing in the store decides which code runs) and
    :meth:`get` trusts it only when it opens, holds exactly these members with
    these dtypes, its checksum matches and its stored key is its file's name.
    Several processes (Dask workers) may write to one store; a file appears
    whole or not at all. A cell computed twice (Dask runs a lost worker's
    cells again) is one file: the second write replaces the first whole.

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
        scalars = json.dumps(record, default=_json_value)
        arrays = {name: np.asarray(values, dtype=_ARRAYS[name])
                  for name, values in (("index", index), ("signal", signal), ("proba", proba), ("returns", returns))}
        content = io.BytesIO()  # built in memory, then one write: the zip writer seeks back to every member's header
        np.savez(content, **{_SCALARS: np.array(scalars), _CHECKSUM: np.array(_checksum(scalars, arrays)), **arrays})
        with atomic_file(self.path(record["key"])) as file:
            file.write(content.getbuffer())

    def get(self, key: str):
        """``(record, arrays)`` of a stored cell, or ``None`` when there is none or its file is rejected.

        A rejected file (unreadable, truncated, pickled objects, missing or
        unexpected members, wrong dtypes, checksum mismatch, another key's
        cell) emits one ``store_file_rejected`` event naming it and the
        reason; the caller then computes the cell again, and :meth:`put`
        replaces the file.
        """
        path = self.path(key)
        try:
            return read_cell(path, key)
        except FileNotFoundError:
            return None
        except RejectedFile as exc:
            emit("store_file_rejected", store="cells", path=str(path), reason=str(exc))
            return None

    def keys(self) -> set[str]:
        """Names (keys) of every cell file in the store, unverified: :meth:`get` verifies.

        The temporary file of a write that never finished (its process killed
        mid-write, e.g. a lost Dask worker) is no cell.
        """
        if not self.folder.is_dir():
            return set()
        return {path.stem for path in self.folder.glob("*.npz") if not path.name.startswith(TEMPORARY_PREFIX)}

    def path(self, key: str) -> Path:
        """The file of the cell ``key``."""
        return self.folder / f"{key}.npz"


def compact_record(record: dict) -> dict:
    """``record`` with each list (reliability bins, θ curves) as a numpy array: a tenth of the memory of a list of floats.

    A sweep keeps every cell's record until its tables are built; at 10,000
    cells, lists of Python floats would hold about 100 MB more.
    """
    return {name: np.asarray(value) if isinstance(value, list) else value for name, value in record.items()}


def read_cell(path: Path, key: str):
    """``(record, arrays)`` of the cell file ``path``, verified to be the cell ``key``.

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    RejectedFile
        For any other reason not to trust it (the message says which).
    """
    check_zip(path)
    try:
        with np.load(path, allow_pickle=False) as stored:
            members = set(stored.files)
            if members != _MEMBERS:
                raise RejectedFile(f"members {sorted(members)}, expected {sorted(_MEMBERS)}")
            scalars, checksum = str(stored[_SCALARS]), str(stored[_CHECKSUM])
            arrays = {name: stored[name] for name in _ARRAYS}
    except (FileNotFoundError, RejectedFile):
        raise
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise RejectedFile("it holds pickled objects (refused, never unpickled)") from None
        raise RejectedFile(f"unreadable ({type(exc).__name__}: {exc})") from None
    except Exception as exc:  # noqa: BLE001 - truncated (EOFError, BadZipFile), not an npz, unreadable: never trusted
        raise RejectedFile(f"unreadable, truncated or not a cell file ({type(exc).__name__}: {exc})") from None
    shapes = {name: (str(array.dtype), array.shape) for name, array in arrays.items()}
    if any(a.dtype != _ARRAYS[n] or a.ndim != 1 for n, a in arrays.items()) or len({len(a) for a in arrays.values()}) != 1:
        raise RejectedFile(f"arrays of unexpected dtypes or lengths: {shapes}")
    if checksum != _checksum(scalars, arrays):
        raise RejectedFile("checksum mismatch (the file was altered or damaged)")
    try:
        record = json.loads(scalars)
    except ValueError as exc:
        raise RejectedFile(f"its record is not JSON ({exc})") from None
    if not isinstance(record, dict) or "status" not in record:
        raise RejectedFile("its record is not a cell record")
    if record.get("key") != key:
        raise RejectedFile("it holds another cell: its stored key is not its file name (copied over another key?)")
    return compact_record(record), arrays


def _checksum(scalars: str, arrays: dict) -> str:
    """The one fingerprint (:func:`cvn_sklearn._disk.fingerprint`: SHA-256) of the record's JSON and each array by name."""
    return fingerprint(scalars, {name: arrays[name] for name in _ARRAYS})


def _json_value(value):
    """What ``json.dumps`` cannot write itself: a numpy scalar's value, else the repr."""
    return plain(value) if isinstance(value, np.generic) else repr(value)
