"""Training events: one schema for every model, checked at emit time, JSON lines on request."""

import json
import logging
import subprocess
import sys
import textwrap
import types
import typing
from pathlib import Path

import numpy as np
import pytest
import structlog
from structlog.testing import capture_logs

from cvn_sklearn.events import EVENTS, configure_logging, emit
from cvn_sklearn.registry import registry

MODELS = sorted(registry.models)
REPO = Path(__file__).resolve().parents[1]
SMALL = {
    "xgboost": dict(n_estimators=10, n_jobs=1),
    "lightgbm": dict(n_estimators=10, n_jobs=1),
    "catboost": dict(iterations=10, thread_count=1),
    "random_forest": dict(n_estimators=10),
    "extra_trees": dict(n_estimators=10),
    "hist_gb": dict(max_iter=10),
}
TRAINING_COMPLETE_REQUIRED = {
    "model_type", "n_estimators_final", "best_iteration", "training_time_sec",
    "dataset_n_train", "dataset_n_features", "class_dist_buy_pct",
}
STRUCTLOG_KEYS = {"event", "log_level"}



def data(n=200, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, 5))
    y = (X[:, 0] + 0.5 * rng.normal(size=n) > 0.5).astype(int)
    return X, y


def fit_and_capture(name, X, y, **params):
    with capture_logs() as logs:
        clf = registry[name](**{**SMALL.get(name, {}), **params}).fit(X, y)
    return clf, {e["event"]: e for e in logs}


def allowed_types(schema, field):
    """The exact runtime types a schema annotation admits (``int | None`` -> {int, NoneType})."""
    hint = typing.get_type_hints(schema)[field]
    args = typing.get_args(hint) if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union else (hint,)
    return {type(None) if a is None else a for a in args}


def assert_matches_schema(event_name, event):
    schema = EVENTS[event_name]
    assert set(event) == set(schema.__annotations__) | STRUCTLOG_KEYS
    for field in schema.__annotations__:
        # exact types: a numpy scalar or a bool where an int is declared would not render the same in JSON
        assert type(event[field]) in allowed_types(schema, field), (event_name, field, type(event[field]))


@pytest.fixture(scope="module")
def events_by_model():
    structlog.reset_defaults()  # module scope: set up before the function-scoped reset
    X, y = data()
    return {name: fit_and_capture(name, X, y)[1] for name in MODELS}


def test_training_complete_schema_has_the_required_fields():
    assert TRAINING_COMPLETE_REQUIRED <= set(EVENTS["training_complete"].__annotations__)
    assert {"training_started", "class_balance_applied", "training_complete", "adapter_unavailable"} <= set(EVENTS)


@pytest.mark.parametrize("name", MODELS)
def test_every_model_emits_started_and_complete_per_schema(name, events_by_model):
    events = events_by_model[name]
    assert {"training_started", "training_complete"} <= set(events)
    for event_name in ("training_started", "training_complete"):
        assert_matches_schema(event_name, events[event_name])
        assert events[event_name]["model_type"] == name


@pytest.mark.parametrize("event_name", ["training_started", "training_complete"])
def test_every_model_emits_identical_field_names_and_types(event_name, events_by_model):
    fields = {name: frozenset(events[event_name]) for name, events in events_by_model.items()}
    assert len(set(fields.values())) == 1, fields
    schema = EVENTS[event_name]
    for field in schema.__annotations__:
        seen = {type(events[event_name][field]) for events in events_by_model.values()}
        if type(None) not in allowed_types(schema, field):
            assert len(seen) == 1, (field, seen)  # one type for every model
        assert seen <= allowed_types(schema, field), (field, seen)


@pytest.mark.parametrize("name", MODELS)
def test_training_complete_values_match_the_fitted_estimator(name):
    X, y = data()
    clf, events = fit_and_capture(name, X, y)
    done = events["training_complete"]
    assert done["model_type"] == name
    assert done["n_estimators_final"] == clf.n_estimators_final_
    assert done["best_iteration"] == clf.best_iteration_
    assert done["training_time_sec"] == clf.training_time_sec_ > 0
    assert done["dataset_n_train"] == 200
    assert done["dataset_n_features"] == 5
    assert done["class_dist_buy_pct"] == pytest.approx(100 * y.mean())
    assert events["training_started"]["n_classes"] == 2
    assert events["training_started"]["n_val_early_stopping"] == 0
    assert "class_balance_applied" not in events


@pytest.mark.parametrize("name", MODELS)
def test_class_balance_event_per_schema(name):
    X, y = data()
    _, events = fit_and_capture(name, X, y, class_weight="balanced")
    assert_matches_schema("class_balance_applied", events["class_balance_applied"])
    balance = events["class_balance_applied"]
    assert set(balance["weight_per_class"]) == set(balance["class_counts"]) == {0, 1}
    # balanced: weight x count is the same for every class
    assert balance["weight_per_class"][0] * balance["class_counts"][0] == pytest.approx(
        balance["weight_per_class"][1] * balance["class_counts"][1])


def test_events_emitted_in_order():
    X, y = data()
    with capture_logs() as logs:
        registry["logreg"](class_weight="balanced").fit(X, y)
    assert [e["event"] for e in logs] == ["class_balance_applied", "training_started", "training_complete"]


# -- emit() checks the schema -----------------------------------------------------------------------
def test_emit_rejects_unknown_event():
    with pytest.raises(ValueError, match=r"Unknown event 'training_finished'; known events: \['adapter_unavailable', "):
        emit("training_finished", model_type="x")


def test_emit_rejects_missing_and_extra_fields():
    with pytest.raises(ValueError, match=r"Event 'adapter_unavailable' fields do not match its schema: "
                                         r"missing \['hint'\], extra \['hnit'\]"):
        emit("adapter_unavailable", name="x", library="x", reason="r", hnit="pip install x")
    with pytest.raises(ValueError, match=r"missing \[\], extra \['theta'\]"):
        emit("adapter_unavailable", name="x", library="x", reason="r", hint="h", theta=0.5)


def test_emit_with_exact_fields_is_logged():
    with capture_logs() as logs:
        emit("adapter_unavailable", name="xgboost", library="xgboost", reason="No module named 'xgboost'",
             hint="pip install xgboost")
    assert logs == [{"event": "adapter_unavailable", "log_level": "info", "name": "xgboost", "library": "xgboost",
                     "reason": "No module named 'xgboost'", "hint": "pip install xgboost"}]


# -- logging configuration ---------------------------------------------------------------------------
@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    structlog.reset_defaults()
    root.handlers[:] = handlers
    root.setLevel(level)


def test_configure_logging_json_writes_one_object_per_line(restore_logging, capsys):
    configure_logging(json=True)
    X, y = data()
    registry["logreg"](class_weight="balanced").fit(X, y)
    logging.getLogger("lightgbm").warning("a foreign stdlib record")
    lines = capsys.readouterr().err.strip().splitlines()
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert [r["event"] for r in records] == [
        "class_balance_applied", "training_started", "training_complete", "a foreign stdlib record"]
    done = records[2]
    assert TRAINING_COMPLETE_REQUIRED <= set(done)
    assert done["model_type"] == "logreg"
    assert done["level"] == "info"
    assert done["timestamp"].endswith("Z")
    assert records[3]["level"] == "warning"


def test_configure_logging_level_filters_events(restore_logging, capsys):
    configure_logging(json=True, level="WARNING")
    X, y = data()
    registry["logreg"]().fit(X, y)
    assert capsys.readouterr().err == ""


def test_configure_logging_console_is_readable_not_json(restore_logging, capsys):
    configure_logging(json=False)
    X, y = data()
    registry["logreg"]().fit(X, y)
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2
    assert "training_complete" in lines[1] and "model_type=logreg" in lines[1]
    with pytest.raises(json.JSONDecodeError):
        json.loads(lines[1])


def test_library_never_configures_logging_nor_prints():
    code = textwrap.dedent("""\
        import logging, json, numpy as np, structlog
        from cvn_sklearn.registry import registry
        X = np.random.RandomState(0).normal(size=(60, 3)); y = (X[:, 0] > 0).astype(int)
        registry["logreg"](class_weight="balanced").fit(X, y)
        print(json.dumps({"configured": structlog.is_configured(), "root_handlers": len(logging.getLogger().handlers)}))
    """)
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
                            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)})
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert json.loads(result.stdout) == {"configured": False, "root_handlers": 0}
