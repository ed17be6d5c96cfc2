"""The registry: discovery (model files, entry points), laziness and its errors.

Throw-away models are real files in temporary folders, never in the source
tree: one in a folder added to the ``cvn_sklearn.models`` package's search path
(so it is a module of that package, as a file dropped into ``models/`` is), the
others in temporary packages and a temporary distribution on ``sys.path``.
Every fresh ``Registry()`` rescans from scratch.
"""

import importlib
import json
import re
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.naive_bayes import GaussianNB
from structlog.testing import capture_logs

from cvn_sklearn.adapter import Adapter
from cvn_sklearn.registry import Registry, register_ensemble, register_model, registry

REG = importlib.import_module("cvn_sklearn.registry")  # the module, whatever the package attribute holds
REPO = Path(__file__).resolve().parents[1]
BUILTIN = ["catboost", "extra_trees", "hist_gb", "lightgbm", "logreg", "random_forest", "xgboost"]
NB_MODEL = """\
from cvn_sklearn.adapter import Adapter
from cvn_sklearn.registry import register_model


@register_model("{name}")
class TmpNB(Adapter):
    native = "sklearn.naive_bayes:GaussianNB"
    hyperparameters = dict(var_smoothing=1e-9)
"""



@pytest.fixture
def isolated(monkeypatch):
    """Keep throw-away registrations out of the shared registry and of later tests.

    ``register_model`` records every decorated class in a module-level list and
    adds it to the global registry if that is already loaded; both are swapped
    for fresh ones here, and the throw-away modules are forgotten afterwards.
    """
    monkeypatch.setattr(REG, "_DECLARED", list(REG._DECLARED))
    monkeypatch.setattr(REG, "registry", Registry())
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    before = set(sys.modules)
    yield
    for module in set(sys.modules) - before:
        if module.startswith(("cvn_sklearn.models.tmpmodel_", "cvn_tmp_", "cvn_plugin_")):
            del sys.modules[module]
    importlib.invalidate_caches()


def data(n=120, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, 3))
    return X, (X[:, 0] > 0).astype(int)


def assert_trains_and_clones(cls, **params):
    X, y = data()
    clf = cls(**params).fit(X, y)
    assert isinstance(clf, Adapter)
    assert isinstance(clf.native_, GaussianNB)
    assert np.mean(clf.predict(X) == y) > 0.8
    copy = clone(clf)
    assert copy.get_params() == clf.get_params()
    assert not hasattr(copy, "native_")
    np.testing.assert_allclose(copy.fit(X, y).predict_proba(X), clf.predict_proba(X))


def make_package(root: Path, files: dict[str, str]) -> str:
    """A throw-away package under ``root`` (which must be on sys.path); returns its name."""
    name = f"cvn_tmp_{uuid.uuid4().hex[:10]}"
    pkg = root / name
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    for stem, text in files.items():
        (pkg / f"{stem}.py").write_text(textwrap.dedent(text))
    importlib.invalidate_caches()
    return name


def make_distribution(root: Path, dist: str, module: str, module_text: str, entry_points: str) -> None:
    """A throw-away installed distribution: a module plus ``<dist>-0.1.dist-info``."""
    (root / f"{module}.py").write_text(textwrap.dedent(module_text))
    info = root / f"{dist.replace('-', '_')}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points))
    importlib.invalidate_caches()


# -- (a) a new model is one file ---------------------------------------------------------------
def test_new_model_is_one_file_in_models_dir(isolated, tmp_path, monkeypatch):
    name = f"tmpmodel_{uuid.uuid4().hex[:10]}"
    models = importlib.import_module("cvn_sklearn.models")
    monkeypatch.setattr(models, "__path__", [*models.__path__, str(tmp_path)])  # models/ plus one more folder
    (tmp_path / f"{name}.py").write_text(NB_MODEL.format(name=name))
    importlib.invalidate_caches()
    fresh = Registry()
    found = dict(fresh.models)
    entry = fresh.entry(name)
    assert set(found) == {*BUILTIN, name}
    assert entry.kind == "model"
    assert entry.source == f"cvn_sklearn.models.{name}:TmpNB"
    assert entry.library == "scikit-learn"
    assert fresh[name] is found[name]
    assert name not in registry  # the shared registry was not touched
    assert_trains_and_clones(found[name], var_smoothing=1e-6)
    assert found[name](var_smoothing=1e-6).get_params()["var_smoothing"] == 1e-6


def test_underscore_files_are_not_scanned(isolated, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(tmp_path)
    pkg = make_package(tmp_path, {"_helpers": NB_MODEL.format(name="hidden_nb"), "visible": NB_MODEL.format(name="visible_nb")})
    fresh = Registry(packages={"model": pkg})
    assert "visible_nb" in fresh.models
    assert "hidden_nb" not in fresh.unavailable
    assert "hidden_nb" not in fresh
    assert f"{pkg}._helpers" not in sys.modules


# -- (b) a model from another distribution, through the entry point ------------------------------
def test_entry_point_distribution_is_discovered(isolated, tmp_path, monkeypatch):
    suffix = uuid.uuid4().hex[:8]
    module, ep_name = f"cvn_plugin_{suffix}", f"plugin_nb_{suffix}"
    make_distribution(
        tmp_path,
        f"cvn-plugin-{suffix}",
        module,
        """\
        from cvn_sklearn.adapter import Adapter


        class PluginNB(Adapter):
            native = "sklearn.naive_bayes:GaussianNB"
            hyperparameters = dict(var_smoothing=1e-9)
        """,
        f"[cvn_sklearn.models]\n{ep_name} = {module}:PluginNB\n",
    )
    monkeypatch.syspath_prepend(tmp_path)
    fresh = Registry()
    assert set(fresh.models) == {*BUILTIN, ep_name}
    entry = fresh.entry(ep_name)
    assert entry.source == f"entry point {ep_name} = {module}:PluginNB (cvn-plugin-{suffix})"
    assert entry.kind == "model"
    cls = fresh[ep_name]
    assert cls.__module__ == module
    assert_trains_and_clones(cls, var_smoothing=1e-6)


def test_entry_point_that_fails_to_load_is_unavailable(isolated, tmp_path, monkeypatch):
    suffix = uuid.uuid4().hex[:8]
    module, ep_name, dist = f"cvn_plugin_{suffix}", f"broken_ep_{suffix}", f"cvn-plugin-{suffix}"
    make_distribution(tmp_path, dist, module, "raise ImportError('plugin needs torch')\n",
                      f"[cvn_sklearn.models]\n{ep_name} = {module}:Missing\n")
    monkeypatch.syspath_prepend(tmp_path)
    with capture_logs() as logs:
        fresh = Registry()
        assert set(BUILTIN) <= set(fresh.models)  # the rest of the registry still works
        assert ep_name not in fresh.models
    u = fresh.unavailable[ep_name]
    assert u.reason == "ImportError: plugin needs torch"
    assert u.hint == f"reinstall or fix {dist}"
    assert [e["name"] for e in logs if e["event"] == "adapter_unavailable" and e["name"] == ep_name] == [ep_name]
    with pytest.raises(KeyError, match=rf"'{ep_name}' is unavailable: ImportError: plugin needs torch"):
        fresh[ep_name]


# -- (c) a model whose library is missing ---------------------------------------------------------
def test_missing_library_is_unavailable_with_install_hint(isolated, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(tmp_path)
    pkg = make_package(tmp_path, {
        "needs_missing": """\
            from cvn_sklearn.adapter import Adapter
            from cvn_sklearn.registry import register_model


            @register_model("quantboost")
            class QuantBoost(Adapter):
                native = "quantboost_not_installed:QuantBoostClassifier"
                library = "quantboost-ml"
                import_name = "quantboost_not_installed"
                hyperparameters = dict(n_rounds=100)
                parameter_constraints = dict(n_rounds="no_validation")
        """,
        "fine": NB_MODEL.format(name="fine_nb"),
    })
    with capture_logs() as logs:
        fresh = Registry(packages={"model": pkg})
        models = dict(fresh.models)
    assert "fine_nb" in models  # the rest of the package still loads
    assert "quantboost" not in models
    assert "quantboost" not in fresh
    u = fresh.unavailable["quantboost"]
    assert (u.name, u.kind, u.library) == ("quantboost", "model", "quantboost-ml")
    assert u.reason == "No module named 'quantboost_not_installed'"
    assert u.hint == "pip install quantboost-ml"
    assert u.source == f"{pkg}.needs_missing:QuantBoost"
    events = [e for e in logs if e["event"] == "adapter_unavailable"]
    assert events == [{
        "event": "adapter_unavailable", "log_level": "info", "name": "quantboost", "library": "quantboost-ml",
        "reason": "No module named 'quantboost_not_installed'", "hint": "pip install quantboost-ml",
    }]
    with pytest.raises(KeyError, match=r"'quantboost' is unavailable: No module named 'quantboost_not_installed'\. "
                                       r"To use it: pip install quantboost-ml"):
        fresh["quantboost"]
    # the class itself, used directly, fails at fit with the same advice
    cls = sys.modules[f"{pkg}.needs_missing"].QuantBoost
    X, y = data()
    with pytest.raises(ImportError, match=r"needs the library 'quantboost-ml'.*pip install quantboost-ml"):
        cls().fit(X, y)


# -- (d) a model file that raises on import ----------------------------------------------------------
def test_model_file_failing_on_import_is_unavailable_not_fatal(isolated, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(tmp_path)
    pkg = make_package(tmp_path, {
        "broken": "import numpy\nraise RuntimeError('boom while importing')\n",
        "typo": "from cvn_sklearn.adapter import Adaptr\n",
        "fine": NB_MODEL.format(name="fine_nb"),
    })
    with capture_logs() as logs:
        fresh = Registry(packages={"model": pkg})
        assert "fine_nb" in fresh.models
    assert fresh.unavailable["broken"].reason == "RuntimeError: boom while importing"
    assert fresh.unavailable["broken"].hint == f"fix or remove {pkg}/broken.py"
    assert fresh.unavailable["typo"].reason.startswith("ImportError: cannot import name 'Adaptr'")
    assert sorted(e["name"] for e in logs if e["event"] == "adapter_unavailable") == ["broken", "typo"]
    with pytest.raises(KeyError, match=r"'broken' is unavailable: RuntimeError: boom while importing\. To use it: fix or remove"):
        fresh["broken"]
    assert_trains_and_clones(fresh["fine_nb"])


# -- (e) unknown names ------------------------------------------------------------------------------
def test_unknown_name_lists_available_and_suggests_close_match():
    available = re.escape(", ".join(sorted(registry)))  # models and ensembles alike
    with pytest.raises(KeyError, match=rf"Unknown registry name 'xgbost'\. Did you mean 'xgboost'\? Available: {available}\."):
        registry["xgbost"]
    with pytest.raises(KeyError, match=r"Unknown registry name 'lightgmb'\. Did you mean 'lightgbm'\?"):
        registry.entry("lightgmb")


def test_unknown_name_without_close_match_has_no_suggestion():
    with pytest.raises(KeyError) as info:
        registry["transformer_zoo"]
    message = str(info.value)
    assert "Unknown registry name 'transformer_zoo'." in message
    assert "Did you mean" not in message
    assert f"Available: {', '.join(sorted(registry))}." in message


# -- (f) duplicates -----------------------------------------------------------------------------------
def test_two_files_with_one_name_is_an_error_naming_both(isolated, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(tmp_path)
    pkg = make_package(tmp_path, {
        "first": NB_MODEL.format(name="twin_nb"),
        "second": NB_MODEL.format(name="twin_nb").replace("TmpNB", "OtherNB"),
    })
    fresh = Registry(packages={"model": pkg})
    with pytest.raises(ValueError, match=rf"Two registry entries are named 'twin_nb': {pkg}\.first:TmpNB and "
                                         rf"{pkg}\.second:OtherNB\. Rename one of them\."):
        fresh.models


def test_entry_point_clashing_with_a_builtin_is_reported_and_lookups_keep_working(isolated, tmp_path, monkeypatch):
    suffix = uuid.uuid4().hex[:8]
    module = f"cvn_plugin_{suffix}"
    make_distribution(
        tmp_path, f"cvn-plugin-{suffix}", module,
        """\
        from cvn_sklearn.adapter import Adapter


        class FakeXGB(Adapter):
            native = "sklearn.naive_bayes:GaussianNB"
            hyperparameters = dict(var_smoothing=1e-9)
        """,
        f"[cvn_sklearn.models]\nxgboost = {module}:FakeXGB\n",
    )
    monkeypatch.syspath_prepend(tmp_path)
    fresh = Registry()
    assert fresh["xgboost"].__name__ == "XGBoost" and "logreg" in fresh.models  # lookups keep working
    source = f"entry point xgboost = {module}:FakeXGB (cvn-plugin-{suffix})"
    clash = fresh.unavailable[f"xgboost ({source})"]
    assert clash.reason == "the name 'xgboost' is already taken by cvn_sklearn.models.xgboost:XGBoost"
    assert clash.hint == "rename the entry point (or uninstall the plugin)"


def test_decorating_a_second_class_with_a_taken_name_after_load_raises(isolated):
    REG.registry.models  # the (isolated) shared registry is loaded: new decorations go straight in

    @register_model("late_nb")
    class LateNB(Adapter):
        native = "sklearn.naive_bayes:GaussianNB"
        hyperparameters = dict(var_smoothing=1e-9)

    assert REG.registry["late_nb"] is LateNB
    assert REG.registry.entry("late_nb").source.endswith(":test_decorating_a_second_class_with_a_taken_name_after_load_raises.<locals>.LateNB")
    with pytest.raises(ValueError, match=r"Two registry entries are named 'late_nb': .*<locals>\.LateNB and .*<locals>\.LateNB2"):
        @register_model("late_nb")
        class LateNB2(Adapter):
            native = "sklearn.naive_bayes:GaussianNB"
            hyperparameters = dict(var_smoothing=1e-9)


# -- (g) read-only mapping and views ---------------------------------------------------------------------
def test_registry_is_a_read_only_mapping():
    assert isinstance(registry, Mapping)
    assert list(registry) == sorted(registry)
    assert set(registry) == set(BUILTIN) | set(registry.ensembles)
    assert len(registry) == len(registry.models) + len(registry.ensembles)
    assert not hasattr(registry, "__setitem__")
    with pytest.raises(TypeError, match="does not support item assignment"):
        registry["mine"] = GaussianNB
    with pytest.raises(TypeError, match="doesn't support item deletion|does not support item deletion"):
        del registry["xgboost"]
    assert "xgboost" in registry
    assert 42 not in registry


def test_models_and_ensembles_views_are_read_only():
    models = registry.models
    assert sorted(models) == BUILTIN
    assert all(isinstance(cls, type) and issubclass(cls, Adapter) for cls in models.values())
    assert set(models).isdisjoint(registry.ensembles)
    assert dict(registry.unavailable) == {}  # every library of the built-in models is installed here
    for view in (models, registry.ensembles, registry.unavailable):
        with pytest.raises(TypeError, match="does not support item assignment"):
            view["mine"] = GaussianNB
    for name, cls in models.items():
        assert registry[name] is cls
        assert cls._cvn_name == name
        assert registry.entry(name).source == f"cvn_sklearn.models.{name}:{cls.__qualname__}"


def test_registry_entry_reports_library():
    assert registry.entry("xgboost").library == "xgboost"
    assert registry.entry("catboost").library == "catboost"
    assert registry.entry("logreg").library == "scikit-learn"


def test_register_decorators_reject_misuse():
    with pytest.raises(TypeError, match="register_model decorates a class"):
        register_model("not_a_class")(lambda: None)
    with pytest.raises(ValueError, match=r"register_ensemble\('blend_x'\) needs base_models as a non-empty list"):
        register_ensemble("blend_x", base_models=[])


def test_model_may_not_redefine_common_parameters():
    with pytest.raises(TypeError, match=r"must not redefine the common parameters \['class_weight'\]"):
        class Bad(Adapter):  # noqa: F841 - raising at class creation is the point
            native = "sklearn.naive_bayes:GaussianNB"
            hyperparameters = dict(var_smoothing=1e-9, class_weight=None)


# -- (h) laziness --------------------------------------------------------------------------------------------
def _run(code: str) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], cwd=REPO, capture_output=True, text=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)},
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_registry_is_lazy_and_the_public_name_is_the_registry():
    # one subprocess (a fresh interpreter is the only honest view of sys.modules), several stages
    out = _run("""\
        import json, sys
        BOOSTERS = ("xgboost", "lightgbm", "catboost")
        loaded = lambda names=BOOSTERS: sorted(m for m in names if m in sys.modules)
        import cvn_sklearn
        out = {"after_import": loaded((*BOOSTERS, "sklearn"))}
        from cvn_sklearn import registry
        out["public_type"] = type(registry).__name__
        out["same_object"] = registry is cvn_sklearn.registry
        out["names"] = sorted(registry.models)
        out["params"] = sorted(registry["xgboost"]().get_params())
        out["after_listing"] = loaded()
        import numpy as np
        X = np.random.RandomState(0).normal(size=(60, 3)); y = (X[:, 0] > 0).astype(int)
        registry["lightgbm"](n_estimators=5, n_jobs=1).fit(X, y)
        out["after_fit"] = loaded()
        print(json.dumps(out))
    """)
    assert out["after_import"] == []  # import cvn_sklearn is cheap: no sklearn, no boosting library
    assert out["public_type"] == "Registry" and out["same_object"]  # `from cvn_sklearn import registry`
    assert out["names"] == BUILTIN
    assert "max_depth" in out["params"]
    assert out["after_listing"] == []  # listing, looking up and building estimators imports none of them
    assert out["after_fit"] == ["lightgbm"]  # fitting imports only that model's library
