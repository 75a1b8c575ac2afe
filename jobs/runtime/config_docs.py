"""Render docs/configuration.md from the settings model (jobs/runtime/config.py).

The model is the one home of every key, its default and its one-line description; the page
is generated from it, never edited by hand::

    .venv/bin/python -m jobs.runtime.config_docs > docs/configuration.md

tests/unit/test_configuration_page.py fails when the page and the model disagree.
"""

from __future__ import annotations

import inspect
import json
import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import annotated_types
import yaml
from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import to_jsonable_python

from jobs.runtime.config import DEFAULT_CONF_DIR, ENV_PREFIX, Settings

REGENERATE = ".venv/bin/python -m jobs.runtime.config_docs > docs/configuration.md"

_SCALARS = {str: "string", int: "integer", float: "number", bool: "boolean", Path: "path", date: "date",
            SecretStr: "secret", type(None): "null", Any: "any"}
_BOUNDS = ((annotated_types.Gt, "gt", ">"), (annotated_types.Ge, "ge", "≥"),
           (annotated_types.Lt, "lt", "<"), (annotated_types.Le, "le", "≤"))


@dataclass(frozen=True)
class Section:
    """One model of the configuration, at its dotted place (``""`` for the top level)."""

    path: str
    model: type[BaseModel]
    description: str


def is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def sections(model: type[BaseModel] = Settings, path: str = "", description: str = "") -> Iterator[Section]:
    """Every model of the configuration, depth first in the model's own order: sections (a
    field whose type is a model) and the entries of lists and mappings of models."""
    yield Section(path, model, description)
    for name, field in model.model_fields.items():
        place = f"{path}.{name}" if path else name
        if is_model(field.annotation):
            yield from sections(field.annotation, place, field.description or "")
        else:
            for item_model, item_place in _models_inside(field.annotation, place):
                yield from sections(item_model, item_place, field.description or "")


def _models_inside(annotation: Any, place: str) -> Iterator[tuple[type[BaseModel], str]]:
    """Models held in a list or mapping, with the place of one entry (``tariffs.<name>[]``)."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is list and args:
        inner = [(args[0], f"{place}[]")]
    elif origin is dict and len(args) == 2:
        inner = [(args[1], f"{place}.<name>")]
    elif origin in (Union, types.UnionType):
        inner = [(arg, place) for arg in args]
    else:
        return
    for arg, arg_place in inner:
        if is_model(arg):
            yield arg, arg_place
        else:
            yield from _models_inside(arg, arg_place)


def type_name(annotation: Any) -> str:
    """A field's type in words: ``integer``, ``list of string``, ``path or null``..."""
    if annotation in _SCALARS:
        return _SCALARS[annotation]
    if is_model(annotation):
        return "object (below)"
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Literal:
        return "one of " + ", ".join(f"`{value}`" for value in args)
    if origin in (Union, types.UnionType):
        return " or ".join(type_name(arg) for arg in args)
    if origin is list:
        return f"list of {type_name(args[0])}"
    if origin is dict:
        return f"mapping of {type_name(args[0])} to {type_name(args[1])}"
    return getattr(annotation, "__name__", str(annotation))


def constraints(field: FieldInfo) -> list[str]:
    """The field's bounds and pattern, as the validation enforces them."""
    words = []
    for item in field.metadata:
        for kind, attribute, sign in _BOUNDS:
            if isinstance(item, kind):
                words.append(f"{sign} {_number(getattr(item, attribute))}")
        if isinstance(item, annotated_types.MinLen) and item.min_length:
            words.append(f"at least {item.min_length} character{'s' * (item.min_length > 1)}")
        if getattr(item, "pattern", None):
            words.append(f"matching `{item.pattern}`")
    return words


def _number(value: Any) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def default_text(field: FieldInfo) -> str:
    """The default as it would be written in YAML (JSON is YAML), or ``required``."""
    if field.is_required():
        return "required"
    value = field.get_default(call_default_factory=True)
    if isinstance(value, BaseModel):
        return "section below"
    return f"`{json.dumps(to_jsonable_python(value), ensure_ascii=False)}`"


def base_keys(data: dict[str, Any], model: type[BaseModel] = Settings, path: str = "") -> list[str]:
    """The dotted keys a YAML mapping sets, descending into sections (not into mappings)."""
    keys = []
    for name, value in data.items():
        field = model.model_fields.get(name)
        place = f"{path}.{name}" if path else name
        if field is not None and is_model(field.annotation) and isinstance(value, dict):
            keys += base_keys(value, field.annotation, place)
        else:
            keys.append(place)
    return keys


def secret_variables(model: type[BaseModel] = Settings) -> list[str]:
    """The environment variables of every secret (password) of the configuration."""
    return [ENV_PREFIX + f"{section.path}.{name}".upper().replace(".", "__")
            for section in sections(model)
            for name, field in section.model.model_fields.items()
            if SecretStr in (field.annotation, *get_args(field.annotation))]


def _inline(text: str) -> str:
    """Markdown text: a ``<`` outside code spans is escaped, so that it is not taken for a tag."""
    parts = text.split("`")
    return "`".join(part.replace("<", "&lt;") if i % 2 == 0 else part for i, part in enumerate(parts))


def _cell(text: str) -> str:
    """Text for a table cell: pipes escaped too, code spans included (GitHub's tables need it)."""
    return _inline(text).replace("|", "\\|")


def _paragraphs(doc: str | None) -> list[str]:
    text = inspect.cleandoc(doc or "")
    return [" ".join(block.replace("``", "`").split()) for block in text.split("\n\n") if block.strip()]


def render(conf_dir: Path | None = None) -> str:
    """The whole of docs/configuration.md."""
    base_file = (conf_dir or DEFAULT_CONF_DIR) / "base.yaml"
    in_base = set(base_keys(yaml.safe_load(base_file.read_text()) or {}))
    secrets = ", ".join(f"`{name}`" for name in secret_variables())
    lines = [
        "# Configuration",
        "",
        "<!-- Generated by jobs/runtime/config_docs.py from jobs/runtime/config.py: do not edit by hand. -->",
        "",
        "Generated from the settings model, `jobs/runtime/config.py`, the one home of every key, its",
        "default and its description. Do not edit this page; change the model and regenerate it:",
        "",
        "```sh",
        REGENERATE,
        "```",
        "",
        "## Where a value comes from",
        "",
        "Each layer overrides the ones before it, key by key (mappings are merged entry by entry):",
        "",
        "1. the defaults below (the model's);",
        "2. `conf/base.yaml`: only what every environment sets differently from those defaults;",
        "3. `conf/<env>.yaml`: the environment, from `--env`, else `GRIDLAKE_ENV`, else `local`;",
        f"4. `{ENV_PREFIX}*` environment variables, with `__` between nested keys:",
        f"   `{ENV_PREFIX}SPARK__MASTER=spark://host:7077`, `{ENV_PREFIX}REDIS__TLS__ENABLED=true`.",
        "",
        f"Secrets (passwords) come only from the environment ({secrets}):",
        "a password in a YAML file is refused. Values are checked at start-up; a bad one stops the",
        "program with one line naming the key.",
        "",
        "Keys marked *conf/base.yaml* have their value there instead of the default shown.",
    ]
    for section in sections():
        title = f"`{section.path}`" if section.path else "Top level"
        lines += ["", f"## {title}", ""]
        intro = [section.description] if section.description else []
        intro += _paragraphs(section.model.__doc__)
        for paragraph in intro:
            lines += [_inline(paragraph), ""]
        lines += ["| Key | Type | Default | Description |", "| --- | --- | --- | --- |"]
        for name, field in section.model.model_fields.items():
            place = f"{section.path}.{name}" if section.path else name
            kind = "section" if is_model(field.annotation) else ", ".join(
                [type_name(field.annotation), *constraints(field)])
            default = default_text(field)
            if place in in_base:
                default += "; *conf/base.yaml*"
            lines.append(f"| `{name}` | {_cell(kind)} | {_cell(default)} | {_cell(field.description or '')} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    sys.stdout.write(render())


if __name__ == "__main__":
    main()
