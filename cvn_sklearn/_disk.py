"""The disk layer: content fingerprints and keys, library versions, atomic writes, appends and file locks.

Everything that keeps results on disk and finds them again goes through this
module: the sweep's cell store (:mod:`cvn_sklearn.sweep.store`), the OOS store
(:mod:`cvn_sklearn.oos_store`) and the lock around MLflow's SQLite store
(:mod:`cvn_sklearn.persist`). One fingerprint algorithm (SHA-256 over a
canonical encoding of each part), one atomic write (a temporary file in the
same folder, then a rename), one append (a whole record, one ``write``, for a
file one process appends to), one lock (:mod:`filelock`, across processes).

Examples
--------
>>> import numpy as np, pandas as pd
>>> a = fingerprint(pd.DataFrame({"x": [1.0, 2.0]}), {"C": 0.5})
>>> a == fingerprint(pd.DataFrame({"x": [1.0, 2.0]}), {"C": 0.5}), len(a)
(True, 64)
>>> a == fingerprint(pd.DataFrame({"x": [1.0, 2.5]}), {"C": 0.5})
False
>>> len(content_key("anything")), library_version("no-such-library")
(32, None)
"""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile
import threading
from collections.abc import Mapping
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["TEMPORARY_PREFIX", "RejectedFile", "append_whole", "atomic_file", "check_zip", "checksum", "content_key",
           "file_lock", "fingerprint", "library_version", "library_versions", "plain"]


def fingerprint(*parts) -> str:
    """SHA-256 (64 hex characters) of ``parts`` by their content, never by their pickles.

    Each part is encoded canonically by type: a DataFrame or Series by its
    values, index, column names and dtypes (``pandas.util.hash_pandas_object``,
    so equal rows in two frames hash alike); a numeric array by its dtype,
    shape and bytes; mappings by their sorted items, sequences item by item;
    strings, numbers, booleans and ``None`` by type and value; anything else
    (an object array, an estimator, a splitter) by :func:`joblib.hash` of the
    object.
    """
    digest = hashlib.sha256()
    for part in parts:
        _update(digest, part)
    return digest.hexdigest()


def checksum(*buffers) -> str:
    """SHA-256 (64 hex characters) of the bytes of ``buffers`` in order, as they are laid out on disk.

    For bytes whose layout is fixed already (a cell of the sweep's cell
    store: its header's fields, its JSON, its arrays, its rows): nothing is
    encoded or copied. Anything else is hashed by :func:`fingerprint`, by its
    content.

    Examples
    --------
    >>> checksum(b"ab", np.array([1], dtype="<i8")) == checksum(b"ab" + (1).to_bytes(8, "little"))
    True
    """
    digest = hashlib.sha256()
    for buffer in buffers:
        digest.update(buffer)
    return digest.hexdigest()


def content_key(*parts) -> str:
    """A key of 32 hex characters for content: the first half of :func:`fingerprint`."""
    return fingerprint(*parts)[:32]


def _update(digest, value) -> None:
    kind = type(value)
    digest.update(f"<{kind.__module__}.{kind.__qualname__}>".encode())
    if isinstance(value, (pd.DataFrame, pd.Series)):
        digest.update(pd.util.hash_pandas_object(value, index=True).to_numpy().tobytes())
        names = list(value.columns) if isinstance(value, pd.DataFrame) else [value.name]
        dtypes = list(value.dtypes) if isinstance(value, pd.DataFrame) else [value.dtype]
        digest.update(repr([str(name) for name in names]).encode() + repr([str(d) for d in dtypes]).encode())
    elif isinstance(value, np.ndarray) and value.dtype != object:
        digest.update(f"{value.dtype.str}{value.shape}".encode())
        digest.update(np.ascontiguousarray(value).tobytes())
    elif isinstance(value, Mapping):
        for key in sorted(value, key=repr):
            _update(digest, key)
            _update(digest, value[key])
    elif isinstance(value, (list, tuple)):
        digest.update(str(len(value)).encode())
        for item in value:
            _update(digest, item)
    elif value is None or isinstance(value, (str, bytes, bool, int, float, complex, np.generic, Path)):
        digest.update(repr(value).encode())
    else:
        import joblib

        digest.update(joblib.hash(value, hash_name="sha1").encode())  # joblib offers md5 and sha1
    digest.update(b"|")


def plain(value):
    """A numpy scalar as the Python value it holds; anything else unchanged (for JSON and messages).

    >>> plain(np.float32(0.5)), plain("buy")
    (0.5, 'buy')
    """
    return value.item() if isinstance(value, np.generic) else value


def library_version(name: str) -> str | None:
    """The installed version of the distribution ``name``, or ``None`` if it is not installed."""
    try:
        return version(name)
    except PackageNotFoundError:
        return None


@functools.cache
def library_versions(names: tuple[str, ...]) -> dict[str, str | None]:
    """``{name: version or None}`` of the distributions ``names``, read once per process."""
    return {name: library_version(name) for name in names}


TEMPORARY_PREFIX = ".tmp-"
"""How the name of :func:`atomic_file`'s temporary file starts (left behind only by a process killed mid-write)."""


@contextmanager
def atomic_file(path):
    """Write ``path`` through a binary file that appears whole or not at all.

    The block writes a temporary file in the same folder; when it ends
    without an exception the file is renamed to ``path`` (replacing what was
    there), otherwise removed. Readers never see a partial file, whatever
    process writes.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     with atomic_file(Path(folder, "a.bin")) as file:
    ...         _ = file.write(b"all")
    ...     Path(folder, "a.bin").read_bytes()
    b'all'
    """
    path = Path(path)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=TEMPORARY_PREFIX, suffix=path.suffix)
    try:
        with os.fdopen(handle, "wb") as file:
            yield file
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


_APPENDING = threading.Lock()
_IOV_MAX = os.sysconf("SC_IOV_MAX") if hasattr(os, "writev") and hasattr(os, "sysconf") else 0
"""Most buffers one ``writev`` takes (1,024 on Linux; 0: no ``writev``, as on Windows)."""
_APPEND_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOFOLLOW", 0)


def append_whole(path, data) -> None:
    """Append ``data`` (bytes, or a list of buffers, in order) to ``path`` in one system call; the file (0600) made if needed.

    For a file this process alone appends to (a sweep's cell segment): the
    appends of its threads hold one lock, so their bytes never interleave. A
    process killed mid-append leaves a torn tail, which the reader finds by
    its checksum. If an append fails, the file may hold part of ``data``: the
    caller appends to another file from then on. A list of buffers (bytes,
    contiguous arrays) is written by one ``writev``, not joined first (joined
    when there are more than the system takes at once).

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     append_whole(Path(folder, "new", "a.bin"), b"one ")
    ...     append_whole(Path(folder, "new", "a.bin"), [b"two ", np.array([3], dtype="u1")])
    ...     Path(folder, "new", "a.bin").read_bytes()
    b'one two \\x03'
    """
    parts = data if isinstance(data, list) else [data]
    with _APPENDING:
        try:
            handle = os.open(path, _APPEND_FLAGS, 0o600)
        except FileNotFoundError:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            handle = os.open(path, _APPEND_FLAGS, 0o600)
        try:
            written = os.writev(handle, parts) if len(parts) <= _IOV_MAX else os.write(handle, b"".join(parts))
            total = sum(memoryview(part).nbytes for part in parts)
            if written < total:  # a regular file takes everything at once; anything else, the rest
                rest = memoryview(b"".join(parts))
                while written < total:
                    written += os.write(handle, rest[written:])
        finally:
            os.close(handle)


def file_lock(path):
    """An exclusive lock held through the file ``path`` by every process on the machine (:class:`filelock.FileLock`).

    Use it as a context manager; it is re-entrant within a process.
    """
    from filelock import FileLock

    return FileLock(str(path))


class RejectedFile(ValueError):
    """A store file that cannot be trusted (truncated, corrupt, foreign, another key's entry): the message says why.

    The stores treat it as absent and compute the entry again, after one
    ``store_file_rejected`` event naming the file.
    """


def check_zip(path) -> None:
    """Raise :class:`RejectedFile` unless ``path`` starts like a zip (npz, skops); ``FileNotFoundError`` if absent."""
    with open(path, "rb") as file:
        if file.read(4) != b"PK\x03\x04":
            raise RejectedFile("not a zip file (npz/skops): empty, truncated or another format")
