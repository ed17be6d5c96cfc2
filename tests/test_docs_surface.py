"""What the API reference documents: public names only, each page finding the examples that use it."""

import importlib
import sys
from pathlib import Path

import pytest
from hamilton.graph_utils import find_functions

DOCS = Path(__file__).resolve().parents[1] / "docs"
DAG_MODULES = ["cvn_sklearn.dags.fixed_params", "cvn_sklearn.dags.hpo", "cvn_sklearn.dags.walk_forward",
               "cvn_sklearn.sweep.dag"]


@pytest.mark.parametrize("name", DAG_MODULES)
def test_no_hamilton_node_function_is_public_api(name):
    module = importlib.import_module(name)
    nodes = {function_name for function_name, _ in find_functions(module)}
    assert nodes, f"{name} is no Hamilton module any more; update DAG_MODULES"
    assert hasattr(module, "__all__"), f"{name} has no __all__: its API page would list its node functions"
    assert not nodes & set(module.__all__)


def test_the_api_pages_find_examples_under_every_import_path():
    sys.path.insert(0, str(DOCS / "_ext"))
    try:
        import cvn_docs
    finally:
        sys.path.remove(str(DOCS / "_ext"))
    names = {page: set(aliases.split()) for page, aliases in cvn_docs.backreference_names().items()}
    assert {"cvn_sklearn.screen", "cvn_sklearn.sweep.screen", "cvn_sklearn.sweep.run.screen"} <= names[
        "cvn_sklearn.sweep.run.screen"]
    assert {"cvn_sklearn.sweep.ScreenResult.load", "cvn_sklearn.sweep.tables.ScreenResult.load"} <= names[
        "cvn_sklearn.sweep.tables.ScreenResult"]
    assert "cvn_sklearn.models.xgboost.XGBoost.predict_proba" in names["cvn_sklearn.models.xgboost.XGBoost"]
    assert not any(page.startswith("cvn_sklearn.sweep.dag.") for page in names)
    assert cvn_docs._defined_name("cvn_sklearn.sweep.ScreenResult.load") == "cvn_sklearn.sweep.tables.ScreenResult.load"
    assert cvn_docs._defined_name("cvn_sklearn.nowhere") is None
