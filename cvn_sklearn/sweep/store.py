"""The sweep's cell store: each finished cell on disk, written atomically as soon as it finishes.

A killed sweep, restarted, reads its finished cells back instead of
recomputing them (see :func:`cvn_sklearn.sweep.plan.plan_cells`). What it reads
it verifies first: a cell file that is truncated, corrupt, not a cell file,
fails its checksum or belongs to another key is reported (one
``store_file_rejected`` event naming the file and what is wrong) and treated
as absent, so the cell is computed again and its file replaced.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from cvn_sklearn._disk import TEMPORARY_PREFIX, RejectedFile, atomic_file, fingerprint, plain
from cvn_sklearn.events import emit

__all__ = ["ROWS_DTYPE", "CellStore", "cell_rows"]

ROWS_DTYPE = np.dtype([("index", "<i8"), ("signal", "i1"), ("proba", "<f8"), ("returns", "<f8")])
"""The test block's rows of a cell: row number, buy signal (0/1), P(buy) (NaN if the cell failed), trade return."""

_MAGIC = b"cvn_sklearn cell 1\n"
"""How a cell file starts: what it is, and the version of its layout."""

_SUFFIX = ".cell"


class CellStore:
    """Finished cells on disk, one file per cell, written atomically as each cell finishes; verified when read.

    A cell file is ``<folder>/cells/<key>.cell``, plain bytes in this order:
    the line ``cvn_sklearn cell 1`` (what it is, and its layout's version);
    a SHA-256 checksum (64 hex digits) of the record's JSON and of the rows'
    dtype, shape and bytes; the JSON's length in bytes; the record's scalar
    fields as JSON (the cell's key among them); then the test block's rows,
    packed as :data:`ROWS_DTYPE` (:func:`cell_rows`: index, buy signal, P(buy)
    and trade return of each row, 25 bytes a row, little-endian). Nothing in
    it can hold an object: the rows are read with one fixed dtype, the record
    with ``json.loads`` (nothing in the store decides which code runs).
    :meth:`get` trusts a file only when its header is whole, its lengths add
    up, its checksum matches and its stored key is its file's name.
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
    ...     record, rows = store.get("abc")
    >>> record["status"], rows["signal"].tolist()
    ('ok', [1, 0])
    """

    def __init__(self, folder):
        self.folder = Path(folder, "cells")

    def put(self, record: dict, *, index, signal, proba, returns) -> None:
        """Write one cell: ``record`` (JSON-able scalars, with ``"key"``) and its test-block arrays (P(buy) NaN if failed)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        scalars = json.dumps(record, default=_json_value)
        rows = cell_rows(index=index, signal=signal, proba=proba, returns=returns)
        text = scalars.encode()
        header = b"%s%s\n%d\n" % (_MAGIC, _checksum(scalars, rows).encode(), len(text))
        with atomic_file(self.path(record["key"])) as file:
            file.write(header + text + rows.tobytes())

    def get(self, key: str):
        """``(record, rows)`` of a stored cell, or ``None`` when there is none or its file is rejected.

        ``rows`` is the record array of :func:`cell_rows`: ``rows["proba"]``
        is the test block's P(buy), and so on.

        A rejected file (unreadable, truncated, not a cell file, lengths that
        do not add up, checksum mismatch, another key's cell) emits one ``store_file_rejected`` event naming it and the
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
        return {path.stem for path in self.folder.glob(f"*{_SUFFIX}") if not path.name.startswith(TEMPORARY_PREFIX)}

    def path(self, key: str) -> Path:
        """The file of the cell ``key``."""
        return self.folder / f"{key}{_SUFFIX}"


def cell_rows(*, index, signal, proba, returns) -> np.ndarray:
    """The test block's rows of a cell as one record array of :data:`ROWS_DTYPE`, indexed by field name.

    One array per cell, not four: a sweep keeps every cell's rows until its
    tables are built, and the cell file holds one member for them.

    Examples
    --------
    >>> rows = cell_rows(index=[3, 4], signal=[1, 0], proba=[0.7, 0.2], returns=[0.01, -0.02])
    >>> rows["signal"].tolist(), rows["proba"].tolist()
    ([1, 0], [0.7, 0.2])
    """
    columns = {"index": index, "signal": signal, "proba": proba, "returns": returns}
    arrays = {name: np.asarray(values, dtype=ROWS_DTYPE[name]) for name, values in columns.items()}
    lengths = {name: values.shape for name, values in arrays.items()}
    if len(set(lengths.values())) != 1 or arrays["index"].ndim != 1:
        raise ValueError(f"A cell's rows need one index, signal, P(buy) and return per test row; got shapes {lengths}.")
    rows = np.empty(lengths["index"], dtype=ROWS_DTYPE)
    for name, values in arrays.items():
        rows[name] = values
    return rows


def _compact_record(record: dict) -> dict:
    """``record`` with each list (reliability bins, θ curves) as a numpy array: a tenth of the memory of a list of floats.

    A sweep keeps every cell's record until its tables are built; at 10,000
    cells, lists of Python floats would hold about 100 MB more. A record read
    back from its cell file (JSON lists) goes through it; the ``cell_record``
    node builds its curves as arrays in the first place.
    """
    return {name: np.asarray(value) if isinstance(value, list) else value for name, value in record.items()}


def read_cell(path: Path, key: str):
    """``(record, rows)`` of the cell file ``path``, verified to be the cell ``key``.

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    RejectedFile
        For any other reason not to trust it (the message says which).
    """
    with open(path, "rb") as file:  # FileNotFoundError: no such cell
        content = file.read()
    if not content.startswith(_MAGIC):
        raise RejectedFile("not a cell file (it does not start with the line 'cvn_sklearn cell 1')")
    parts = content[len(_MAGIC):].split(b"\n", 2)
    if len(parts) != 3 or len(parts[0]) != 64 or not parts[1].isdigit():
        raise RejectedFile("truncated or damaged header (checksum and record length)")
    checksum, length, rest = parts[0].decode("ascii", "replace"), int(parts[1]), parts[2]
    if len(rest) < length or (len(rest) - length) % ROWS_DTYPE.itemsize:
        raise RejectedFile(f"truncated: {len(rest)} bytes after the header do not hold a {length}-byte record and "
                           f"whole rows of {ROWS_DTYPE.itemsize} bytes")
    try:
        scalars = rest[:length].decode()
    except UnicodeDecodeError:
        raise RejectedFile("its record is not UTF-8 text") from None
    rows = np.frombuffer(rest[length:], dtype=ROWS_DTYPE)
    if checksum != _checksum(scalars, rows):
        raise RejectedFile("checksum mismatch (the file was altered or damaged)")
    try:
        record = json.loads(scalars)
    except ValueError as exc:
        raise RejectedFile(f"its record is not JSON ({exc})") from None
    if not isinstance(record, dict) or "status" not in record:
        raise RejectedFile("its record is not a cell record")
    if record.get("key") != key:
        raise RejectedFile("it holds another cell: its stored key is not its file name (copied over another key?)")
    return _compact_record(record), rows


def _checksum(scalars: str, rows: np.ndarray) -> str:
    """The one fingerprint (:func:`cvn_sklearn._disk.fingerprint`: SHA-256) of the record's JSON and the rows."""
    return fingerprint(scalars, rows)


def _json_value(value):
    """What ``json.dumps`` cannot write itself: a numpy array as a list, a numpy scalar's value, else the repr."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    return plain(value) if isinstance(value, np.generic) else repr(value)
