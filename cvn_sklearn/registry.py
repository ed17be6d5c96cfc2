"""The registry: every model and ensemble, by name, discovered from files and plugins.

``registry`` is a read-only :class:`~collections.abc.Mapping` from a name to an
estimator **class**. Entries come from

* the files of ``cvn_sklearn/models/`` and ``cvn_sklearn/ensembles/`` (one file,
  one entry, marked with :func:`register_model` / :func:`register_ensemble`);
* the entry-point groups ``cvn_sklearn.models`` and ``cvn_sklearn.ensembles`` of
  installed third-party distributions;
* classes decorated anywhere else (a notebook, a script) after import.

Discovery runs on first use, not on ``import cvn_sklearn``, and model files name
their native library as a string, so no boosting library is imported until a
model is fitted. A model whose library is missing, or whose file fails to
import, is skipped, listed in ``registry.unavailable`` and reported with the
event ``adapter_unavailable``; so is a plugin whose name is already taken
(listed as ``"<name> (<entry point>)"``), while the entry found first keeps the
name and every lookup keeps working.

Examples
--------
>>> from cvn_sklearn.registry import registry
>>> "lightgbm" in registry.models
True
>>> clf = registry["logreg"](C=0.5)
>>> clf.get_params()["C"]
0.5
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import pkgutil
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from types import MappingProxyType

from cvn_sklearn.events import emit

__all__ = ["Entry", "Registry", "Unavailable", "register_ensemble", "register_model", "registry"]

_PACKAGES = {"model": "cvn_sklearn.models", "ensemble": "cvn_sklearn.ensembles"}
_GROUPS = {"model": "cvn_sklearn.models", "ensemble": "cvn_sklearn.ensembles"}
_DECLARED: list[type] = []


@dataclass(frozen=True)
class Entry:
    """One registered model or ensemble.

    Attributes
    ----------
    name : str
        The registry name.
    kind : {"model", "ensemble"}
    cls : type
        The estimator class.
    source : str
        Where it was found: ``module:QualName`` or ``entry point <name> (<dist>)``.
    library : str
        The distribution that provides the native model (``"scikit-learn"`` for
        scikit-learn models, ``"cvn_sklearn"`` for ensembles).
    base_models : tuple of str
        Default base models of an ensemble; empty for models.
    """

    name: str
    kind: str
    cls: type
    source: str
    library: str
    base_models: tuple[str, ...] = ()


@dataclass(frozen=True)
class Unavailable:
    """A model or ensemble that was found but cannot be used here.

    Attributes
    ----------
    name, kind, source, library : str
        As in :class:`Entry`.
    reason : str
        Why it is unavailable (the import error, or the missing library).
    hint : str
        What to do about it, e.g. ``pip install xgboost``.
    """

    name: str
    kind: str
    source: str
    library: str
    reason: str
    hint: str


def _mark(cls: type, name: str, kind: str, base_models: tuple[str, ...]) -> type:
    if not isinstance(cls, type):
        raise TypeError(f"register_{kind} decorates a class, got {cls!r}")
    cls._cvn_name = name
    cls._cvn_kind = kind
    cls._cvn_base_models = base_models
    _DECLARED.append(cls)
    if registry._loaded:
        registry._add(cls, _source_of(cls))
    return cls


def register_model(name: str):
    """Class decorator: register an estimator class as the model ``name``.

    Put the class in its own file under ``cvn_sklearn/models/`` (or expose it
    through the ``cvn_sklearn.models`` entry-point group); nothing else changes.

    Parameters
    ----------
    name : str
        The registry name, e.g. ``"xgboost"``.

    Examples
    --------
    A file ``cvn_sklearn/models/ridge.py`` holding::

        from cvn_sklearn.adapter import Adapter
        from cvn_sklearn.registry import register_model

        @register_model("ridge")
        class Ridge(Adapter):
            native = "sklearn.linear_model:RidgeClassifierCV"
            ...

    makes ``registry["ridge"]`` available; nothing else changes.
    """
    return lambda cls: _mark(cls, name, "model", ())


def register_ensemble(name: str, *, base_models):
    """Class decorator: register an ensemble class as ``name``.

    Parameters
    ----------
    name : str
        The registry name, e.g. ``"blend_avg"``.
    base_models : sequence of str
        Registry names of the default base models.
    """
    base = tuple(base_models)
    if not base or not all(isinstance(b, str) for b in base):
        raise ValueError(f"register_ensemble({name!r}) needs base_models as a non-empty list of registry names, got {base_models!r}")
    return lambda cls: _mark(cls, name, "ensemble", base)


def _source_of(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _library_of(cls: type) -> tuple[str, str | None]:
    """(distribution name, import name or None) that the class needs at fit time."""
    return getattr(cls, "library", "cvn_sklearn"), getattr(cls, "import_name", None)


def _install_hint(library: str) -> str:
    return f"pip install {library}"


class Registry(Mapping):
    """Read-only mapping from registry name to estimator class.

    Parameters
    ----------
    packages : dict, default=None
        ``{"model": package, "ensemble": package}`` to scan; defaults to
        ``cvn_sklearn.models`` and ``cvn_sklearn.ensembles``.
    groups : dict, default=None
        Entry-point groups to load; defaults to ``cvn_sklearn.models`` and
        ``cvn_sklearn.ensembles``.

    Attributes
    ----------
    models, ensembles : mapping
        Read-only views restricted to one kind.
    unavailable : mapping of str to Unavailable
        Entries that were found but cannot be used, with the reason.

    Examples
    --------
    >>> from cvn_sklearn import registry
    >>> "lightgbm" in registry.models, "stack_logreg_shrink" in registry.ensembles
    (True, True)
    >>> registry["lightgbm"](n_estimators=50).get_params()["n_estimators"]
    50
    >>> registry["lightgmb"]
    Traceback (most recent call last):
    ...
    KeyError: "Unknown registry name 'lightgmb'. Did you mean 'lightgbm'? ...
    """

    def __init__(self, packages=None, groups=None):
        self._packages = dict(packages or _PACKAGES)
        self._groups = dict(groups or _GROUPS)
        self._entries: dict[str, Entry] = {}
        self._unavailable: dict[str, Unavailable] = {}
        self._loaded = False
        self._lock = threading.RLock()

    # -- discovery -----------------------------------------------------------------
    def _load(self) -> None:
        with self._lock:
            if self._loaded:
                return
            for kind, package in self._packages.items():
                self._scan(kind, package)
            for kind, group in self._groups.items():
                self._load_entry_points(kind, group)
            for cls in list(_DECLARED):
                self._add(cls, _source_of(cls))
            self._loaded = True

    def _scan(self, kind: str, package: str) -> None:
        pkg = importlib.import_module(package)
        for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
            if info.name.startswith("_"):
                continue
            module_name = f"{package}.{info.name}"
            try:
                module = importlib.import_module(module_name)
            except Exception as exc:  # a broken file is reported, never fatal
                self._skip(info.name, kind, module_name, "cvn_sklearn", f"{type(exc).__name__}: {exc}",
                           f"fix or remove {module_name.replace('.', '/')}.py")
                continue
            for value in vars(module).values():
                if isinstance(value, type) and value.__module__ == module_name and "_cvn_name" in vars(value):
                    self._add(value, _source_of(value))

    def _load_entry_points(self, kind: str, group: str) -> None:
        for ep in entry_points(group=group):
            dist = ep.dist.name if ep.dist is not None else "unknown distribution"
            source = f"entry point {ep.name} = {ep.value} ({dist})"
            try:
                cls = ep.load()
            except Exception as exc:
                self._skip(ep.name, kind, source, dist, f"{type(exc).__name__}: {exc}", f"reinstall or fix {dist}")
                continue
            if "_cvn_name" not in vars(cls):
                _mark_silently(cls, ep.name, kind)
            self._add(cls, source, plugin=True)

    def _add(self, cls: type, source: str, plugin: bool = False) -> None:
        name, kind = cls._cvn_name, cls._cvn_kind
        library, import_name = _library_of(cls)
        known = self._entries.get(name) or self._unavailable.get(name)
        if known is not None:
            if getattr(known, "cls", None) is cls or known.source == source:
                return
            if plugin:  # a third-party plugin never breaks the registry: it is reported, the first entry kept
                self._skip(name, kind, source, library, f"the name {name!r} is already taken by {known.source}",
                           "rename the entry point (or uninstall the plugin)", key=f"{name} ({source})")
                return
            raise ValueError(f"Two registry entries are named {name!r}: {known.source} and {source}. Rename one of them.")
        if import_name is not None and importlib.util.find_spec(import_name) is None:
            self._skip(name, kind, source, library, f"No module named {import_name!r}", _install_hint(library))
            return
        self._entries[name] = Entry(name, kind, cls, source, library, tuple(getattr(cls, "_cvn_base_models", ())))

    def _skip(self, name, kind, source, library, reason, hint, key=None) -> None:
        self._unavailable[key or name] = Unavailable(name, kind, source, library, reason, hint)
        emit("adapter_unavailable", name=name, library=library, reason=reason, hint=hint)

    # -- Mapping -------------------------------------------------------------------
    def __getitem__(self, name: str) -> type:
        return self.entry(name).cls

    def __iter__(self) -> Iterator[str]:
        self._load()
        return iter(sorted(self._entries))

    def __len__(self) -> int:
        self._load()
        return len(self._entries)

    def __contains__(self, name) -> bool:
        self._load()
        return name in self._entries

    def __repr__(self) -> str:
        return f"Registry(models={sorted(self.models)}, ensembles={sorted(self.ensembles)}, unavailable={sorted(self.unavailable)})"

    def entry(self, name: str) -> Entry:
        """Return the :class:`Entry` of ``name`` with a helpful error if there is none."""
        self._load()
        try:
            return self._entries[name]
        except KeyError:
            pass
        if name in self._unavailable:
            u = self._unavailable[name]
            raise KeyError(f"Registry entry {name!r} is unavailable: {u.reason}. To use it: {u.hint}.") from None
        close = difflib.get_close_matches(str(name), [*self._entries, *self._unavailable], n=1)
        suggestion = f" Did you mean {close[0]!r}?" if close else ""
        raise KeyError(f"Unknown registry name {name!r}.{suggestion} Available: {', '.join(sorted(self._entries))}.") from None

    def _view(self, kind: str) -> Mapping:
        self._load()
        return MappingProxyType({n: e.cls for n, e in sorted(self._entries.items()) if e.kind == kind})

    @property
    def models(self) -> Mapping:
        """Read-only view of the models."""
        return self._view("model")

    @property
    def ensembles(self) -> Mapping:
        """Read-only view of the ensembles."""
        return self._view("ensemble")

    @property
    def unavailable(self) -> Mapping:
        """Read-only view of the entries that cannot be used, with the reason."""
        self._load()
        return MappingProxyType(dict(self._unavailable))


def _mark_silently(cls: type, name: str, kind: str) -> None:
    cls._cvn_name, cls._cvn_kind = name, kind
    cls._cvn_base_models = getattr(cls, "_cvn_base_models", ())


registry = Registry()
