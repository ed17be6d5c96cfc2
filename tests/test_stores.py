"""Stores that verify what they read: the cell store, the OOS store, the cell key; tables rebuilt from the cells."""

import pickle
import shutil

import numpy as np
import pandas as pd
import pytest
from structlog.testing import capture_logs

from cvn_sklearn.harness import screen
from cvn_sklearn.sweep import ScreenConfig, SymbolData
from cvn_sklearn.sweep.plan import plan_cells
from cvn_sklearn.sweep.store import ROWS_DTYPE, CellStore, _checksum, cell_rows
from test_screen import _symbol


DATA = {"aaa": _symbol(1, n=300), "bbb": _symbol(2, n=300)}  # test_screen's symbols, shorter
VARIANTS = [{"name": "logreg", "model": "logreg"}, {"name": "logreg_l2", "model": "logreg", "params": {"C": 0.01}}]


def _config(folder, **changes):
    return {"variants": VARIANTS, "symbols": ["aaa", "bbb"], "folds": {"n_splits": 2, "gap": 2},
            "calibration": "sigmoid", "folder": str(folder), "mlflow": False, "cost": 0.0, **changes}


def _events(logs, name, **fields):
    return [e for e in logs if e["event"] == name and all(e.get(k) == v for k, v in fields.items())]


_TIMES = ["seconds", "training_time_sec", "cached"]


def _same_results(a, b):
    pd.testing.assert_frame_equal(a.cells.drop(columns=_TIMES), b.cells.drop(columns=_TIMES))
    pd.testing.assert_frame_equal(a.by_variant, b.by_variant)
    pd.testing.assert_frame_equal(a.ranking, b.ranking)
    pd.testing.assert_frame_equal(a.returns, b.returns)
    assert a.pbo == b.pbo or (np.isnan(a.pbo) and np.isnan(b.pbo))


# -- the cell store verifies each cell --------------------------------------------------------------------------


def _stored(tmp_path):
    """A store of two cells, ``k2`` then ``k1``: ``k1`` ends its segment."""
    store = CellStore(tmp_path)
    store.put({"key": "k2", "status": "ok", "variant": "b"}, index=[3, 4], signal=[0, 0], proba=[0.1, 0.2],
              returns=[0.01, -0.02])
    store.put({"key": "k1", "status": "ok", "variant": "a", "curve": np.array([0.25, 0.5]), "counts": np.array([3, 1])},
              index=[3, 4], signal=[1, 0], proba=[0.7, 0.2], returns=[0.01, -0.02])
    return store


def _cell_bytes(store, key):
    """``(segment, start, end)`` of the latest copy of ``key``: its bytes are ``segment.read_bytes()[start:end]``."""
    frame = CellStore(store.folder.parent)._frame(key)
    return frame.path, frame.start, frame.start + frame.header + frame.body


def _edit_cell(store, key, change):
    """Replace the latest copy of ``key`` in its segment by ``change(its bytes)``; the cells around it kept."""
    segment, start, end = _cell_bytes(store, key)
    content = segment.read_bytes()
    segment.write_bytes(content[:start] + change(content[start:end]) + content[end:])


def _parts(cell: bytes):
    """A cell's header fields (key, record length, body length, written, checksum) and its body."""
    line, body = cell.split(b"\n", 1)
    fields = line[len(b"cvn_sklearn cell 4 "):].split(b" ")
    return fields[0].decode(), int(fields[1]), int(fields[2]), int(fields[3]), fields[4], body


def _forged(key: str, text: bytes, rest: bytes, written: int = 1) -> bytes:
    """A cell written wrongly on purpose, its lengths and checksum made to match."""
    body = text + rest
    digest = _checksum(key, len(text), len(body), written, body).encode()
    return b"cvn_sklearn cell 4 %s %d %d %d %s\n%s" % (key.encode(), len(text), len(body), written, digest, body)


def _rewritten(old: bytes, new: bytes):
    """A change of a cell: ``old`` replaced by ``new`` in its record, its lengths and checksum made to match."""
    def change(cell):
        key, length, _, written, _, body = _parts(cell)
        text = body[:length]
        assert text.count(old) == 1, old
        return _forged(key, text.replace(old, new), body[length:], written)
    return change


def _replaced(old: bytes, new: bytes):
    def change(cell):
        assert cell.count(old) == 1, old
        return cell.replace(old, new)
    return change


def _an_npz() -> bytes:
    import io

    buffer = io.BytesIO()
    np.savez(buffer, rows=np.array([{"a": 1}, None], dtype=object))
    return buffer.getvalue()


def _header_changed(index: int, change):
    """A change of one field of a cell's header line (0 the key, 1 the record's length, ...), the rest as it was."""
    def edit(cell):
        line, body = cell.split(b"\n", 1)
        fields = line.split(b" ")
        fields[3 + index] = change(fields[3 + index])
        return b" ".join(fields) + b"\n" + body
    return edit


def _another_keys_body(cell):
    """``k1``'s header over ``k2``'s record and rows, the checksum made to match (copied over another key)."""
    key, _, _, written, _, _ = _parts(cell)
    segment, start, end = _cell_bytes(_another_keys_body.store, "k2")
    _, length, _, _, _, body = _parts(segment.read_bytes()[start:end])
    return _forged(key, body[:length], body[length:], written)


_DAMAGES = {  # what happens to k1's bytes, and what the one warning says
    "truncated": (lambda c: c[: len(c) // 2], "torn"),
    "last row cut short": (lambda c: c[:-3], "torn"),
    "text": (lambda c: b"hello", "not a cell"),
    "a pickle in its place": (lambda c: pickle.dumps({"key": "k1", "status": "ok"}), "not a cell"),
    "an npz of objects in its place": (lambda c: _an_npz(), "not a cell"),
    "record edited": (_replaced(b'"status": "ok"', b'"status": "no"'), "checksum mismatch"),
    "a row edited": (lambda c: c[:-1] + b"\x01", "checksum mismatch"),
    "no checksum": (lambda c: c.replace(c.split(b"\n", 1)[0].rsplit(b" ", 1)[1], b"", 1), "not a cell"),
    "key changed in the header": (_header_changed(0, lambda f: b"k3"), None),
    "record length changed": (_header_changed(1, lambda f: b"%d" % (int(f) - 1)), "checksum mismatch"),
    "written time changed": (_header_changed(3, lambda f: b"%d" % (int(f) + 1)), "checksum mismatch"),
    "an array edited": (_replaced(np.array([0.25, 0.5]).tobytes(), np.array([0.25, 0.75]).tobytes()),
                        "checksum mismatch"),
    # written wrongly, with a checksum that matches: the layout is checked all the same
    "an array longer than the cell": (_rewritten(b'"curve", "<f8", 2]', b'"curve", "<f8", 9]'),
                                      "lengths do not add up"),
    "an array of objects": (_rewritten(b'"curve", "<f8", 2]', b'"curve", "|O", 2]'), "damaged list of arrays"),
    "an array named as a field": (_rewritten(b'"curve", "<f8", 2]', b'"status", "<f8", 2]'), "damaged list of arrays"),
    "an array named twice": (_rewritten(b'"counts", "<i8", 2]', b'"curve", "<f8", 2]'), "damaged list of arrays"),
    "a number among the arrays": (_rewritten(b'"counts", "<i8", 2]', b'"counts", "<i8", 2], 5'),
                                  "damaged list of arrays"),
    "a record that is not JSON": (lambda c: _forged("k1", b"{not json", b""), "not JSON text"),
    "a record of another shape": (lambda c: _forged("k1", b'{"key": "k1"}', b""), "not a cell record"),
    "another key's cell": (_another_keys_body, "holds another cell"),
}


@pytest.mark.parametrize("damage", list(_DAMAGES))
def test_a_damaged_or_foreign_cell_is_rejected_with_one_warning_naming_its_segment(tmp_path, damage):
    store = _stored(tmp_path)
    change, reason = _DAMAGES[damage]
    _another_keys_body.store = store
    segment = store.path("k1")
    _edit_cell(store, "k1", change)
    store = CellStore(tmp_path)  # a new reading of the folder, as a new run makes
    with capture_logs() as logs:
        assert store.get("k1") is None
        assert store.get("k2")[0]["variant"] == "b"  # the other cell is untouched
    if reason is None:  # the cell is k3's now, and k3's checksum fails: k1 is absent, k3 rejected when asked for
        assert logs == [] and store.keys() == {"k2", "k3"}
        with capture_logs() as logs:
            assert store.get("k3") is None
        reason = "checksum mismatch"
    [event] = logs
    assert event["event"] == "store_file_rejected" and event["log_level"] == "warning"
    assert event["store"] == "cells" and event["path"] == str(segment) and reason in event["reason"], event


def test_bytes_that_are_not_a_cell_are_skipped_to_the_next_cell_and_reported_once(tmp_path):
    store = _stored(tmp_path)
    _edit_cell(store, "k2", lambda c: b"garbage " + c)  # before k2's header, in the middle of the segment
    store = CellStore(tmp_path)
    with capture_logs() as logs:
        assert store.keys() == {"k1", "k2"} and store.keys() == {"k1", "k2"}
        assert store.get("k2")[0]["variant"] == "b" and store.get("k1")[0]["variant"] == "a"
    [event] = logs
    assert event["path"] == str(store.path("k1")) and "bytes 0 to 8 are not a cell" in event["reason"], event


@pytest.mark.parametrize("change, reasons", [
    (-1, ["checksum mismatch (the cell was altered, damaged or truncated) (the cell at byte 0)",
          "are not a cell"]),  # the byte left over before k1
    (+5, ["its length runs over the next cell (damaged) (the cell at byte 0)"]),  # k1's header inside it
])
def test_a_cell_whose_length_is_damaged_is_rejected_and_the_cells_after_it_are_read(tmp_path, change, reasons):
    store = _stored(tmp_path)
    _edit_cell(store, "k2", _header_changed(2, lambda f: b"%d" % (int(f) + change)))  # k2's body length
    store = CellStore(tmp_path)
    with capture_logs() as logs:
        assert store.get("k1")[0]["variant"] == "a"
        assert store.get("k2") is None
    assert len(logs) == len(reasons) and all(any(r in e["reason"] for e in logs) for r in reasons), logs


def test_a_segment_that_cannot_be_read_is_reported_and_its_cells_are_absent(tmp_path):
    store = _stored(tmp_path)
    (store.folder / "0-unreadable.cells").mkdir()  # not a file: open() fails
    with capture_logs() as logs:
        again = CellStore(tmp_path)
        assert again.keys() == {"k1", "k2"} and again.get("k1")[0]["variant"] == "a"
    [event] = logs
    assert event["path"] == str(store.folder / "0-unreadable.cells")
    assert "the segment could not be read (IsADirectoryError" in event["reason"], event


def test_a_cell_stored_again_is_read_from_its_latest_copy(tmp_path):
    store = _stored(tmp_path)
    rows = {"index": [1], "signal": [1], "proba": [0.7], "returns": [0.1]}
    store.put({"key": "k1", "status": "failed", "variant": "a"}, **rows)
    assert CellStore(tmp_path).get("k1")[0]["status"] == "failed"
    store.put({"key": "k1", "status": "ok", "variant": "a2"}, **rows)  # e.g. retry_failed
    again = CellStore(tmp_path)
    assert again.keys() == {"k1", "k2"} and again.get("k1")[0] == {"key": "k1", "status": "ok", "variant": "a2"}
    assert again.written("k1") >= again.written("k2")


def test_a_cell_key_is_a_word(tmp_path):
    rows = {"index": [1], "signal": [1], "proba": [0.7], "returns": [0.1]}
    for key in ("two words", "line\nbreak", "", "x" * 129, 7):
        with pytest.raises(ValueError, match="A cell's key must be 1 to 128 letters, digits"):
            CellStore(tmp_path).put({"key": key, "status": "ok"}, **rows)
    assert CellStore(tmp_path).keys() == set()


def test_a_missing_cell_is_absent_without_a_warning(tmp_path):
    with capture_logs() as logs:
        assert CellStore(tmp_path).get("nothing") is None
        assert CellStore(tmp_path).path("nothing") is None and CellStore(tmp_path).written("nothing") is None
    assert logs == []


def test_a_damaged_and_a_foreign_cell_are_recomputed_once_with_one_warning_each(tmp_path):
    with capture_logs():
        fresh = screen(_config(tmp_path / "fresh"), data=DATA)
    folder = tmp_path / "sweep"
    first = screen(_config(folder), data=DATA)
    store = CellStore(folder)
    damaged, foreign, other = first.cells["key"].iloc[[0, 3, 5]]
    flip = lambda cell: cell[:-40] + bytes([cell[-40] ^ 1]) + cell[-39:]  # noqa: E731 - one bit of one row
    _edit_cell(store, damaged, flip)
    _, start, end = _cell_bytes(store, other)
    other_text, other_rest = (lambda p: (p[5][: p[1]], p[5][p[1]:]))(_parts(store.path(other).read_bytes()[start:end]))
    _edit_cell(store, foreign, lambda cell: _forged(foreign, other_text, other_rest, _parts(cell)[3]))
    for retry_failed in (False, True):  # retry_failed read every cell too: a damaged one crashed it
        if retry_failed:
            _edit_cell(store, damaged, flip)  # its new copy, now the latest
        expected = [damaged] if retry_failed else [damaged, foreign]
        where = sorted((str(_cell_bytes(store, key)[0]), f"(the cell at byte {_cell_bytes(store, key)[1]})")
                       for key in expected)
        with capture_logs() as logs:
            again = screen(_config(folder, retry_failed=retry_failed), data=DATA)
        rejected = _events(logs, "store_file_rejected")
        assert sorted((e["path"], e["reason"][e["reason"].rindex("(the cell"):]) for e in rejected) == where
        assert {e["log_level"] for e in rejected} == {"warning"}
        computed = _events(logs, "cell_complete", cached=False)
        assert len(computed) == len(expected) and len(_events(logs, "cell_complete", cached=True)) == 8 - len(expected)
        assert set(again.cells.loc[~again.cells["cached"], "key"]) == set(expected)
        _same_results(again, fresh)
    with capture_logs() as logs:  # the rejected cells were stored again: nothing to warn about, nothing to compute
        third = screen(_config(folder), data=DATA)
    assert not _events(logs, "store_file_rejected") and third.cells["cached"].all()
    _same_results(third, fresh)


def test_tables_are_rebuilt_from_the_cells_never_read_back(tmp_path):
    first = screen(_config(tmp_path), data=DATA)
    ranking = pd.read_parquet(first.folder / "ranking.parquet")
    ranking["dsr"] = 0.999  # a stale or altered table in the folder
    ranking.to_parquet(first.folder / "ranking.parquet")
    pd.read_parquet(first.folder / "cells.parquet").iloc[:1].to_parquet(first.folder / "cells.parquet")
    again = screen(_config(tmp_path), data=DATA)
    assert again.cells["cached"].all()
    _same_results(again, first)
    pd.testing.assert_frame_equal(pd.read_parquet(first.folder / "ranking.parquet"), first.ranking)  # written again


# -- a variant's name is part of its cells ---------------------------------------------------------------------


def test_two_variants_with_one_model_and_different_names_are_two_rows_everywhere(tmp_path):
    variants = [{"name": "lr_a", "model": "logreg", "params": {"C": 0.5}},
                {"name": "lr_b", "model": "logreg", "params": {"C": 0.5}},
                {"name": "lr_weak", "model": "logreg", "params": {"C": 0.001}}]
    result = screen(_config(tmp_path, variants=variants), data=DATA)
    cells = result.cells
    assert cells.groupby("variant").size().to_dict() == {"lr_a": 4, "lr_b": 4, "lr_weak": 4}
    assert cells["key"].nunique() == 12 and CellStore(tmp_path).keys() == set(cells["key"])
    assert set(result.by_variant["variant"]) == {"lr_a", "lr_b", "lr_weak"}
    assert sorted(result.ranking.index) == ["lr_a", "lr_b", "lr_weak"]
    # the same model on the same rows: the same figures under both names
    a, b = (cells[cells["variant"] == name].drop(columns=["variant", "key", *_TIMES]).reset_index(drop=True)
            for name in ("lr_a", "lr_b"))
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_series_equal(result.pooled["lr_a"], result.pooled["lr_b"], check_names=False)
    assert result.ranking.loc["lr_a", "sharpe_ann"] == result.ranking.loc["lr_b", "sharpe_ann"]
    assert result.pbo < 1.0
    again = screen(_config(tmp_path, variants=variants), data=DATA)  # and read back under both names
    assert again.cells["cached"].all() and again.cells["variant"].tolist() == cells["variant"].tolist()


# -- the key covers every input that changes a cell's result, and nothing else ------------------------------------


def _close_and_t1(data):
    times = data.X.index
    close = pd.Series(100 * np.exp(np.cumsum(np.asarray(data.returns))), index=times)
    t1 = pd.Series(times[np.minimum(np.arange(len(times)) + 3, len(times) - 1)], index=times)
    return close, t1


def _keys(config, data):
    plan = plan_cells(ScreenConfig.model_validate(config), data)
    return {(c.variant.name, c.symbol, c.fold.index): c.key for c in plan.cells}


def _changed(before, after):
    """The cells (in both plans) whose key changed."""
    return {cell for cell in before.keys() & after.keys() if before[cell] != after[cell]}


ALL = "all"
NONE = frozenset()
_BBB = {(v["name"], "bbb", f) for v in VARIANTS for f in (0, 1)}
_EVERY = {(v["name"], s, f) for v in VARIANTS for s in ("aaa", "bbb") for f in (0, 1)}

# (config change, the cells whose key must change): every ScreenConfig field
_CONFIG_CHANGES = {
    "variants: params of one": ({"variants": [VARIANTS[0], {**VARIANTS[1], "params": {"C": 0.02}}]},
                                {("logreg_l2", s, f) for s in ("aaa", "bbb") for f in (0, 1)}),
    "variants: one added": ({"variants": [*VARIANTS, {"name": "x", "model": "logreg", "params": {"C": 3.0}}]}, NONE),
    "variants: reordered": ({"variants": VARIANTS[::-1]}, NONE),
    "symbols: one dropped": ({"symbols": ["aaa"]}, NONE),
    "symbols: reordered": ({"symbols": ["bbb", "aaa"]}, NONE),
    "folds.n_splits": ({"folds": {"n_splits": 3, "gap": 2}}, _EVERY),
    "folds.test_size": ({"folds": {"n_splits": 2, "gap": 2, "test_size": 50}}, _EVERY),
    "folds.gap": ({"folds": {"n_splits": 2, "gap": 4}}, _EVERY),
    # with 2 folds no training window holds rows after an earlier test block: nothing to embargo
    "folds.embargo, 2 folds": ({"folds": {"n_splits": 2, "gap": 2, "embargo": 5}}, NONE),
    "folds.max_train_size (fold 0's window is shorter)": ({"folds": {"n_splits": 2, "gap": 2, "max_train_size": 150}},
                                                          {c for c in _EVERY if c[2] == 1}),
    "folds.val_size": ({"folds": {"n_splits": 2, "gap": 2, "val_size": 0.3}}, _EVERY),
    "label.* (data given: not read)": ({"label": {"kind": "forward_return", "horizon": 3, "cusum": 1.0}}, NONE),
    "calibration": ({"calibration": "isotonic"}, _EVERY),
    "objective": ({"objective": "sortino"}, _EVERY),
    "constraints": ({"constraints": {"min_positives": 3}}, _EVERY),
    "pos_label: 1 is the default buy label of 0/1": ({"pos_label": 1}, NONE),
    "pos_label: 0": ({"pos_label": 0}, _EVERY),
    "cost": ({"cost": 0.001}, _EVERY),
    "costs: one symbol's": ({"costs": {"bbb": 0.001}}, _BBB),
    "costs: equal to cost": ({"costs": {"bbb": 0.0}}, NONE),
    "positions": ({"positions": "equal_weight"}, _EVERY),
    "sizing": ({"sizing": "probability"}, _EVERY),
    "break_even (binary sizing does not read it)": ({"break_even": 0.6}, NONE),
    "executor": ({"executor": "dask"}, NONE),
    "scheduler": ({"executor": "dask", "scheduler": "tcp://127.0.0.1:1"}, NONE),
    "n_workers": ({"n_workers": 7}, NONE),
    "folder": ({"folder": "elsewhere"}, NONE),
    "mlflow": ({"mlflow": True}, NONE),
    "tracking_uri": ({"tracking_uri": "sqlite:///other.db"}, NONE),
    "experiment": ({"experiment": "other"}, NONE),
    "registered_model": ({"registered_model": "champion"}, NONE),
    "retry_failed": ({"retry_failed": True}, NONE),
}


@pytest.mark.parametrize("field", list(_CONFIG_CHANGES))
def test_a_config_field_changes_the_keys_of_exactly_the_cells_whose_result_it_can_change(tmp_path, field):
    change, expected = _CONFIG_CHANGES[field]
    before = _keys(_config(tmp_path), DATA)
    after = _keys({**_config(tmp_path), **change}, DATA)
    assert _changed(before, after) == set(expected)


def test_a_renamed_variant_or_symbol_is_a_new_cell(tmp_path):
    before = _keys(_config(tmp_path), DATA)
    renamed = _keys(_config(tmp_path, variants=[VARIANTS[0], {**VARIANTS[1], "name": "other"}]), DATA)
    assert {renamed[("other", s, f)] for s in DATA for f in (0, 1)}.isdisjoint(before.values())
    moved = _keys(_config(tmp_path, symbols=["aaa", "ccc"]), {**DATA, "ccc": DATA["bbb"]})
    assert {moved[(v["name"], "ccc", f)] for v in VARIANTS for f in (0, 1)}.isdisjoint(before.values())


def test_embargo_changes_the_folds_whose_training_window_it_cuts(tmp_path):
    before = _keys(_config(tmp_path, folds={"n_splits": 3, "gap": 2}), DATA)
    after = _keys(_config(tmp_path, folds={"n_splits": 3, "gap": 2, "embargo": 5}), DATA)
    assert _changed(before, after) == {(v["name"], s, 2) for v in VARIANTS for s in DATA}  # fold 2 fits on fold 1's rows


def test_break_even_changes_every_cell_when_sizing_reads_it(tmp_path):
    before = _keys(_config(tmp_path, sizing="probability"), DATA)
    after = _keys(_config(tmp_path, sizing="probability", break_even=0.6), DATA)
    assert _changed(before, after) == _EVERY


def _edited(data, **changes):
    return {**DATA, "bbb": data._replace(**changes)}


def _with_row0(values, delta):
    """A copy of ``values`` with its first row's first value moved by ``delta`` (a row every cell fits on)."""
    values = values.copy()
    if isinstance(values, pd.DataFrame):
        values.iloc[0, 0] += delta
    else:
        values.iloc[0] += delta
    return values


def _symbol_changes():
    bbb = DATA["bbb"]
    close, t1 = _close_and_t1(bbb)
    full = bbb._replace(t1=t1, close=close)
    return {  # (base data of bbb, changed data of bbb, whether bbb's cells change): every SymbolData field
        "X": (bbb, bbb._replace(X=_with_row0(bbb.X, 1.0)), True),
        "y": (bbb, bbb._replace(y=bbb.y.where(bbb.y.index != bbb.y.index[0], 1 - bbb.y.iloc[0])), True),
        "returns": (bbb, bbb._replace(returns=_with_row0(bbb.returns, 0.5)), True),
        "t1": (bbb._replace(t1=t1), bbb._replace(t1=t1.where(t1.index != t1.index[0], t1.index[1])), True),
        "t1 given": (bbb, bbb._replace(t1=t1), True),
        "periods_per_year": (bbb, bbb._replace(periods_per_year=365.0), True),
        "close": (full, full._replace(close=close * 1.01), True),
        "close given": (bbb._replace(t1=t1), full, True),
        "cusum_metadata (kept on the artifact, not in a cell)": (bbb, bbb._replace(cusum_metadata={"h": 1.0}), False),
        "the same rows, another object": (bbb, SymbolData(*(part.copy() if hasattr(part, "copy") else part
                                                            for part in bbb)), False),
    }


@pytest.mark.parametrize("field", list(_symbol_changes()))
def test_a_symbol_data_field_changes_the_keys_of_that_symbols_cells_exactly_when_it_can_change_them(tmp_path, field):
    base, changed, changes = _symbol_changes()[field]
    before = _keys(_config(tmp_path), {**DATA, "bbb": base})
    after = _keys(_config(tmp_path), {**DATA, "bbb": changed})
    assert _changed(before, after) == (_BBB if changes else set())


def test_a_change_of_periods_per_year_or_close_changes_the_cells_figures(tmp_path):
    """The two inputs the key missed or could miss: each changes a cell's stored trading figures."""
    bbb = DATA["bbb"]
    close, t1 = _close_and_t1(bbb)
    base = screen(_config(tmp_path / "a", symbols=["bbb"], variants=VARIANTS[:1]), data={"bbb": bbb._replace(t1=t1)})
    yearly = screen(_config(tmp_path / "a", symbols=["bbb"], variants=VARIANTS[:1]),
                    data={"bbb": bbb._replace(t1=t1, periods_per_year=52.0)})
    priced = screen(_config(tmp_path / "a", symbols=["bbb"], variants=VARIANTS[:1]),
                    data={"bbb": bbb._replace(t1=t1, close=close)})
    assert not yearly.cells["cached"].any() and not priced.cells["cached"].any()
    assert (yearly.cells["periods_per_year"] == 52.0).all() and (base.cells["periods_per_year"] == 252.0).all()
    traded = base.cells["n_trades"] > 0
    assert traded.any()
    assert (yearly.cells.loc[traded, "sharpe_ann"] != base.cells.loc[traded, "sharpe_ann"]).all()
    assert (priced.cells.loc[traded, "sharpe_ann"] != base.cells.loc[traded, "sharpe_ann"]).all()


# -- the OOS store verifies each entry -------------------------------------------------------------------------


def _stack_fit(folder, X, y):
    """A stacker over the registry's logreg on the directory store ``folder``: its probabilities and the base fits."""
    from cvn_sklearn.model_selection import WalkForwardSplit
    from cvn_sklearn.oos_store import OOSStore
    from cvn_sklearn.registry import registry
    from cvn_sklearn.stacking import StackingClassifier

    with capture_logs() as logs:
        stack = StackingClassifier([("lr", registry["logreg"]())], cv=WalkForwardSplit(3, test_size=40),
                                   cache=OOSStore(folder)).fit(X, y)
    fits = len(_events(logs, "training_started", model_type="logreg"))
    return stack.predict_proba(X), fits, _events(logs, "store_file_rejected")


def _oos_entries(folder):
    return sorted(folder.glob("*.npz")), sorted(folder.glob("*.skops"))


def _truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


_OOS_DAMAGES = {
    "truncated": (_truncate, "not a zip file"),
    "empty": (lambda p: p.write_bytes(b""), "not a zip file"),
    "corrupt member (zip CRC)": (lambda p: p.write_bytes(p.read_bytes()[:200] + bytes(40) + p.read_bytes()[240:]),
                                 "unreadable"),
}


@pytest.mark.parametrize("damage", list(_OOS_DAMAGES))
@pytest.mark.parametrize("kind", ["oos predictions", "refit"])
def test_a_damaged_oos_entry_is_recomputed_with_one_warning_naming_it(tmp_path, damage, kind):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(240, 4))
    y = (X[:, 0] + rng.normal(size=240) > 0).astype(int)
    first, fits, _ = _stack_fit(tmp_path / "oos", X, y)
    assert fits == 4  # three folds and the refit
    [oos_file], [refit_file] = _oos_entries(tmp_path / "oos")
    damaged = oos_file if kind == "oos predictions" else refit_file
    change, reason = _OOS_DAMAGES[damage]
    change(damaged)
    again, fits, rejected = _stack_fit(tmp_path / "oos", X, y)
    assert [e["path"] for e in rejected] == [str(damaged)] and reason in rejected[0]["reason"], rejected
    assert rejected[0]["store"] == "oos" and rejected[0]["log_level"] == "warning"
    assert fits == (3 if kind == "oos predictions" else 1)  # only the damaged entry is computed again
    np.testing.assert_array_equal(again, first)
    third, fits, rejected = _stack_fit(tmp_path / "oos", X, y)  # replaced: nothing to warn about or compute
    assert fits == 0 and rejected == []
    np.testing.assert_array_equal(third, first)


def test_an_oos_entry_copied_over_another_key_is_never_used(tmp_path):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(240, 4))
    y = (X[:, 0] + rng.normal(size=240) > 0).astype(int)
    first, _, _ = _stack_fit(tmp_path / "a", X, y)
    _stack_fit(tmp_path / "b", X[::-1].copy(), y[::-1].copy())  # other rows: other entries
    (a_oos,), (a_refit,) = _oos_entries(tmp_path / "a")
    (b_oos,), (b_refit,) = _oos_entries(tmp_path / "b")
    shutil.copyfile(b_oos, a_oos)
    shutil.copyfile(b_refit, a_refit)
    again, fits, rejected = _stack_fit(tmp_path / "a", X, y)
    assert sorted(e["path"] for e in rejected) == sorted([str(a_oos), str(a_refit)])
    assert all("holds another entry" in e["reason"] for e in rejected), rejected
    assert fits == 4
    np.testing.assert_array_equal(again, first)


def test_opening_or_unpickling_a_directory_store_writes_nothing(tmp_path):
    from cvn_sklearn.oos_store import OOSStore

    store = OOSStore(tmp_path / "nowhere")
    restored = pickle.loads(pickle.dumps(store))
    assert restored.path == store.path and not (tmp_path / "nowhere").exists()


_KILLED_WRITER = """
import os, sys
from cvn_sklearn.sweep.store import CellStore
store = CellStore(sys.argv[1])
cell = sys.stdin.buffer.readline()[:-1].replace(b"\\\\n", b"\\n")
handle = os.open(store._segment(), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
os.write(handle, cell[: len(cell) // 2])  # half of a cell: what a process killed mid-append leaves
print("writing", flush=True)
sys.stdin.read()  # until killed
"""


def test_a_cell_computed_twice_is_read_once_even_when_a_writer_dies_mid_write(tmp_path):
    # what a lost Dask worker leaves: Dask runs its cells again elsewhere, maybe one it had written or was writing
    import signal
    import subprocess
    import sys

    store = CellStore(tmp_path)
    rows = {"index": [1, 2], "signal": [0, 1], "proba": [0.2, 0.7], "returns": [0.1, -0.2]}
    store.put({"key": "k", "status": "ok", "seconds": 0.1}, **rows)
    segment, start, end = _cell_bytes(store, "k")
    cell = segment.read_bytes()[start:end]
    writer = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, str(tmp_path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE)
    try:
        writer.stdin.write(cell.replace(b"\n", b"\\n") + b"\n")
        writer.stdin.flush()
        assert writer.stdout.readline() == b"writing\n"
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait()
    assert len(list(store.folder.iterdir())) == 2  # this process's segment, and the killed one's, torn
    with capture_logs() as logs:
        again = CellStore(tmp_path)
        assert again.keys() == {"k"} and again.get("k")[0]["seconds"] == 0.1  # the torn copy ignored: k has a whole one
    assert logs == []
    store.put({"key": "k", "status": "ok", "seconds": 0.2}, **rows)  # computed again: its latest copy
    again = CellStore(tmp_path)
    assert again.keys() == {"k"} and again.get("k")[0] == {"key": "k", "status": "ok", "seconds": 0.2}


def test_a_torn_cell_without_a_whole_copy_is_rejected_and_the_next_cells_go_to_a_new_segment(tmp_path, monkeypatch):
    import cvn_sklearn.sweep.store as store_module

    store = CellStore(tmp_path)
    rows = {"index": [1], "signal": [1], "proba": [0.7], "returns": [0.1]}

    def half_then_full_disk(path, parts):
        data = b"".join(parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "ab") as file:
            file.write(data[: len(data) // 2])
        raise OSError(28, "No space left on device")

    first = store._segment()
    monkeypatch.setattr(store_module, "append_whole", half_then_full_disk)
    with pytest.raises(OSError, match="No space left"):
        store.put({"key": "k1", "status": "ok", "note": "a record long enough to tear after its header " * 8}, **rows)
    monkeypatch.undo()
    store.put({"key": "k2", "status": "ok"}, **rows)
    again = CellStore(tmp_path)
    assert again.path("k2") != first and again.path("k1") == first  # a segment that may end torn gets no more cells
    with capture_logs() as logs:
        assert again.get("k2")[0]["status"] == "ok" and again.get("k1") is None
    [event] = logs
    assert event["path"] == str(first) and "torn" in event["reason"]


def test_a_cells_rows_need_one_value_of_each_per_test_row():
    rows = cell_rows(index=[3, 4], signal=[True, False], proba=[0.7, np.nan], returns=[0.01, -0.02])
    assert rows.dtype == ROWS_DTYPE and rows["index"].tolist() == [3, 4] and rows["signal"].tolist() == [1, 0]
    with pytest.raises(ValueError, match="one index, signal, P.buy. and return per test row"):
        cell_rows(index=[3, 4], signal=[1], proba=[0.7, 0.2], returns=[0.01, -0.02])
    with pytest.raises(ValueError, match="per test row"):
        cell_rows(index=[[3, 4]], signal=[[1, 0]], proba=[[0.7, 0.2]], returns=[[0.01, -0.02]])


def test_a_cell_record_comes_back_as_it_was_put_its_arrays_as_bytes_not_text(tmp_path):
    store = _stored(tmp_path)
    record, rows = store.get("k1")
    assert list(record) == ["key", "status", "variant", "curve", "counts"] and record["variant"] == "a"  # in order
    assert record["curve"].dtype == np.float64 and record["curve"].tolist() == [0.25, 0.5]
    assert record["counts"].dtype == np.int64 and record["counts"].tolist() == [3, 1]
    assert not record["curve"].flags.writeable and rows["proba"].tolist() == [0.7, 0.2]
    assert b"0.25" not in store.path("k1").read_bytes()  # the floats are stored as their 8 bytes
    assert store.path("k1").read_bytes().startswith(b"cvn_sklearn cell 4 k2 ")
    for wrong in (np.zeros((2, 2)), np.array(["a", "b"]), np.array([{"a": 1}], dtype=object)):
        with pytest.raises(TypeError, match="'curve' must be 1-d, of floats or signed integers"):
            store.put({"key": "k3", "status": "ok", "curve": wrong}, index=[3], signal=[1], proba=[0.7], returns=[0.0])
    assert "k3" not in store.keys()


def test_rows_packed_already_are_stored_as_put_would_pack_them_and_anything_else_is_refused(tmp_path):
    columns = {"index": [3, 4], "signal": [1, 0], "proba": [0.7, 0.2], "returns": [0.01, -0.02]}
    packed, loose = CellStore(tmp_path / "packed"), CellStore(tmp_path / "loose")
    packed.put_rows({"key": "k", "status": "ok"}, cell_rows(**columns))
    loose.put({"key": "k", "status": "ok"}, **columns)
    (record, rows), (_, expected) = packed.get("k"), loose.get("k")
    assert record == {"key": "k", "status": "ok"} and rows.tobytes() == expected.tobytes()
    packed.put_rows({"key": "every_other", "status": "ok"}, cell_rows(**columns)[::2])  # a strided view: its rows
    assert packed.get("every_other")[1].tolist() == [(3, 1, 0.7, 0.01)]
    wrong_rows = (np.zeros(2), cell_rows(**columns).astype([("index", "<i4"), ("signal", "i1"), ("proba", "<f8"),
                                                            ("returns", "<f8")]), columns)
    for wrong in wrong_rows:
        with pytest.raises(TypeError, match="rows must be a 1-d array of ROWS_DTYPE"):
            packed.put_rows({"key": "k2", "status": "ok"}, wrong)
    assert packed.keys() == {"k", "every_other"}


def test_cells_put_together_are_each_read_back_as_if_put_alone_in_one_append_and_a_wrong_one_writes_none(
        tmp_path, monkeypatch):
    import cvn_sklearn.sweep.store as store_module

    appends = []
    append = store_module.append_whole
    monkeypatch.setattr(store_module, "append_whole", lambda path, parts: (appends.append(path), append(path, parts)))
    rows = cell_rows(index=[3, 4], signal=[1, 0], proba=[0.7, 0.2], returns=[0.01, -0.02])
    together, alone = CellStore(tmp_path / "together"), CellStore(tmp_path / "alone")
    cells = [({"key": f"k{i}", "status": "ok", "curve": np.arange(i + 1.0)}, rows[i % 2:]) for i in range(3)]
    together.put_many(cells)
    assert len(appends) == 1
    for record, cell in cells:
        alone.put_rows(record, cell)
    for key in ("k0", "k1", "k2"):
        (mine, my_rows), (theirs, their_rows) = together.get(key), alone.get(key)
        assert mine.keys() == theirs.keys() and mine["curve"].tolist() == theirs["curve"].tolist()
        assert my_rows.tobytes() == their_rows.tobytes()
    frames = [together._frame(key) for key in ("k0", "k1", "k2")]
    assert len({frame.path for frame in frames}) == 1 and [f.start for f in frames] == sorted(f.start for f in frames)
    with pytest.raises(TypeError, match="ROWS_DTYPE"):
        together.put_many([({"key": "k3", "status": "ok"}, rows), ({"key": "k4", "status": "ok"}, np.zeros(2))])
    assert together.keys() == {"k0", "k1", "k2"} and len(appends) == 4  # k3 not written either


def _finish(recorder, folder, key, seconds):
    """What the sweep's ``cell_record`` node hands the recorder when a cell of ``seconds`` finishes."""
    from hamilton.node import Node

    from cvn_sklearn.sweep import dag

    rows = cell_rows(index=[1], signal=[1], proba=[0.7], returns=[0.1])
    recorder.post_node_execute(node_=Node.from_fn(dag.cell_record), kwargs={"cell_store_folder": str(folder)},
                               success=True, error=None, result=({"key": key, "status": "ok", "seconds": seconds}, rows))


def test_a_local_run_holds_quick_cells_until_half_a_second_of_their_compute_then_writes_them_in_one_append(
        tmp_path, monkeypatch):
    import cvn_sklearn.sweep.store as store_module
    from cvn_sklearn.sweep.dag import GROUP_SECONDS, CellRecorder

    appends = []
    append = store_module.append_whole
    monkeypatch.setattr(store_module, "append_whole", lambda path, parts: (appends.append(len(parts)), append(path, parts)))
    recorder, store = CellRecorder(), CellStore(tmp_path)
    assert GROUP_SECONDS == 0.5
    with CellRecorder.grouped(seconds=0.5, cells=4):
        _finish(recorder, tmp_path, "a", 0.2)
        _finish(recorder, tmp_path, "b", 0.2)
        assert store.keys() == set() and appends == []  # held: 0.4 s of compute
        _finish(recorder, tmp_path, "c", 0.2)  # 0.6 s: the three, in one append (3 parts a cell)
        assert store.keys() == {"a", "b", "c"} and appends == [9]
        _finish(recorder, tmp_path, "d", 0.9)  # a slow cell: at once
        assert "d" in store.keys() and appends == [9, 3]
        for key in "efgh":  # quick cells: at most 4 held
            _finish(recorder, tmp_path, key, 0.0)
        assert set("efgh") <= store.keys() and appends == [9, 3, 12]
        _finish(recorder, tmp_path, "i", 0.01)
        assert "i" not in store.keys()
    assert "i" in store.keys()  # the block's end writes what it holds
    _finish(recorder, tmp_path, "j", 0.0)  # outside a block: each cell as it finishes
    assert "j" in store.keys() and appends[-1] == 3
    with pytest.raises(KeyboardInterrupt):  # Ctrl-C: what is held is written, and the interrupt goes on
        with CellRecorder.grouped():
            _finish(recorder, tmp_path, "k", 0.01)
            raise KeyboardInterrupt
    assert "k" in store.keys()
    for record, _ in (store.get(key) for key in "abcdefghijk"):
        assert record["status"] == "ok"


def test_a_grouped_write_that_fails_raises_unless_the_block_is_raising_already(tmp_path, monkeypatch):
    import cvn_sklearn.sweep.store as store_module
    from cvn_sklearn.sweep.dag import CellRecorder

    def full_disk(path, parts):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store_module, "append_whole", full_disk)
    recorder = CellRecorder()
    with pytest.raises(OSError, match="No space left"):
        with CellRecorder.grouped():
            _finish(recorder, tmp_path, "a", 0.01)
    with pytest.raises(ValueError, match="the block's own"):
        with CellRecorder.grouped():
            _finish(recorder, tmp_path, "b", 0.01)
            raise ValueError("the block's own error")


def test_a_local_sweep_writes_its_quick_cells_in_fewer_appends_than_cells_and_keeps_every_one(tmp_path, monkeypatch):
    import cvn_sklearn.sweep.store as store_module

    appends = []
    append = store_module.append_whole
    monkeypatch.setattr(store_module, "append_whole", lambda path, parts: (appends.append(len(parts) // 3),
                                                                          append(path, parts)))
    result = screen(_config(tmp_path / "sweep"), data=DATA)
    assert sum(appends) == len(result.cells) > len(appends)
    assert CellStore(tmp_path / "sweep").keys() == set(result.cells["key"])
