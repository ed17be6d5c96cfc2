"""The sweep's config written out for people: the commented ``sweep.yaml`` of ``cvn-sklearn init``, and its reference.

Both are generated from the field descriptions, defaults and constraints of
:class:`~cvn_sklearn.sweep.config.ScreenConfig` (and of its sections
:class:`~cvn_sklearn.sweep.config.FoldSettings`,
:class:`~cvn_sklearn.sweep.config.LabelSettings` and
:class:`~cvn_sklearn.sweep.config.Variant`), the one place a key is
described: :func:`config_template` is the YAML file, every key with its
default and a comment saying what it does and what it accepts;
:func:`config_reference` is the same as Markdown tables, the documentation's
configuration reference (written on every docs build). The config's
validation messages name the same descriptions.

Examples
--------
>>> import yaml
>>> from cvn_sklearn.sweep.config import read_config
>>> text = config_template()
>>> config = read_config(yaml.safe_load(text))
>>> [variant.name for variant in config.variants], config.symbols, config.folds.n_splits
(['logreg', 'lightgbm'], ['sp500'], 4)
>>> "# Test blocks (folds) per symbol, in time order. [integer >= 1]" in text
True
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import yaml
from pydantic import BaseModel

from cvn_sklearn.sweep.config import FoldSettings, LabelSettings, ScreenConfig, Variant

__all__ = ["STARTER", "accepts", "config_reference", "config_template", "write_template"]

STARTER = {
    "variants": [{"name": "logreg", "model": "logreg", "params": {}},
                 {"name": "lightgbm", "model": "lightgbm", "params": {"n_estimators": 100}}],
    "symbols": ["sp500"],
}
"""The values of the keys without a default in the template: two variants on one symbol (8 cells, a minute or less)."""

_SECTIONS = {"folds": FoldSettings, "label": LabelSettings}
_WIDTH = 100


def accepts(name: str, model: type[BaseModel] = ScreenConfig) -> str:
    """What the key ``name`` of ``model`` accepts, in words, read from its JSON schema.

    Examples
    --------
    >>> accepts("n_splits", FoldSettings), accepts("val_size", FoldSettings), accepts("positions")
    ('integer >= 1', 'number > 0 and < 1', 'one of: one_at_a_time, equal_weight')
    >>> accepts("cost"), accepts("pt_sl", LabelSettings)
    ('number >= 0, or null', 'a pair: number, number')
    """
    schema = model.model_json_schema()
    return _describe(schema["properties"][name], schema.get("$defs", {}))


def _describe(prop: dict, defs: dict) -> str:
    if "$ref" in prop:
        return "a section (below)"
    options = prop.get("anyOf")
    if options:
        kinds = [_describe(option, defs) for option in options if option.get("type") != "null"]
        return ", or ".join(kinds) + (", or null" if len(kinds) < len(options) else "")
    if "enum" in prop:
        return "one of: " + ", ".join(map(str, prop["enum"]))
    kind = prop.get("type")
    if kind in ("integer", "number"):
        bounds = [f"{sign} {prop[key]:g}" for key, sign in (("minimum", ">="), ("exclusiveMinimum", ">"),
                                                               ("maximum", "<="), ("exclusiveMaximum", "<"))
                  if key in prop]
        return " ".join([kind, " and ".join(bounds)]).strip()
    if kind == "array":
        if "prefixItems" in prop:
            return "a pair: " + ", ".join(_describe(item, defs) for item in prop["prefixItems"])
        items = prop.get("items", {})
        item = "variants (below)" if "$ref" in items else _describe(items, defs)
        return f"a list of {item}" + (f", at least {prop['minItems']}" if prop.get("minItems") else "")
    if kind == "object":
        values = prop.get("additionalProperties")
        return f"a mapping of name to {_describe(values, defs)}" if isinstance(values, dict) else "a mapping"
    if kind == "string":
        return "text" + (f" (at least {prop['minLength']} character)" if prop.get("minLength") else "")
    if kind == "boolean":
        return "true or false"
    return "any value"


def _yaml(value) -> str:
    """``value`` as one line of YAML (flow style)."""
    if isinstance(value, Path):
        value = str(value)
    if isinstance(value, tuple):
        value = list(value)
    return yaml.safe_dump(value, default_flow_style=True, width=10_000, allow_unicode=True).strip().removesuffix("\n...").strip()


def _comment(text: str, indent: str, hang: str = "") -> list[str]:
    return textwrap.wrap(text, width=_WIDTH, initial_indent=f"{indent}# ", subsequent_indent=f"{indent}# {hang}")


def _default(model: type[BaseModel], name: str):
    field = model.model_fields[name]
    return field.get_default(call_default_factory=True)


def _section_lines(model: type[BaseModel], indent: str) -> list[str]:
    lines = []
    for name, field in model.model_fields.items():
        lines += _comment(f"{field.description} [{accepts(name, model)}]", indent)
        lines.append(f"{indent}{name}: {_yaml(_default(model, name))}")
    return lines


def config_template() -> str:
    """The commented ``sweep.yaml`` of ``cvn-sklearn init``: every key, its default, what it does and accepts.

    ``variants`` and ``symbols``, which have no default, hold :data:`STARTER`.
    The file is a valid config as written (``cvn-sklearn screen sweep.yaml``
    runs it).
    """
    import cvn_sklearn

    lines = [
        "# A screening sweep: every variant on every symbol's every walk-forward fold, ranked by its",
        "# out-of-sample trading results. Run it with:  cvn-sklearn screen sweep.yaml",
        "#",
        f"# Written by `cvn-sklearn init` (cvn_sklearn {cvn_sklearn.__version__}). Every key is here with its default,",
        "# except variants and symbols (no default): a small sweep to start from. Delete the keys you",
        "# keep at their default. Each comment says what the key does and what it accepts; the same",
        "# text is the configuration reference of the documentation (docs/configuration.md).",
    ]
    for name, field in ScreenConfig.model_fields.items():
        lines.append("")
        if name == "variants":
            lines += _comment(f"{field.description} [{accepts(name)}]", "")
            lines.append("# Each variant:")
            for key, sub in Variant.model_fields.items():
                lines += _comment(f"  {key}: {sub.description} [{accepts(key, Variant)}]", "", hang="    ")
            body = yaml.safe_dump(STARTER["variants"], default_flow_style=None, sort_keys=False, width=_WIDTH)
            lines += ["variants:", *(f"  {line}" for line in body.rstrip().splitlines())]
        elif name in _SECTIONS:
            lines += _comment(field.description, "")
            lines.append(f"{name}:")
            lines += _section_lines(_SECTIONS[name], "  ")
        else:
            lines += _comment(f"{field.description} [{accepts(name)}]", "")
            value = STARTER[name] if name in STARTER else _default(ScreenConfig, name)
            lines.append(f"{name}: {_yaml(value)}")
    return "\n".join(lines) + "\n"


def write_template(path, *, force: bool = False) -> Path:
    """Write :func:`config_template` to ``path`` (a folder: its ``sweep.yaml``); return the file written.

    Raises
    ------
    FileExistsError
        If the file exists and ``force`` is false (nothing is written).
    FileNotFoundError
        If the file's folder does not exist.
    """
    path = Path(path).expanduser()
    if path.is_dir():
        path = path / "sweep.yaml"
    if path.exists() and not force:
        raise FileExistsError(f"{path} exists; pass --force to overwrite it, or give another path")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"the folder {str(path.parent)!r} does not exist; create it, or correct the path")
    path.write_text(config_template(), encoding="utf-8")
    return path


def config_reference() -> str:
    """The configuration reference as Markdown: one table per section, every key with its default, what it accepts and does."""
    def table(model: type[BaseModel], prefix: str, skip=()) -> list[str]:
        rows = ["| key | default | accepts | what it does |", "|---|---|---|---|"]
        for name, field in model.model_fields.items():
            if name in skip:
                continue
            default = "required" if field.is_required() else f"`{_yaml(_default(model, name))}`"
            rows.append(f"| `{prefix}{name}` | {default} | {_cell(accepts(name, model))} | {_cell(field.description)} |")
        return rows

    lines = [
        "<!-- Generated by docs/_ext/cvn_docs.py from cvn_sklearn.sweep.template.config_reference on every build. -->",
        "",
        "## Top-level keys",
        "",
        *table(ScreenConfig, "", skip=_SECTIONS),
        "",
        "## Each entry of `variants`",
        "",
        *table(Variant, "variants[]."),
    ]
    for name, model in _SECTIONS.items():
        lines += ["", f"## `{name}`", "", _cell(ScreenConfig.model_fields[name].description), "",
                  *table(model, f"{name}.")]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")
