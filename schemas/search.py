"""Elasticsearch index templates and aliases: templates are JSON files beside this module.

Each alias (``meters``, ``readings-daily``) points at versioned indices that a build
creates and then swaps in. Mappings are ``strict`` so a document with an unknown field
fails loudly instead of growing the mapping. Analysis uses the ``standard`` analyzer only:
it exists on every Elasticsearch, the local one included (see conf/services/elasticsearch).
"""

from __future__ import annotations

import json
from datetime import date
from functools import cache
from importlib.resources import files
from typing import Any

#: Read through importlib.resources so the templates are found when the package runs from
#: the zip that spark-submit ships (--py-files), not only from a checkout.
TEMPLATE_DIR = files("schemas") / "elasticsearch"

#: alias -> index template name (also the template file's stem)
ALIASES = {"meters": "meters", "readings-daily": "readings-daily"}


def candidate_alias(alias: str) -> str:
    """The alias of ``alias``'s candidate version: built, checked, not yet live (release.mode
    candidate); the edge's canary pool searches it."""
    return f"{alias}-candidate"


def day_families(day: date) -> tuple[tuple[str, str], ...]:
    """(alias, base) of each index family a day's index build makes: the meters, and the
    month's member of readings-daily."""
    return (("meters", "meters"), ("readings-daily", f"readings-daily-{day:%Y-%m}"))


@cache
def index_template(name: str) -> dict[str, Any]:
    """The composable index template ``name`` as the _index_template API takes it."""
    return json.loads(TEMPLATE_DIR.joinpath(f"{name}.json").read_text())

#: What `--type` accepts: meter classes (the generator's and the real loaders') and grid
#: sensor types. The `meter_class` field holds the class of a meter or the type of a sensor.
DEVICE_TYPES = ("residential", "commercial", "industrial", "prosumer", "ev_charging", "feeder", "transformer",
                "substation")
