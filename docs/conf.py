"""Sphinx configuration of the cvn_sklearn documentation site.

Build it from the repository root (CI runs exactly this, warnings as errors)::

    sphinx-build -W --keep-going -b html docs docs/_build/html

Generated on every build, never committed: ``docs/api/generated/`` (autosummary
pages, one per module and public name), ``docs/generated/`` (tables read from
the test suite) and ``docs/auto_examples/`` (the gallery, executed).
"""

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))  # the checkout's code, even without `pip install -e .`
sys.path.insert(0, str(DOCS / "_ext"))
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("OMP_NUM_THREADS", "1")  # gallery examples: one thread per fit on a shared machine
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # no progress bars in the build log

import cvn_sklearn  # noqa: E402

project = "cvn_sklearn"
author = "the cvn_sklearn developers"
copyright = "the cvn_sklearn developers"  # noqa: A001
release = version = cvn_sklearn.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
    "cvn_docs",  # docs/_ext/cvn_docs.py: API module list, estimator-check table, figure scraper
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "generated", "Thumbs.db", ".DS_Store", "auto_examples/*.ipynb", "auto_examples/*.py"]
templates_path = ["_templates"]

# -- Cross-references: every reference to this package must resolve --------------------------------
# Nitpicky mode turns an unresolved reference (a typo in a ``See Also`` or a :func: role) into a
# warning, and CI builds with -W. There is no network at build time, so references to other
# projects (numpy, scikit-learn, ...) cannot be resolved through intersphinx; they are ignored by
# their package prefix below. A reference to ``cvn_sklearn`` is never ignored.
nitpicky = True
_EXTERNAL = (
    "np", "numpy", "pd", "pandas", "scipy", "sklearn", "matplotlib", "optuna", "mlflow", "hamilton",
    "structlog", "skops", "dask", "xgboost", "lightgbm", "catboost", "joblib", "filelock", "logging",
    "typing", "collections", "pathlib", "datetime", "types", "enum", "abc", "os", "io", "copy", "threading", "importlib",
)
nitpick_ignore_regex = [
    (r"py:.*", rf"({'|'.join(_EXTERNAL)})(\..*)?"),
    # private names and dunders (``Adapter._native_to_bytes``, ``Adapter.__setstate__``) have no page
    (r"py:.*", r"(.*\.)?_\w*"),
    # builtins
    (r"py:.*", r"(str|int|float|bool|bytes|dict|list|tuple|set|type|object|callable|None|Exception|"
               r"ValueError|KeyError|TypeError|ImportError|RuntimeError|OSError|NamedTuple|TypedDict)"),
]

# -- API reference ---------------------------------------------------------------------------------
autosummary_generate = True
autosummary_ignore_module_all = False  # a module's page lists exactly its __all__
autosummary_imported_members = False
autodoc_typehints = "none"  # types are in the numpydoc docstrings, as in scikit-learn
autodoc_default_options = {"members": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False  # no intersphinx (no network at build time)

# -- Markdown pages ----------------------------------------------------------------------------------
myst_enable_extensions = ["colon_fence", "dollarmath", "deflist"]
myst_heading_anchors = 3

# -- The gallery: every script of examples/ runs on each build --------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r".*\.py$",  # execute every example, not only plot_*.py
    "ignore_pattern": r"(__init__|conftest)\.py$",
    "within_subsection_order": "FileNameSortKey",
    "image_scrapers": ("matplotlib", "cvn_docs.figure_scraper"),
    "reset_modules": ("matplotlib", "cvn_docs.reset_logging"),
    "abort_on_example_error": False,  # report every broken example; -W then fails the build
    "only_warn_on_example_error": False,
    "remove_config_comments": True,
    "download_all_examples": True,
    "show_memory": False,
    "capture_repr": ("_repr_html_", "__repr__"),
    "plot_gallery": "True",
    # "Examples using X" on each API page: the examples' uses of cvn_sklearn names, written next to
    # the autosummary pages; the class and function templates show them with ``minigallery``, under
    # every name the object is importable as (cvn_docs.backreference_names)
    "backreferences_dir": "api/generated/backreferences",
    "doc_module": ("cvn_sklearn",),
    "reference_url": {"cvn_sklearn": None},  # the examples' code links to the API pages
}

# -- HTML --------------------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"cvn_sklearn {release}"
html_theme_options = {
    "navigation_with_keys": False,
    # the root toctree has six entries (index.md); all of them in the top bar, none under "More"
    "header_links_before_dropdown": 6,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc", "sourcelink"],
}
html_static_path = []
html_show_sourcelink = True
