"""The ``cvn-sklearn`` command: readable tables, the main job end to end."""

import re

import pytest

from cvn_sklearn.cli import format_table, main
from cvn_sklearn.registry import registry


def test_models_lists_every_registry_entry_with_its_library_version(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    header, rule, *lines = out.strip().splitlines()
    assert header.split() == ["name", "kind", "library", "version", "source"]
    assert set(rule.replace(" ", "")) == {"-"}
    listed = {line.split()[0] for line in lines}
    assert set(registry) <= listed
    assert re.search(r"^lightgbm\s+model\s+lightgbm\s+\d+\.\d+", out, flags=re.M)


def test_train_prints_one_row_per_model_and_saves_plots(capsys, tmp_path):
    assert main(["train", "--symbol", "goog", "--models", "logreg,lightgbm", "--plots", str(tmp_path), "--no-mlflow"]) == 0
    out = capsys.readouterr().out
    assert "[1/2] training logreg" in out and "[2/2] training lightgbm" in out
    table = out[out.index("model "):].splitlines()
    assert table[0].split()[:6] == ["model", "auc", "f1_buy", "brier", "ece", "theta"]
    rows = {line.split()[0]: line.split() for line in table[2:4]}
    assert set(rows) == {"logreg", "lightgbm"}
    for values in rows.values():
        auc, theta = float(values[1]), float(values[5])
        # θ tuned in (0, 1), or printed 1.0000: the no-trade θ just above 1 when the val rows show no edge
        assert 0.0 <= auc <= 1.0 and 0.0 < theta <= 1.0
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "lightgbm_reliability.png", "lightgbm_theta.png", "logreg_reliability.png", "logreg_theta.png",
    ]


def test_train_rejects_an_unknown_model_with_the_registry_message(capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "--symbol", "goog", "--models", "lightgbn"])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "Traceback" not in err
    assert "argument --models: Unknown registry name 'lightgbn'. Did you mean 'lightgbm'?" in err


@pytest.mark.parametrize("value, reason", [
    ("-0.5", "-0.5 is not strictly between 0 and 1"),
    ("0", "0 is not strictly between 0 and 1"),
    ("1.5", "1.5 is not strictly between 0 and 1"),
    ("abc", "'abc' is not a number"),
])
def test_train_refuses_a_test_size_outside_0_1_with_exit_2(capsys, value, reason):
    with pytest.raises(SystemExit) as info:
        main(["train", "--test-size", value])
    err = capsys.readouterr().err
    assert info.value.code == 2 and f"argument --test-size: {reason}; pass a share such as 0.3" in err


def test_a_user_mistake_found_while_running_is_one_line_and_exit_1(capsys, monkeypatch):
    import cvn_sklearn.datasets

    def missing(symbol):
        raise FileNotFoundError(f"No prices for {symbol!r}: reinstall cvn_sklearn")

    monkeypatch.setattr(cvn_sklearn.datasets, "load_dataset", missing)
    assert main(["train", "--symbol", "goog", "--models", "logreg"]) == 1
    assert capsys.readouterr().err == "cvn-sklearn train: error: No prices for 'goog': reinstall cvn_sklearn\n"


def test_format_table_pads_columns_and_renders_missing_values():
    text = format_table([{"a": 1, "b": float("nan")}, {"a": "long value", "b": 0.5}], ["a", "b"])
    assert text.splitlines() == ["a           b", "----------  ------", "1           nan", "long value  0.5000"]
