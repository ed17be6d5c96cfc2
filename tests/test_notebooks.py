"""The notebooks of examples/notebooks run top to bottom, and are stored without outputs.

Each runs in a fresh Jupyter kernel (nbclient, ipykernel) in a temporary working directory, so
anything a notebook writes outside its own temporary folders lands there, not in the repository.
"""

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="the test extra installs nbformat")
nbclient = pytest.importorskip("nbclient", reason="the test extra installs nbclient")

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "examples" / "notebooks").glob("*.ipynb"))


def test_there_is_a_quickstart_notebook():
    assert "quickstart.ipynb" in [path.name for path in NOTEBOOKS]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_is_stored_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    with_outputs = [i for i, cell in enumerate(notebook.cells) if cell.get("outputs") or cell.get("execution_count")]
    assert not with_outputs, f"{path.name}: cells {with_outputs} hold outputs; clear them before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_runs_top_to_bottom(path, tmp_path, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    errors = [output for cell in notebook.cells for output in cell.get("outputs", []) if output.get("output_type") == "error"]
    assert not errors
    images = [output for cell in notebook.cells for output in cell.get("outputs", []) if "image/png" in output.get("data", {})]
    assert len(images) >= 4, "the notebook draws its plots inline"
    html = ["".join(output["data"]["text/html"]) for cell in notebook.cells for output in cell.get("outputs", [])
            if "text/html" in output.get("data", {})]
    assert html
    if path.name == "quickstart.ipynb":  # its sweep, read back, shows its summary (ScreenResult._repr_html_)
        assert any("<b>ScreenResult</b>" in text and "PBO" in text for text in html)
    assert list(tmp_path.iterdir()) == []
