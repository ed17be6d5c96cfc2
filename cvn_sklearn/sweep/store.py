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

from cvn_sklearn._disk import TEMPORARY_PREFIX, RejectedFile, fingerprint, plain, write_atomically
from cvn_sklearn.events import emit

__all__ = ["ROWS_DTYPE", "CellStore", "cell_rows"]

ROWS_DTYPE = np.dtype([("index", "<i8"), ("signal", "i1"), ("proba", "<f8"), ("returns", "<f8")])
"""The test block's rows of a cell: row number, buy signal (0/1), P(buy) (NaN if the cell failed), trade return."""

_MAGIC = b"cvn_sklearn cell 2\n"
"""How a cell file starts: what it is, and the version of its layout."""

_SUFFIX = ".cell"

_ARRAY_DTYPES = {"f": "<f8", "i": "<i8"}
"""How a record's array is stored, by its dtype's kind: every float as ``<f8``, every signed integer as ``<i8``."""


class CellStore:
    """Finished cells on disk, one file per cell, written atomically as each cell finishes; verified when read.

    A cell file is ``<folder>/cells/<key>.cell``, plain bytes in this order:
    the line ``cvn_sklearn cell 2`` (what it is, and its layout's version);
    a SHA-256 checksum (64 hex digits) of everything after the header; the
    length in bytes of the JSON that follows; that JSON: the record's scalar
    fields (the cell's key among them; its arrays' fields ``null``) and the
    list of its arrays (the reliability bins and θ curves: name, ``"<f8"`` or
    ``"<i8"``, length);
    those arrays' bytes, in that order; then the test block's rows, packed as
    :data:`ROWS_DTYPE` (:func:`cell_rows`: index, buy signal, P(buy) and trade
    return of each row, 25 bytes a row, little-endian). The arrays are bytes,
    not JSON lists: writing a float as text costs about a microsecond, and a
    cell has hundreds of them. Nothing in the file can hold an object: the
    arrays and rows are read with fixed dtypes, the record with
    ``json.loads`` (nothing in the store decides which code runs).
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
        """Write one cell: ``record`` (scalars and 1-d numeric arrays, with ``"key"``) and its test-block rows (P(buy) NaN if failed)."""
        arrays = {name: value for name, value in record.items() if isinstance(value, np.ndarray)}
        scalars = {name: None if name in arrays else value for name, value in record.items()}  # the fields' order kept
        stored = [_stored_array(name, value) for name, value in arrays.items()]
        layout = [[name, values.dtype.str, len(values)] for name, values in stored]
        text = json.dumps({"record": scalars, "arrays": layout}, default=_json_value).encode()
        data = b"".join([text, *(values.tobytes() for _, values in stored),
                         cell_rows(index=index, signal=signal, proba=proba, returns=returns).tobytes()])
        header = b"%s%s\n%d\n" % (_MAGIC, _checksum(len(text), data).encode(), len(text))
        write_atomically(self.path(record["key"]), header + data)

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


def read_cell(path: Path, key: str):
    """``(record, rows)`` of the cell file ``path``, verified to be the cell ``key``.

    The record's arrays and the rows are read-only views of the file's bytes.

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
        raise RejectedFile("not a cell file (it does not start with the line 'cvn_sklearn cell 2')")
    parts = content[len(_MAGIC):].split(b"\n", 2)
    if len(parts) != 3 or len(parts[0]) != 64 or not parts[1].isdigit():
        raise RejectedFile("truncated or damaged header (checksum and record length)")
    checksum, length, data = parts[0].decode("ascii", "replace"), int(parts[1]), parts[2]
    if checksum != _checksum(length, data):
        raise RejectedFile("checksum mismatch (the file was altered, damaged or truncated)")
    try:
        stored = json.loads(data[:length].decode())
    except ValueError as exc:  # UnicodeDecodeError included
        raise RejectedFile(f"its record is not JSON text ({exc})") from None
    record, layout = (stored.get("record"), stored.get("arrays")) if isinstance(stored, dict) else (None, None)
    if not isinstance(record, dict) or "status" not in record or not isinstance(layout, list):
        raise RejectedFile("its record is not a cell record")
    if record.get("key") != key:
        raise RejectedFile("it holds another cell: its stored key is not its file name (copied over another key?)")
    for entry in layout:  # each array's field is in the record and null
        if not (isinstance(entry, list) and len(entry) == 3 and isinstance(entry[0], str)
                and entry[0] in record and record[entry[0]] is None and entry[1] in _ARRAY_DTYPES.values()
                and type(entry[2]) is int and entry[2] >= 0):
            raise RejectedFile(f"damaged list of arrays (entry {entry!r})")
    names = [name for name, _, _ in layout]
    if len(set(names)) != len(names):
        raise RejectedFile(f"damaged list of arrays (a field named twice: {names})")
    rows_start = length + 8 * sum(size for _, _, size in layout)  # every stored array is 8 bytes an item
    if rows_start > len(data) or (len(data) - rows_start) % ROWS_DTYPE.itemsize:
        raise RejectedFile(f"lengths do not add up: {len(data) - length} bytes after the record do not hold its "
                           f"arrays and whole rows of {ROWS_DTYPE.itemsize} bytes")
    start = length
    for name, dtype, size in layout:
        record[name] = np.frombuffer(data, dtype=dtype, count=size, offset=start)
        start += 8 * size
    return record, np.frombuffer(data, dtype=ROWS_DTYPE, offset=rows_start)


def _stored_array(name: str, value: np.ndarray) -> tuple[str, np.ndarray]:
    """``(name, value)`` as the cell file stores it: 1-d, ``<f8`` or ``<i8`` (:data:`_ARRAY_DTYPES`)."""
    if value.ndim != 1 or value.dtype.kind not in _ARRAY_DTYPES:
        raise TypeError(f"A cell record's array {name!r} must be 1-d, of floats or signed integers; got {value.dtype} of shape "
                        f"{value.shape}.")
    return name, np.ascontiguousarray(value, dtype=_ARRAY_DTYPES[value.dtype.kind])


def _checksum(length: int, data: bytes) -> str:
    """The fingerprint (:func:`cvn_sklearn._disk.fingerprint`: SHA-256) of what follows a cell file's checksum.

    The record's length, and the bytes of its JSON, its arrays and the rows.
    """
    return fingerprint(length, np.frombuffer(data, dtype=np.uint8))


def _json_value(value):
    """What ``json.dumps`` cannot write itself: a numpy scalar's value, else the repr."""
    return plain(value) if isinstance(value, np.generic) else repr(value)
