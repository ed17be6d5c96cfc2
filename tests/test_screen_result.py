"""A finished sweep read back from its folder (ScreenResult.load) and shown in a notebook (_repr_html_)."""

import json
import pickle
import shutil
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from cvn_sklearn.sweep import ScreenResult, SymbolData, screen


def _symbol(seed, n=300):
    rng = np.random.RandomState(seed)
    X = pd.DataFrame(rng.normal(size=(n, 2)), columns=["f0", "f1"], index=pd.date_range("2021-01-01", periods=n))
    y = pd.Series((X["f0"] + rng.normal(size=n) > 0.5).astype(int), index=X.index)
    return SymbolData(X, y, pd.Series(np.where(y == 1, 0.01, -0.01) + rng.normal(0, 0.01, n), index=X.index))


ODD = "a&b<x>"  # a variant name an HTML page must escape, once


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sweep")
    config = {"variants": [{"name": "logreg", "model": "logreg"}, {"name": ODD, "model": "logreg", "params": {"C": 0.01}},
                           {"name": "broken", "model": "logreg", "params": {"C": -1}}],
              "symbols": ["aaa", "bbb"], "folds": {"n_splits": 2, "gap": 2}, "calibration": "sigmoid",
              "folder": str(folder / "sweep"), "cost": 0.0005, "mlflow": False}
    return screen(config, data={"aaa": _symbol(1), "bbb": _symbol(2)})


def test_a_sweep_folder_loads_back_equal_table_by_table(sweep):
    back = ScreenResult.load(sweep.folder)
    for name in ("cells", "by_variant", "ranking", "returns", "returns_gross", "pooled", "pooled_gross"):
        pd.testing.assert_frame_equal(getattr(back, name), getattr(sweep, name), obj=name)
    assert back.pbo == sweep.pbo and 0.0 <= back.pbo <= 1.0
    assert (back.periods_per_year, back.calendar, back.folder) == (sweep.periods_per_year, sweep.calendar, sweep.folder)
    assert back.parent_run_id is None
    assert isinstance(back.cells["reliability_count"].dropna().iloc[0], list)  # as built, not Parquet's arrays
    assert back.ranking.loc["broken", "failed_cells"] == 4 and back.returns["broken"].isna().all()


def test_load_accepts_a_str_with_a_tilde(sweep, monkeypatch):
    monkeypatch.setenv("HOME", str(sweep.folder.parent))
    assert ScreenResult.load("~/sweep").ranking.equals(sweep.ranking)


def test_a_pbo_that_cannot_be_computed_loads_back_as_nan(tmp_path):
    # the MLflow parent run's id loads back too: tests/test_screen.py::test_mlflow_gets_one_parent_run...
    result = screen({"variants": [{"name": "only", "model": "logreg"}], "symbols": ["aaa"], "folds": {"n_splits": 2},
                     "folder": str(tmp_path), "mlflow": False, "cost": 0.0}, data={"aaa": _symbol(3)})
    assert np.isnan(result.pbo)
    assert json.loads((tmp_path / "result.json").read_text())["pbo"] is None  # JSON, not the non-standard NaN
    back = ScreenResult.load(tmp_path)
    assert np.isnan(back.pbo) and back.parent_run_id is None
    pd.testing.assert_frame_equal(back.cells, result.cells)


def _copy(sweep, tmp_path):
    return shutil.copytree(sweep.folder, tmp_path / "copy", ignore=shutil.ignore_patterns("cells"))


def test_not_a_sweep_folder_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ScreenResult.load(tmp_path / "nowhere")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(FileNotFoundError, match="is not a sweep's folder: it holds none of a sweep's results"):
        ScreenResult.load(tmp_path)


@pytest.mark.parametrize("removed", ["result.json", "pooled.parquet"])
def test_an_incomplete_folder_names_what_is_missing(sweep, tmp_path, removed):
    copy = _copy(sweep, tmp_path)
    (copy / removed).unlink()
    with pytest.raises(ValueError, match=rf"incomplete: {removed} missing.*run the sweep again"):
        ScreenResult.load(copy)


def test_a_sweep_that_rewrites_its_tables_first_removes_result_json(sweep, tmp_path, monkeypatch):
    from cvn_sklearn.sweep import tables

    copy = _copy(sweep, tmp_path)
    config = {"variants": [{"name": "logreg", "model": "logreg"}], "symbols": ["aaa"], "folds": {"n_splits": 2},
              "folder": str(copy), "mlflow": False, "cost": 0.0}

    def stopped(result):
        raise KeyboardInterrupt

    monkeypatch.setattr(tables, "write_summary", stopped)  # the process stops after the tables, before result.json
    with pytest.raises(KeyboardInterrupt):
        screen(config, data={"aaa": _symbol(1)})
    with pytest.raises(ValueError, match="incomplete: result.json missing"):
        ScreenResult.load(copy)


def test_tables_of_another_run_are_refused(sweep, tmp_path):
    copy = _copy(sweep, tmp_path)
    sweep.ranking.head(1).to_parquet(copy / "ranking.parquet")
    with pytest.raises(ValueError, match="ranking.parquet has 1 rows, result.json says 3"):
        ScreenResult.load(copy)


@pytest.mark.parametrize("content, problem", [
    ("{not json", "it is not JSON"),
    ("[1, 2]", "it is not a JSON object"),
    (json.dumps({"format": 99}), "its format is 99"),
    (None, "calendar of the wrong type"),
])
def test_a_malformed_result_json_is_refused(sweep, tmp_path, content, problem):
    copy = _copy(sweep, tmp_path)
    if content is None:
        summary = json.loads((copy / "result.json").read_text())
        content = json.dumps({**summary, "calendar": ["bars"]})
    (copy / "result.json").write_text(content)
    with pytest.raises(ValueError, match=rf"result.json' is not a sweep's result.json: {problem}"):
        ScreenResult.load(copy)


def test_a_pickle_in_place_of_a_table_is_refused_not_unpickled(sweep, tmp_path):
    copy = _copy(sweep, tmp_path)
    (copy / "cells.parquet").write_bytes(pickle.dumps(sweep.cells))
    with pytest.raises(ValueError, match=r"cells.parquet' is not a Parquet table"):
        ScreenResult.load(copy)


class _Page(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags, self.text, self.cells = [], [], []
        self._in_cell = False

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self._in_cell = tag == "td"

    def handle_endtag(self, tag):
        self._in_cell = False

    def handle_data(self, data):
        self.text.append(data)
        if self._in_cell:
            self.cells.append(data)


def test_the_notebook_summary_is_escaped_once_and_shows_no_python_repr(sweep):
    page = _Page()
    markup = sweep._repr_html_()
    page.feed(markup)
    text = "".join(page.text)
    assert set(page.tags) <= {"div", "p", "b", "code", "table", "thead", "tbody", "tr", "th", "td"}  # no <x> tag
    assert ODD in page.cells and "&amp;" not in text  # the name as written: escaped once, not twice
    assert sweep.ranking.index[0] in page.cells and "broken" in page.cells
    assert f"PBO = {sweep.pbo:.3f}" in text and "probability of backtest overfitting" in text
    assert "4 of 12 cells failed" in text and "Net of a round-trip cost per trade" in text
    assert str(sweep.folder) in text
    for repr_text in ("PosixPath(", "nan", "None", "<NA>", "DataFrame", "array("):
        assert repr_text not in text


def test_the_notebook_summary_of_a_loaded_sweep_is_the_same(sweep):
    assert ScreenResult.load(sweep.folder)._repr_html_() == sweep._repr_html_()
