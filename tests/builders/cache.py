"""Reading back what a publish stored: the figures of a cache entry's JSON document."""

from __future__ import annotations

import json
from typing import Any

from schemas.cache_keys import KeyFamily


def stored_value(family: KeyFamily, document: bytes | str | None) -> Any:
    """The figures of ``family`` in a stored ``document`` (its ``value_name``), None without one."""
    return json.loads(document)[family.value_name] if document is not None else None
