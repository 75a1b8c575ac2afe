"""Put the index templates of schemas/elasticsearch into Elasticsearch, idempotently.

A template is written only when the live one differs, so `gridlake schema apply` run twice
changes nothing. Templates shape indices created after them; existing versioned indices
keep their mappings until the next build replaces them (that is what the versions are for).
"""

from __future__ import annotations

from elasticsearch import Elasticsearch, NotFoundError

from schemas.search import ALIASES, index_template


def apply_index_templates(es: Elasticsearch) -> list[str]:
    """Create or update each alias's index template; return what was done."""
    actions = []
    for name in sorted(set(ALIASES.values())):
        wanted = index_template(name)
        try:
            live = es.indices.get_index_template(name=name)["index_templates"][0]["index_template"]
        except NotFoundError:
            live = None
        if live is not None and _same(live, wanted):
            continue
        es.indices.put_index_template(name=name, **wanted)
        actions.append(f"{'updated' if live else 'created'} index template {name}")
    return actions


def _same(live: dict, wanted: dict) -> bool:
    """Compare on what we set: Elasticsearch adds defaults and renders numbers as strings."""
    live_settings = live.get("template", {}).get("settings", {}).get("index", {})
    wanted_settings = {k: str(v) for k, v in wanted["template"]["settings"].items()}
    return (
        live["index_patterns"] == wanted["index_patterns"]
        and live.get("priority") == wanted["priority"]
        and live.get("template", {}).get("mappings") == wanted["template"]["mappings"]
        and all(live_settings.get(k) == v for k, v in wanted_settings.items())
    )
