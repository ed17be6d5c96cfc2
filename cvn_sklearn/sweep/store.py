"""The sweep's cell store: each finished cell on disk, appended whole when it finishes (a few quick ones in one append).

A killed sweep, restarted, reads its finished cells back instead of
recomputing them (see :func:`cvn_sklearn.sweep.plan.plan_cells`). What it reads
it verifies first: a cell that is torn, corrupt, fails its checksum or holds
another key is reported (one ``store_file_rejected`` event naming its segment
file and what is wrong) and treated as absent, so the cell is computed again
and written anew.
"""

from __future__ import annotations

import json
import mmap
import os
import re
from collections.abc import Iterable
from pathlib import Path
from time import time_ns
from typing import NamedTuple

import numpy as np

from cvn_sklearn._disk import RejectedFile, append_whole, checksum, plain
from cvn_sklearn.events import SKIPPED, emit

__all__ = ["ROWS_DTYPE", "CellStore", "cell_rows"]

ROWS_DTYPE = np.dtype([("index", "<i8"), ("signal", "i1"), ("proba", "<f8"), ("returns", "<f8")])
"""The test block's rows of a cell: row number, buy signal (0/1), P(buy) (NaN if the cell failed), trade return."""

_MAGIC = b"cvn_sklearn cell 4 "
"""How a cell starts in its segment: what it is, and the version of its layout."""

_SUFFIX = ".cells"

_KEY = re.compile(r"[0-9A-Za-z_.-]{1,128}")
"""What a cell's key may be (the sweep's are 32 hex digits): it is a field of the cell's header line."""

_HEADER = re.compile(re.escape(_MAGIC) + b"(" + _KEY.pattern.encode() + rb") ([0-9]{1,12}) ([0-9]{1,12}) ([0-9]{1,20}) "
                     rb"([0-9a-f]{64})\n")
"""A cell's header line: the magic, then its key, record length, body length, time written (ns) and checksum."""
_LONGEST_HEADER = len(_MAGIC) + 128 + 13 + 13 + 21 + 65 + 1

_ARRAY_DTYPES = {"f": "<f8", "i": "<i8"}
"""How a record's array is stored, by its dtype's kind: every float as ``<f8``, every signed integer as ``<i8``."""

_SEGMENTS: dict = {}
"""The segment each process appends to, per store folder: ``(process id, folder) -> its path``."""


class _Frame(NamedTuple):
    """Where a cell is in its segment, as its header line says, and why not to trust it (``None``: not known yet)."""

    path: Path
    start: int
    header: int
    record: int
    body: int
    written: int
    checksum: str
    damage: str | None


class CellStore:
    """Finished cells on disk: each process appends each cell it finishes, whole, to a file of its own; verified when read.

    The store is the folder ``<folder>/cells``. Each process that writes to
    it (the sweep's own, or each Dask worker) appends to one segment file of
    its own, ``<process id>-<random>.cells``: no file is created per cell (on
    a busy disk, creating a file cost a tenth to half a millisecond, a cell of
    a tiny sweep forty). A cell is a header line, ``cvn_sklearn cell 4``
    (what it is, and its layout's version) then its key, the length in bytes
    of its record's JSON, the length of everything after the line, when it
    was written (nanoseconds since the epoch) and a SHA-256 checksum of all
    of these and of what follows: the record's JSON (its scalar fields, the
    key among them, its arrays' fields ``null``; and the list of its arrays,
    the reliability bins and θ curves: name, ``"<f8"`` or ``"<i8"``, length),
    those arrays' bytes in that order, then the test block's rows packed as
    :data:`ROWS_DTYPE` (:func:`cell_rows`: index, buy signal, P(buy) and trade
    return of each row, 25 bytes a row, little-endian). Nothing in a segment
    can hold an object: the arrays and rows are read with fixed dtypes, the
    record with ``json.loads`` (nothing in the store decides which code runs).

    :meth:`get` trusts a cell only when it is whole (it ends where its
    header says, within the file and before the next cell's header), its
    lengths add up, its checksum matches and its record's key is its
    header's. A cell stored more than
    once (computed again after a failure with ``retry_failed``, or twice
    because Dask ran a lost worker's cells again) is read from its latest
    whole copy. A process killed mid-append leaves a torn cell at the end of
    its segment: the remains of a write that never finished, ignored when
    its key has a whole copy, else rejected when read.
    Bytes that are not a cell (damage where no header can be read) are
    skipped up to the next cell's header and reported once per reading.

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
        self._frames: dict[str, _Frame] | None = None
        self._reported: set = set()

    def put(self, record: dict, *, index, signal, proba, returns) -> None:
        """Append one cell: ``record`` (scalars and 1-d numeric arrays, with ``"key"``) and its test-block rows (P(buy) NaN if failed)."""
        self.put_rows(record, cell_rows(index=index, signal=signal, proba=proba, returns=returns))

    def put_rows(self, record: dict, rows: np.ndarray) -> None:
        """:meth:`put` with the rows packed already: one array of :data:`ROWS_DTYPE` (:func:`cell_rows`).

        What the sweep's cells give (each packs its rows once, for the store
        and the driver alike).
        """
        self.put_many([(record, rows)])

    def put_many(self, cells: Iterable[tuple[dict, np.ndarray]]) -> None:
        """Append several cells, each ``(record, rows)`` as :meth:`put_rows` takes them, in one write.

        Each cell is laid out, checksummed and read back exactly as if put
        alone; one append (one ``writev``) writes them all. Every cell is
        checked before any is written: a wrong one raises and writes none.
        The sweep writes the cells that a local run finishes in quick
        succession this way (``CellRecorder`` of :mod:`cvn_sklearn.sweep.dag`).

        Raises
        ------
        TypeError
            If a cell's rows are not a 1-d array of :data:`ROWS_DTYPE`, or one
            of its record's arrays is not 1-d numbers.
        ValueError
            If a record's key is not 1 to 128 letters, digits, ``_``, ``.`` or ``-``.

        Examples
        --------
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     store = CellStore(folder)
        ...     rows = cell_rows(index=[0], signal=[1], proba=[0.7], returns=[0.01])
        ...     store.put_many([({"key": "a", "status": "ok"}, rows), ({"key": "b", "status": "failed"}, rows)])
        ...     sorted(store.keys()), store.get("b")[0]["status"]
        (['a', 'b'], 'failed')
        """
        parts = [part for record, rows in cells for part in _encoded(record, rows)]
        if not parts:
            return
        segment = self._segment()
        try:
            append_whole(segment, parts)
        except BaseException:
            _SEGMENTS.pop((os.getpid(), self.folder), None)  # it may end in a torn cell: later cells go to a new one
            raise

    def get(self, key: str):
        """``(record, rows)`` of a stored cell (its latest copy), or ``None`` when there is none or it is rejected.

        ``rows`` is the record array of :func:`cell_rows`: ``rows["proba"]``
        is the test block's P(buy), and so on.

        A rejected cell (torn, not a cell, lengths that do not add up,
        checksum mismatch, another key's cell) emits one
        ``store_file_rejected`` event naming its segment and the reason; the
        caller then computes the cell again, and :meth:`put` appends it anew.
        """
        frame = self._frame(key)
        if frame is None:
            return None
        try:
            return _read_cell(frame, key)
        except FileNotFoundError:
            return None
        except RejectedFile as exc:
            emit("store_file_rejected", store="cells", path=str(frame.path), reason=f"{exc} (the cell at byte {frame.start})")
            return None

    def keys(self) -> set[str]:
        """Keys of every cell in the store, read from the segments' header lines, unverified: :meth:`get` verifies."""
        return set(self._scan())

    def path(self, key: str) -> Path | None:
        """The segment holding the latest copy of the cell ``key``, or ``None``."""
        frame = self._frame(key)
        return None if frame is None else frame.path

    def written(self, key: str) -> int | None:
        """When the latest copy of the cell ``key`` was written, in milliseconds since the epoch, or ``None``."""
        frame = self._frame(key)
        return None if frame is None else frame.written // 1_000_000

    def _frame(self, key: str) -> _Frame | None:
        """The latest copy of ``key`` as last read; the segments read again if it is not there (another process may have added it)."""
        frame = None if self._frames is None else self._frames.get(key)
        return frame if frame is not None else self._scan().get(key)

    def _segment(self) -> Path:
        """This process's segment in this store (its name chosen on first use)."""
        segment = _SEGMENTS.get((os.getpid(), self.folder))
        if segment is None:
            name = f"{os.getpid()}-{os.urandom(8).hex()}{_SUFFIX}"
            segment = _SEGMENTS.setdefault((os.getpid(), self.folder), self.folder / name)
        return segment

    def _scan(self) -> dict[str, _Frame]:
        """Each key's latest whole copy (else its latest copy), from every segment's header lines.

        The bodies are verified by :meth:`get`. A copy torn by a process
        stopped mid-append, when the key has a whole one, is the remains of a
        write that never finished, like an atomic write's temporary file.
        """
        latest: dict[str, _Frame] = {}
        segments = sorted(self.folder.glob(f"*{_SUFFIX}")) if self.folder.is_dir() else []
        for path in segments:
            for key, frame in _frames_of(path, self._report):
                known = latest.get(key)
                if known is None or (frame.damage is None, frame.written) >= (known.damage is None, known.written):
                    latest[key] = frame
        self._frames = latest
        return latest

    def _report(self, path: Path, start: int, reason: str) -> None:
        """One ``store_file_rejected`` event per store and place, for bytes that are not a cell or a segment not read."""
        if (path, start) not in self._reported:
            self._reported.add((path, start))
            emit("store_file_rejected", store="cells", path=str(path), reason=reason)


def _frames_of(path: Path, report):
    """``(key, _Frame)`` of each cell in the segment ``path``, in order; ``report(path, start, reason)`` for bytes that are none.

    Reading goes from each cell to the end its header gives. A cell that
    runs past the file's end (torn by a stopped process), or over the next
    cell's header (its length damaged), is kept with its damage, for
    :meth:`CellStore.get` to reject, and reading goes on at the next header.
    Anything else wrong with a cell (a length too short among them) fails
    its checksum when read.
    """
    try:
        with open(path, "rb") as file:
            size = os.fstat(file.fileno()).st_size
            if size == 0:
                return
            content = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
    except FileNotFoundError:  # removed meanwhile
        return
    except OSError as exc:  # unreadable: its cells are computed again, and it is said why
        report(path, 0, f"the segment could not be read ({type(exc).__name__}: {exc}); its cells are absent")
        return
    with content:
        position = 0
        while position < size:
            header = _HEADER.match(content[position:position + _LONGEST_HEADER])
            if header is None:
                following = content.find(_MAGIC, position + 1)
                following = size if following < 0 else following
                report(path, position, f"bytes {position} to {following} are not a cell (damaged, or not a cell segment)"
                                       f"{SKIPPED}")
                position = following
                continue
            key, record, body, written, checksum = header.groups()
            end, damage, following = position + header.end() + int(body), None, None
            if end > size:
                damage = "torn: the segment ends inside it (its writer stopped mid-write?)"
                following = content.find(_MAGIC, position + 1)
            elif end < size and content[end:end + len(_MAGIC)] != _MAGIC:
                # a header starting inside it: its length, too long, would hide the cells after it
                inside = content.find(_MAGIC, position + header.end(), end + len(_MAGIC) - 1)
                if inside >= 0:
                    damage, following = "its length runs over the next cell (damaged)", inside
            yield key.decode(), _Frame(path, position, header.end(), int(record), int(body), int(written),
                                       checksum.decode(), damage)
            position = end if following is None else size if following < 0 else following


def cell_rows(*, index, signal, proba, returns) -> np.ndarray:
    """The test block's rows of a cell as one record array of :data:`ROWS_DTYPE`, indexed by field name.

    One array per cell, not four: a sweep keeps every cell's rows until its
    tables are built, and the store holds one run of bytes for them.

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


def _encoded(record: dict, rows: np.ndarray) -> tuple[bytes, bytes, bytes]:
    """A cell as its segment holds it: its header line, its record's JSON, and its arrays and rows (see :class:`CellStore`)."""
    if not isinstance(rows, np.ndarray) or rows.dtype != ROWS_DTYPE or rows.ndim != 1:
        raise TypeError(f"A cell's rows must be a 1-d array of ROWS_DTYPE (see cell_rows); got {type(rows).__name__} "
                        f"of dtype {getattr(rows, 'dtype', None)}.")
    key = record["key"]
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise ValueError(f"A cell's key must be 1 to 128 letters, digits, '_', '.' or '-'; got {key!r}.")
    scalars, layout, arrays = {}, [], []  # the fields' order kept; each array's field null in the record
    for name, value in record.items():
        if isinstance(value, np.ndarray):
            stored = _stored_array(name, value)
            scalars[name] = None
            layout.append([name, stored.dtype.str, len(stored)])
            arrays.append(stored)
        else:
            scalars[name] = value
    text = json.dumps({"record": scalars, "arrays": layout}, default=_json_value).encode()
    arrays.append(np.ascontiguousarray(rows))
    data = b"".join(arrays)  # a few KB: one copy costs less than handling each small array on its own
    length = len(text) + len(data)
    written = time_ns()  # when it was written: its latest copy wins
    digest = _checksum(key, len(text), length, written, text, data)
    return b"%s%s %d %d %d %s\n" % (_MAGIC, key.encode(), len(text), length, written, digest.encode()), text, data


def _read_cell(frame: _Frame, key: str):
    """``(record, rows)`` of the cell at ``frame``, verified to be the cell ``key``.

    The record's arrays and the rows are read-only views of the cell's bytes.

    Raises
    ------
    FileNotFoundError
        If its segment is gone.
    RejectedFile
        For any reason not to trust it (the message says which).
    """
    if frame.damage is not None:
        raise RejectedFile(frame.damage)
    with open(frame.path, "rb") as file:  # FileNotFoundError: removed meanwhile
        file.seek(frame.start + frame.header)
        data = file.read(frame.body)
    if len(data) != frame.body:
        raise RejectedFile("torn: the segment ends inside it")
    length = frame.record
    if frame.checksum != _checksum(key, length, frame.body, frame.written, data):
        raise RejectedFile("checksum mismatch (the cell was altered, damaged or truncated)")
    if length > len(data):
        raise RejectedFile("lengths do not add up: its record is longer than the cell")
    try:
        stored = json.loads(data[:length].decode())
    except ValueError as exc:  # UnicodeDecodeError included
        raise RejectedFile(f"its record is not JSON text ({exc})") from None
    record, layout = (stored.get("record"), stored.get("arrays")) if isinstance(stored, dict) else (None, None)
    if not isinstance(record, dict) or "status" not in record or not isinstance(layout, list):
        raise RejectedFile("its record is not a cell record")
    if record.get("key") != key:
        raise RejectedFile("it holds another cell: its record's key is not its header's (copied over another key?)")
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


def _stored_array(name: str, value: np.ndarray) -> np.ndarray:
    """The array ``name`` as the cell store stores it: 1-d, ``<f8`` or ``<i8`` (:data:`_ARRAY_DTYPES`), contiguous."""
    if value.ndim != 1 or value.dtype.kind not in _ARRAY_DTYPES:
        raise TypeError(f"A cell record's array {name!r} must be 1-d, of floats or signed integers; got {value.dtype} of shape "
                        f"{value.shape}.")
    return np.ascontiguousarray(value, dtype=_ARRAY_DTYPES[value.dtype.kind])


def _checksum(key: str, length: int, body: int, written: int, *buffers) -> str:
    """The checksum of a cell (:func:`cvn_sklearn._disk.checksum`: SHA-256): its header's fields, then its bytes.

    The key, the record's length, the body's length and when it was written
    (``b"<key> <length> <body> <written>\\n"``), then ``buffers``, the bytes of
    its JSON, its arrays and the rows, in that order (in one buffer or several).
    """
    return checksum(b"%s %d %d %d\n" % (key.encode(), length, body, written), *buffers)


def _json_value(value):
    """What ``json.dumps`` cannot write itself: a numpy scalar's value, else the repr."""
    return plain(value) if isinstance(value, np.generic) else repr(value)
