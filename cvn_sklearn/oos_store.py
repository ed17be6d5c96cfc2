"""One store of base-model out-of-sample (OOS) predictions and refits, shared by stackers.

A stacker (:class:`~cvn_sklearn.stacking.StackingClassifier`) needs, for each
base model, its OOS predictions on the realised folds and a refit on all rows.
:class:`OOSStore` holds both, keyed by (estimator class and parameters, library
versions, data fingerprint, metadata, realised folds, response method), so any
stacker fitted on the same data with the same base model and folds reuses them:

- **in memory** (``OOSStore()``, and the process's :func:`default_store`, which
  stackers use with ``cache=True``): thread-safe, each entry computed once even
  when many threads ask for it at the same moment; OOS arrays are returned
  read-only and shared, never copied; refits are copied, so no two stackers hold
  the same fitted object;
- **in a directory** (``OOSStore(path)``; a stacker given ``cache="path"``
  opens one for its fit), shared by the fits, processes and Dask workers of one
  machine: entries are written atomically
  (a temporary file, then a rename) under a per-entry file lock, so when two
  processes need the same entry one computes it and the other reads it. OOS
  predictions are ``.npz`` arrays read with ``allow_pickle=False``; refits are
  :mod:`skops` files loaded only if every type in them is one the caller's own
  estimator is made of or one :func:`cvn_sklearn.trust.trusted_types`
  trusts (estimators and data): nothing read from the directory decides which
  code runs. Each file holds its entry's key (an OOS file also a SHA-256
  checksum of its arrays); a file that is truncated, corrupt, fails its
  checksum, holds another key's entry or untrusted types is never used: one
  ``store_file_rejected`` warning names it, and the entry is computed again
  and the file replaced. A refit file holds no secret: secret-looking
  parameters are masked in the copy written (:mod:`cvn_sklearn.scrubbing`)
  and set back from the caller's estimator on load; a refit whose fitted
  state keeps a secret value stays in memory only.

Memory (entries and data fingerprints) belongs to the store object: whoever
keeps the object keeps it. There is no registry of stores; the only store a
process keeps itself is :func:`default_store`.

The data fingerprint (SHA-1 of ``X``) is computed once per dataset object and
remembered, by the store, while that object lives; a cheap probe (shape and 64 sampled rows)
guards against in-place edits. An edit that spares the probed rows is not seen:
give the store a new object after changing data in place.

A store is a handle, like an open file: :func:`copy.deepcopy` and
:func:`~sklearn.base.clone` return the same store; pickling (to a worker)
keeps only the directory path, never the entries. Opening or unpickling a
store writes nothing: the directory is created when the first entry is
written. A model file never holds a store (:func:`cvn_sklearn.persist.log_artifact`
writes a stacker's ``cache`` as its path, and loading refuses a store).
"""

import os
import threading
import warnings
import weakref
from collections import OrderedDict
from contextlib import nullcontext
from copy import deepcopy
from pathlib import Path

import numpy as np
from sklearn.base import clone
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import indexable

from cvn_sklearn._disk import (
    RejectedFile,
    atomic_file,
    check_zip,
    file_lock,
    fingerprint,
    library_versions,
)
from cvn_sklearn._sklearn_compat import _num_samples, _safe_indexing
from cvn_sklearn.model_selection import OOSPredictions, check_disjoint, realised_folds

__all__ = ["OOSStore", "default_store"]

_LIBRARIES = ("numpy", "scipy", "scikit-learn", "xgboost", "lightgbm", "catboost", "skops", "cvn_sklearn")
_N_PROBE_ROWS = 64


class OOSStore:
    """Base-model out-of-sample predictions and refits, shared by every stacker that uses the store.

    Parameters
    ----------
    path : str or os.PathLike, default=None
        ``None`` keeps entries in memory (this process only). A directory
        (created when the first entry is written) also keeps them on disk for
        every process and Dask worker on the machine that opens a store on the
        same path.
    max_entries : int, default=256
        Entries kept in memory; the least recently used are dropped beyond it
        (a directory store still has them on disk).

    Attributes
    ----------
    path : str or None
        The directory, absolute, or ``None``.

    See Also
    --------
    default_store : The in-memory store of ``cache=True``.
    cvn_sklearn.stacking.StackingClassifier : Takes a store as ``cache``.

    Examples
    --------
    A base model's OOS predictions computed elsewhere (for instance by a sweep
    node) are put in the store; a stacker fitted on the same data and folds uses
    them instead of fitting that model's folds:

    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from cvn_sklearn.model_selection import WalkForwardSplit, oos_predict
    >>> from cvn_sklearn.oos_store import OOSStore
    >>> from cvn_sklearn.stacking import StackingClassifier
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(120, 3)); y = (X[:, 0] + rng.normal(size=120) > 0).astype(int)
    >>> cv, base = WalkForwardSplit(3, test_size=30), LogisticRegression()
    >>> store = OOSStore()
    >>> proba, covered = oos_predict(base, X, y, cv=cv)
    >>> store.put_oos(base, X, y, cv=cv, predictions=proba)
    >>> stack = StackingClassifier([("lr", base)], cv=cv, cache=store).fit(X, y)
    >>> int(stack.coverage_.sum()), len(store)
    (90, 2)
    """

    def __init__(self, path=None, *, max_entries=256):
        self.path = None if path is None else os.path.abspath(os.path.expanduser(os.fspath(path)))
        self.max_entries = max_entries
        self._setup()

    def _setup(self):
        self._entries = OrderedDict()
        self._lock = threading.Lock()
        self._key_locks = {}
        self._fingerprints = {}  # nothing on disk: opening or unpickling a store writes nothing

    # -- a handle: never copied, pickled as its path only ---------------------------------------

    def __getstate__(self):
        return {"path": self.path, "max_entries": self.max_entries}

    def __setstate__(self, state):
        self.path, self.max_entries = state["path"], state["max_entries"]
        self._setup()

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self

    def __repr__(self):
        return "OOSStore()" if self.path is None else f"OOSStore({self.path!r})"

    def __len__(self):
        """Number of entries held in memory."""
        return len(self._entries)

    def clear(self):
        """Forget the entries held in memory (files in a directory store stay; delete the folder for those)."""
        with self._lock:
            self._entries.clear()
            self._fingerprints.clear()

    # -- keys ----------------------------------------------------------------------------------

    def data_key(self, X, y, fit_params):
        """Fingerprint of (X, encoded y, metadata); X's is computed once per living object."""
        return _hash((self._fingerprint(X), _hash(y), _hash(fit_params)))

    def _fingerprint(self, X):
        try:
            ref = weakref.ref(X, self._forget(id(X)))
        except TypeError:  # lists and other objects without weak references: hash every time
            return _hash(X)
        probe = _probe(X)
        with self._lock:
            known = self._fingerprints.get(id(X))
        if known is not None and known[0]() is X and known[1] == probe:
            return known[2]
        fingerprint = _hash(X)
        with self._lock:
            self._fingerprints[id(X)] = (ref, probe, fingerprint)
        return fingerprint

    def _forget(self, ident):
        fingerprints = self._fingerprints
        return lambda _: fingerprints.pop(ident, None)

    # -- entries -------------------------------------------------------------------------------

    def oos(self, estimator, data_key, splits, method, compute):
        """OOS predictions of ``estimator`` on ``splits``: stored, or ``compute()``-d once and stored."""
        key = _hash(("oos", _estimator_key(estimator), library_versions(_LIBRARIES), data_key, _hash(splits), method))
        return self._get(key, compute, _OOSFile)

    def refit(self, estimator, data_key, compute):
        """``estimator`` fitted on all rows: a copy of the stored fit, or ``compute()``-d once and stored."""
        key = _hash(("refit", _estimator_key(estimator), library_versions(_LIBRARIES), data_key))
        return deepcopy(self._get(key, compute, _RefitFile(estimator)))

    def put_oos(self, estimator, X, y, *, cv, predictions, method="predict_proba", fit_params=None,
                split_params=None):
        """Store OOS predictions of ``estimator`` computed elsewhere, for stackers to use.

        The entry is the one a stacker looks up when it is fitted on the same
        ``X``, ``y`` and ``cv`` with ``estimator`` (equal parameters) as a base
        model, with the same ``stack_method`` (``method``) and metadata: it then
        fits none of that model's folds (it still refits it on all rows).

        Parameters
        ----------
        estimator : estimator
            The base model, unfitted (only its class and parameters count).
        X : array-like of shape (n_samples, n_features)
            The rows the stacker will be fitted on.
        y : array-like of shape (n_samples,)
            Their labels, as given to the stacker.
        cv : int, cross-validation generator or iterable
            The stacker's ``cv`` (``None`` is its default walk-forward split).
        predictions : array-like of shape (n_samples, n_outputs) or (n_samples,)
            Output of ``method`` on each test row of the folds (rows outside
            every test set are ignored), columns following the sorted labels,
            as :func:`~cvn_sklearn.model_selection.oos_predict` returns.
        method : str, default="predict_proba"
            The response method the predictions come from.
        fit_params : dict, default=None
            Metadata routed to the base model's ``fit`` in the stacker
            (``sample_weight``, ...).
        split_params : dict, default=None
            Metadata routed to the splitter (``t1``).
        """
        X, y = indexable(X, LabelEncoder().fit_transform(y))
        splits = realised_folds(cv, X, y, split_params or {})
        oos = _checked_oos(predictions, splits, _num_samples(X))
        self.oos(estimator, self.data_key(X, y, fit_params or {}), splits, method, lambda: oos)

    def _get(self, key, compute, codec):
        found = self._memory_get(key)
        if found is not None:
            return found
        with self._key_lock(key), self._file_lock(key):
            found = self._memory_get(key)
            if found is None and self.path is not None:
                found = _verified(codec, self._file(key, codec), key)
            if found is None:
                found = codec.freeze(compute())
                if self.path is not None:
                    try:
                        _atomic_dump(self._file(key, codec), lambda value, file: codec.dump(value, file, key), found)
                    except _SecretKept as exc:  # kept in memory only; another process computes it again
                        warnings.warn(str(exc), stacklevel=4)
            self._memory_put(key, found)
        return found

    def _memory_get(self, key):
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key]
        return None

    def _memory_put(self, key, value):
        with self._lock:
            self._entries[key] = value
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def _key_lock(self, key):
        with self._lock:
            return self._key_locks.setdefault(key, threading.Lock())

    def _file_lock(self, key):
        if self.path is None:
            return nullcontext()
        locks = Path(self.path, "locks")
        locks.mkdir(parents=True, exist_ok=True)  # the store's first write creates the directory
        return file_lock(locks / f"{key}.lock")

    def _file(self, key, codec):
        return Path(self.path, f"{key}{codec.suffix}")


_DEFAULT_STORE = OOSStore()


def default_store():
    """The process's in-memory :class:`OOSStore`, used by stackers with ``cache=True``.

    The one store a process keeps by default (as :mod:`logging` keeps one root
    logger); any other store belongs to whoever creates it: a stacker given a
    directory opens ``OOSStore(path)`` for its fit, and a caller who wants
    entries kept in memory between fits keeps its own :class:`OOSStore`.

    Returns
    -------
    OOSStore
        The same object on every call in this process.

    Examples
    --------
    >>> from cvn_sklearn.oos_store import default_store
    >>> default_store() is default_store(), repr(default_store())
    (True, 'OOSStore()')
    """
    return _DEFAULT_STORE


# -- what goes into a key -----------------------------------------------------------------------


def _hash(obj):
    """The content fingerprint of ``obj`` (:func:`cvn_sklearn._disk.fingerprint`).

    A DataFrame hashes by its values, index, columns and dtypes, never by its
    pickle: two frames holding the same rows hash alike.
    """
    return fingerprint(obj)


def _probe(X):
    n = _num_samples(X)
    rows = np.unique(np.linspace(0, n - 1, num=min(n, _N_PROBE_ROWS), dtype=int))
    return _hash((getattr(X, "shape", n), _safe_indexing(X, rows)))


def _estimator_key(estimator):
    try:
        return _hash(clone(estimator))
    except Exception as exc:  # joblib raises whatever pickling raises
        raise TypeError(
            f"Cannot fingerprint {estimator!r} for the OOS store ({exc}). "
            "Give it picklable parameters, or pass cache=False to the stacker."
        ) from exc


def _checked_oos(predictions, splits, n_samples):
    predictions = np.asarray(predictions, dtype=float)
    if len(predictions) != n_samples:
        raise ValueError(f"predictions has {len(predictions)} rows but X has {n_samples}; give one row per sample.")
    tests = [test for _, test in splits]
    check_disjoint(tests, n_samples)
    covered = np.zeros(n_samples, dtype=bool)
    covered[np.concatenate(tests)] = True
    if not np.isfinite(predictions[covered]).all():
        raise ValueError("predictions must be finite on every test row of the folds (NaN only on other rows).")
    predictions = predictions.copy()
    predictions[~covered] = np.nan
    return OOSPredictions(predictions, covered)


# -- how entries are frozen, written and read ----------------------------------------------------


def _verified(codec, path, key):
    """The entry ``key`` read from ``path`` by ``codec``; ``None`` if absent or rejected (one warning naming the file)."""
    from cvn_sklearn.events import emit

    try:
        return codec.load(path, key)
    except FileNotFoundError:
        return None
    except RejectedFile as exc:
        emit("store_file_rejected", store="oos", path=str(path), reason=str(exc))
        return None


class _OOSFile:
    """OOS predictions: read-only arrays, an ``.npz`` read without pickle, with its key and a checksum."""

    suffix = ".npz"
    _MEMBERS = frozenset({"predictions", "covered", "key", "checksum"})

    @staticmethod
    def freeze(oos):
        for array in oos:  # arrays this module made (fold predictions, a checked copy, a file read)
            array.flags.writeable = False
        return oos

    @staticmethod
    def dump(oos, file, key):
        np.savez(file, predictions=oos.predictions, covered=oos.covered, key=np.array(key),
                 checksum=np.array(_oos_checksum(key, oos.predictions, oos.covered)))

    @classmethod
    def load(cls, path, key):
        """The stored predictions; ``FileNotFoundError`` if absent, :class:`RejectedFile` if not to be trusted."""
        check_zip(path)
        try:
            with np.load(path, allow_pickle=False) as stored:
                if set(stored.files) != cls._MEMBERS:
                    raise RejectedFile(f"members {sorted(stored.files)}, expected {sorted(cls._MEMBERS)}")
                predictions, covered = stored["predictions"], stored["covered"]
                stored_key, checksum = str(stored["key"]), str(stored["checksum"])
        except RejectedFile:
            raise
        except Exception as exc:  # noqa: BLE001 - truncated, corrupt, pickled objects: never trusted
            raise RejectedFile(f"unreadable, truncated or not an OOS file ({type(exc).__name__}: {exc})") from None
        if predictions.dtype != np.float64 or covered.dtype != bool or len(predictions) != len(covered):
            raise RejectedFile(f"arrays of unexpected dtypes or lengths ({predictions.dtype}, {covered.dtype})")
        if checksum != _oos_checksum(stored_key, predictions, covered):
            raise RejectedFile("checksum mismatch (the file was altered or damaged)")
        if stored_key != key:
            raise RejectedFile("it holds another entry: its stored key is not its file name (copied over another key?)")
        return cls.freeze(OOSPredictions(predictions, covered))


def _oos_checksum(key, predictions, covered):
    """The one fingerprint (:func:`cvn_sklearn._disk.fingerprint`: SHA-256) of the entry's key and its arrays."""
    return fingerprint(key, predictions, covered)


class _SecretKept(ValueError):
    """A refit whose fitted state keeps the value of a secret-looking parameter: not written to disk."""


class _RefitFile:
    """A refit: a skops file, loaded only with the types of the caller's own estimator (and trusted ones).

    The file holds a scrubbed copy (:func:`cvn_sklearn.scrubbing.scrubbed_copy`):
    every estimator reachable from the refit, through parameters and fitted
    state, has its secret-looking parameters masked, so no secret reaches the
    disk. It predicts as the refit does (a masked parameter is one the fitted
    model does not keep; the file is searched for every secret value and a
    refit that keeps one is not written, see :meth:`dump`). On load, the
    top-level parameters that were masked are set back from the caller's own
    estimator, which has the very same parameters (they are part of the
    entry's key), so the refit returned equals the one computed; nested fitted
    estimators (an adapter's native model) keep the masked values.
    """

    suffix = ".skops"

    def __init__(self, estimator):
        self.estimator = estimator

    @staticmethod
    def freeze(fitted):
        return fitted

    @staticmethod
    def dump(fitted, file, key):
        """Write ``{key, scrubbed copy of fitted}``; raise :class:`_SecretKept` if a secret value is still in it."""
        import skops.io

        from cvn_sklearn.scrubbing import kept_secrets, scrubbed_copy

        content = skops.io.dumps({"key": key, "estimator": scrubbed_copy(fitted)})
        kept = kept_secrets(fitted, content)
        if kept:
            raise _SecretKept(
                f"The refit of {type(fitted).__name__} keeps the value of its secret-looking parameters {kept} in "
                "its fitted state, so it is kept in memory only and not written to the OOS store's folder (each "
                "process fits it again). Pass credentials through the environment, not as parameters."
            )
        file.write(content)

    def load(self, path, key):
        """The stored refit; ``FileNotFoundError`` if absent, :class:`RejectedFile` if not to be trusted."""
        import skops.io

        from cvn_sklearn.trust import UntrustedModelError, trusted_types

        check_zip(path)
        content = path.read_bytes()  # the content, not the path: the reason names no path (the event does)
        try:
            found = trusted_types(content, also=_own_types(self.estimator))
            stored = skops.io.loads(content, trusted=found)
        except UntrustedModelError as exc:
            raise RejectedFile(f"untrusted content, not loaded: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - truncated, corrupt, not a skops file: never trusted
            raise RejectedFile(f"unreadable, truncated or not a refit file ({type(exc).__name__}: {exc})") from None
        if not isinstance(stored, dict) or set(stored) != {"key", "estimator"}:
            raise RejectedFile("not a refit entry of this store")
        if stored["key"] != key:
            raise RejectedFile("it holds another entry: its stored key is not its file name (copied over another key?)")
        if type(stored["estimator"]) is not type(self.estimator):
            raise RejectedFile(f"it holds a {type(stored['estimator']).__name__}, not a {type(self.estimator).__name__}")
        return _with_own_params(stored["estimator"], self.estimator)


def _with_own_params(refit, estimator):
    """``refit`` read from disk with the parameters the scrub masked set back from ``estimator``'s (equal) ones."""
    from cvn_sklearn.scrubbing import scrub

    own = estimator.get_params(deep=False)
    masked = [name for name, value in scrub(own).items() if value is not own[name]]
    return refit.set_params(**{name: deepcopy(own[name]) for name in masked}) if masked else refit


def _own_types(estimator):
    """Type names of ``estimator`` and of every estimator among its (nested) parameters."""
    parts = [estimator, *(v for v in estimator.get_params(deep=True).values() if hasattr(v, "get_params"))]
    return {f"{type(part).__module__}.{type(part).__qualname__}" for part in parts}


def _atomic_dump(path, dump, value):
    """``dump(value, file)`` into ``path``, which appears whole or not at all."""
    with atomic_file(path) as file:
        dump(value, file)
