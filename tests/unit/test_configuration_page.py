"""The settings model is the one home of every default: the page is generated from it, every key
has its description there, and conf/base.yaml repeats none of its defaults."""

from typing import Any

import pytest
import yaml
from pydantic import BaseModel, TypeAdapter
from pydantic_core import to_jsonable_python

from jobs.runtime.config import DEFAULT_CONF_DIR, PROJECT_ROOT, Settings
from jobs.runtime.config_docs import REGENERATE, render, sections

PAGE = PROJECT_ROOT / "docs" / "configuration.md"


def test_the_configuration_page_is_what_the_model_renders() -> None:
    assert PAGE.read_text() == render(), f"docs/configuration.md is stale; regenerate it: {REGENERATE}"


def test_every_key_of_every_model_has_a_one_line_description() -> None:
    missing = [f"{section.path or '(top level)'}: {name}"
               for section in sections()
               for name, field in section.model.model_fields.items()
               if not (field.description or "").strip() or "\n" in field.description]
    assert not missing, f"keys without a one-line description=: {missing}"


def test_the_walk_reaches_every_model_of_the_configuration() -> None:
    # Nested models that the page and the description check would otherwise miss.
    assert {"redis.tls", "services.redis", "aggregates.tou.tariffs.<name>[]"} <= {s.path for s in sections()}


def _repeated_defaults(data: dict[str, Any], model: type[BaseModel], path: str = "") -> list[str]:
    """Keys of ``data`` (a YAML layer) set to the model's own default: a second home for it."""
    repeated = []
    for name, value in data.items():
        field = model.model_fields[name]
        place = f"{path}.{name}" if path else name
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel) and isinstance(value, dict):
            repeated += _repeated_defaults(value, annotation, place)
            continue
        default = field.get_default(call_default_factory=True)
        if isinstance(default, dict) and isinstance(value, dict):
            # Layers merge mappings entry by entry: an entry equal to the default's repeats it.
            merged = to_jsonable_python(TypeAdapter(annotation).validate_python({**default, **value}))
            wanted = to_jsonable_python(default)
            repeated += [f"{place}.{key}" for key in value if key in wanted and merged[key] == wanted[key]]
        elif to_jsonable_python(TypeAdapter(annotation).validate_python(value)) == to_jsonable_python(default):
            repeated.append(place)
    return repeated


def test_base_yaml_repeats_no_default_of_the_model() -> None:
    data = yaml.safe_load((DEFAULT_CONF_DIR / "base.yaml").read_text()) or {}
    repeated = _repeated_defaults(data, Settings)
    assert not repeated, f"conf/base.yaml sets these to the model's own default; drop them: {repeated}"


def test_a_repeated_default_is_caught() -> None:
    data = {"spark": {"master": "local[*]", "shuffle_partitions": 4},
            "grid": {"nominal_voltage_v": 230},
            "vee": {"connection_kw": {"residential": 11, "commercial": 45}},
            "aggregates": {"tou": {"holidays": []}}}
    assert _repeated_defaults(data, Settings) == ["spark.master", "grid.nominal_voltage_v",
                                                  "vee.connection_kw.residential", "aggregates.tou.holidays"]


def test_the_page_changes_with_a_description(monkeypatch: pytest.MonkeyPatch) -> None:
    field = Settings.model_fields["state_dir"]
    monkeypatch.setattr(field, "description", "A description the page does not have.")
    assert "A description the page does not have." in render()
    assert render() != PAGE.read_text()


def test_the_page_says_how_values_are_layered_and_where_secrets_come_from() -> None:
    page = render()
    assert "conf/base.yaml" in page and "conf/<env>.yaml" in page and "`__`" in page
    for variable in ("GRIDLAKE_CASSANDRA__PASSWORD", "GRIDLAKE_ELASTICSEARCH__PASSWORD", "GRIDLAKE_REDIS__PASSWORD"):
        assert variable in page
    assert REGENERATE in page
