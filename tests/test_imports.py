"""The package's imports: no cycle among its modules, every third-party import declared, one home per concept."""

import ast
import re
import subprocess
import sys
import sysconfig
import tomllib
import venv
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "cvn_sklearn"


def _modules() -> dict[str, Path]:
    modules = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def _imports(name: str, path: Path) -> set[str]:
    """The names ``path`` imports, anywhere in it (lazy imports inside functions too), made absolute."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                head = f"{base}.{node.module}" if node.module else base
            else:
                head = node.module
            found |= {head, *(f"{head}.{alias.name}" for alias in node.names)}
    return found


def import_graph() -> dict[str, set[str]]:
    """``{module: the package's modules it imports}`` (a name resolves to the longest module it names)."""
    modules = _modules()
    graph = {}
    for name, path in modules.items():
        edges = set()
        for imported in _imports(name, path):
            while imported and imported not in modules:
                imported = imported.rpartition(".")[0]
            if imported and imported != name and imported.startswith("cvn_sklearn"):
                edges.add(imported)
        graph[name] = edges
    return graph


def _cycle(graph) -> list | None:
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt == "cvn_sklearn" or node == "cvn_sklearn":
                continue  # the package's __init__ only re-exports lazily
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_cycle_among_the_packages_modules():
    graph = import_graph()
    assert len(graph) > 40 and "cvn_sklearn.sweep.run" in graph
    assert _cycle(graph) is None, f"import cycle: {' -> '.join(_cycle(graph))}"


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_lower_layers_never_import_the_sweep_the_harness_or_the_cli():
    graph = import_graph()
    top = {"cvn_sklearn.harness", "cvn_sklearn.cli"}
    for name, edges in graph.items():
        if name.startswith("cvn_sklearn.sweep") or name in top or name == "cvn_sklearn":
            continue
        assert not {e for e in edges if e.startswith("cvn_sklearn.sweep") or e in top}, name


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = [*project["dependencies"], *(d for extra in project["optional-dependencies"].values() for d in extra)]
    return {re.split(r"[\s\[<>=!~;]", name, maxsplit=1)[0].lower().replace("_", "-") for name in names}


def test_every_third_party_import_is_declared_in_pyproject():
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    distributions = packages_distributions()
    declared = _declared()
    missing = set()
    for name, path in _modules().items():
        for imported in _imports(name, path):
            top = imported.split(".")[0]
            if top in stdlib or top == "cvn_sklearn":
                continue
            owners = {d.lower().replace("_", "-") for d in distributions.get(top, [top])}
            if not owners & declared:
                missing.add(f"{top} ({path.relative_to(ROOT)})")
    assert not missing, f"imported but not declared in pyproject.toml: {sorted(missing)}"


# the helpers each concept once had in several homes; the one home of each is named in the message
RETIRED = {
    r"\bdef estimator_buy_label\b": "cvn_sklearn.metrics.buy_label is the one buy-label rule",
    r"\bfcntl\b": "cvn_sklearn._disk.file_lock is the one lock",
    r"\bmkstemp\b|\bos\.replace\b": "cvn_sklearn._disk.atomic_file is the one atomic write",
    r"\bhashlib\b|\bjoblib\.hash\b|\bhash_pandas_object\b": "cvn_sklearn._disk.fingerprint is the one fingerprint",
    r"\bFileLock\b": "cvn_sklearn._disk.file_lock is the one lock",
    r"PackageNotFoundError": "cvn_sklearn._disk.library_version reads library versions",
    r"\bthreadpool_limits\b": "cvn_sklearn.threads.limited_threads caps BLAS and OpenMP",
    r"\blabels_checked\b|_LABELS_CHECKED": "no context variable lets an estimator skip its checks",
    r"\bdef _buy_pct\b|np\.mean\([a-z_]+ == np\.unique": "cvn_sklearn.metrics.buy_pct is the one share of buys",
    r"\bdef _plain\b": "cvn_sklearn._disk.plain turns a numpy scalar into its Python value",
}
HOMES = {"cvn_sklearn/_disk.py", "cvn_sklearn/threads.py"}


@pytest.mark.parametrize("pattern", sorted(RETIRED))
def test_each_concept_has_one_home(pattern):
    found = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if str(path.relative_to(ROOT)) not in HOMES
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(pattern, line)
    ]
    assert not found, f"{RETIRED[pattern]}; found {pattern!r} at {found}"


_ONLY_DECLARED = r'''
import importlib, importlib.abc, importlib.metadata, pkgutil, re, sys, tomllib
from packaging.requirements import Requirement

def closure(names):
    seen, todo = set(), list(names)
    while todo:
        name = todo.pop().lower().replace("_", "-")
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = importlib.metadata.requires(name) or []
        except importlib.metadata.PackageNotFoundError:
            continue
        for text in requires:
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return seen

project = tomllib.loads(open("pyproject.toml", "rb").read().decode())["project"]
allowed = closure([Requirement(d).name for d in project["dependencies"]])
owners = importlib.metadata.packages_distributions()
stdlib = set(sys.stdlib_module_names)

class OnlyDeclared(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        top = name.split(".")[0]
        if top in stdlib or top == "cvn_sklearn" or top.startswith("_") or top not in owners:
            return None
        if not {d.lower().replace("_", "-") for d in owners[top]} & allowed:
            raise ModuleNotFoundError(f"{top} is not among pyproject.toml's dependencies", name=name)
        return None

sys.meta_path.insert(0, OnlyDeclared())
import cvn_sklearn
names = sorted(m.name for m in pkgutil.walk_packages(cvn_sklearn.__path__, "cvn_sklearn."))
for name in names:
    importlib.import_module(name)
print(len(names), "modules imported")
'''


def test_every_module_imports_with_only_the_dependencies_pyproject_declares():
    """Each module imports with nothing importable but the stdlib and the closure of ``[project] dependencies``.

    Extras (dask, matplotlib, the data packages) are imported only inside the functions that need them.
    """
    done = subprocess.run([sys.executable, "-c", _ONLY_DECLARED], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert re.search(r"^\d+ modules imported$", done.stdout, re.MULTILINE), done.stdout


THETA_NAMES = ("objective", "beta", "min_recall", "min_positives", "max_positive_rate", "max_positive_rate_ratio")


def test_the_theta_defaults_are_declared_once():
    """No signature or field outside ``_heldout`` spells a θ default out: each reads ``THETA_DEFAULTS``."""
    default = re.compile(rf"^\s*({'|'.join(THETA_NAMES)})\s*(:[^=]*)?=\s*(None|True|False|-?[0-9]|\"|')")
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.name != "_heldout.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if default.search(line) and " : " not in line  # numpydoc "name : type, default=..." lines document them
    ]
    assert not found, found
    from cvn_sklearn import CalibratedThetaClassifier, ThetaSweep
    from cvn_sklearn._heldout import THETA_DEFAULTS

    for estimator in (ThetaSweep(), CalibratedThetaClassifier()):
        assert {name: estimator.get_params()[name] for name in THETA_NAMES} == {n: THETA_DEFAULTS[n] for n in THETA_NAMES}
