"""Versioned Elasticsearch indices behind an alias: build aside, check, swap in one call.

A build never touches what readers see until it is complete and checked:
1. a new index ``<base>-v<UTC timestamp>`` is created (mappings from the index template in
   schemas/elasticsearch), with replicas 0 and refresh off for loading speed, and marked
   ``build_state: building`` in its mapping's ``_meta``;
2. documents are bulk-loaded with ``_id`` = business key (elasticsearch-py's
   ``streaming_bulk``, retrying 429s and connection errors with backoff);
3. refresh and replicas are restored, the index refreshed, and checked: document count
   equals the source count, and sample documents round-trip field by field; then marked
   ``build_state: complete``;
4. one ``_aliases`` call moves the alias from the old version to the new one, so a reader
   sees either version whole, never both and never neither.
Old versions stay for rollback (the newest ``keep``); a failed build leaves the alias where
it was and its index marked ``building`` (pruned by the next build).

A candidate build (release.mode candidate) stops before step 4: its index gets the family's
candidate alias (``<alias>-candidate``) instead, until ``promote_candidate`` swaps it in or
``abort_candidate`` drops it. Pruning never deletes the live or the candidate version.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from elasticsearch import Elasticsearch, NotFoundError
from elasticsearch.helpers import streaming_bulk

from schemas.search import ALIASES, candidate_alias, index_template

log = logging.getLogger(__name__)

#: The business key of a document, used as its _id (so a rebuild replaces, never duplicates).
DocumentId = Callable[[Mapping[str, Any]], str]

BUILDING = "building"
COMPLETE = "complete"


class IndexBuildError(RuntimeError):
    """A build failed its checks; the alias still points at the previous version."""


@dataclass(frozen=True)
class IndexVersion:
    """One versioned index of an alias."""

    name: str
    created: str
    docs: int
    build_state: str
    live: bool
    candidate: bool = False


def version_name(base: str, now: datetime | None = None) -> str:
    """``<base>-v<YYYYmmddtHHMMSSffffff>`` (index names are lowercase): names sort in build order."""
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%dt%H%M%S%f")
    return f"{base}-v{stamp}"


class VersionedIndex:
    """The versions of one alias member family (``base``), e.g. ``meters`` or ``readings-daily-2024-10``."""

    def __init__(self, es: Elasticsearch, alias: str, base: str, replicas: int = 0, keep: int = 3) -> None:
        self.es = es
        self.alias = alias
        self.base = base
        self.replicas = replicas
        self.keep = keep

    def create(self, now: datetime | None = None) -> str:
        """Create an empty new version, tuned for bulk loading, marked as building."""
        name = version_name(self.base, now)
        self.es.indices.create(
            index=name,
            settings={"number_of_replicas": 0, "refresh_interval": "-1"},
            mappings={"_meta": {"build_state": BUILDING, "alias": self.alias}},
        )
        return name

    def load(self, index: str, documents: Iterable[Mapping[str, Any]], id_of: DocumentId,
             chunk_size: int = 1000) -> int:
        """Bulk-load ``documents`` with ``_id`` = ``id_of(document)``; return how many were indexed."""
        actions = ({"_index": index, "_id": id_of(document), "_source": document} for document in documents)
        indexed = 0
        for ok, item in streaming_bulk(self.es, actions, chunk_size=chunk_size, max_retries=5, initial_backoff=1,
                                       max_backoff=30, raise_on_error=True, raise_on_exception=True):
            indexed += ok
        return indexed

    def seal(self, index: str, expected_docs: int, samples: Mapping[str, Mapping[str, Any]]) -> None:
        """Restore refresh and replicas, refresh, and check the count and the sample documents."""
        self.es.indices.put_settings(index=index, settings={"refresh_interval": "1s",
                                                            "number_of_replicas": self.replicas})
        self.es.indices.refresh(index=index)
        docs = self.es.count(index=index)["count"]
        if docs != expected_docs:
            raise IndexBuildError(f"{index}: {docs} documents indexed, the source has {expected_docs}")
        for doc_id, expected in samples.items():
            found = self.es.get(index=index, id=doc_id)["_source"]
            if found != dict(expected):
                differing = sorted(k for k in set(found) | set(expected) if found.get(k) != expected.get(k))
                raise IndexBuildError(f"{index}: document {doc_id} differs from its source in {differing}")
        self.es.indices.put_mapping(index=index, meta={"build_state": COMPLETE, "alias": self.alias})

    def live(self, alias: str | None = None) -> list[str]:
        """The indices of this family the alias (or ``alias``) points at now."""
        try:
            members = self.es.indices.get_alias(name=alias or self.alias)
        except NotFoundError:
            return []
        return sorted(name for name in members if name.startswith(f"{self.base}-v"))

    def candidate(self) -> str | None:
        """This family's candidate version, None when there is none."""
        return next(iter(self.live(candidate_alias(self.alias))), None)

    def _moves(self, index: str, alias: str) -> list[dict[str, Any]]:
        """The ``_aliases`` actions that point ``alias`` at ``index`` instead of this family's
        current member of it."""
        return [*({"remove": {"index": old, "alias": alias}} for old in self.live(alias) if old != index),
                {"add": {"index": index, "alias": alias}}]

    def swap(self, index: str, alias: str | None = None) -> None:
        """Point the alias (or ``alias``) at ``index`` instead of this family's current version,
        in one call."""
        alias = alias or self.alias
        self.es.indices.update_aliases(actions=self._moves(index, alias))
        log.info("stage=index event=swap alias=%s base=%s live=%s", alias, self.base, index)

    def promote_candidate(self) -> str | None:
        """Make the candidate live: one ``_aliases`` call moves the alias to it and drops the
        candidate alias. Returns it (None when there was no candidate)."""
        index = self.candidate()
        if index is None:
            return None
        self.es.indices.update_aliases(actions=[*self._moves(index, self.alias),
                                                {"remove": {"index": index, "alias": candidate_alias(self.alias)}}])
        log.info("stage=release event=promote alias=%s base=%s live=%s", self.alias, self.base, index)
        return index

    def abort_candidate(self) -> str | None:
        """Drop the candidate: its alias now, its index with the next prune. Returns it."""
        index = self.candidate()
        if index is not None:
            self.es.indices.delete_alias(index=index, name=candidate_alias(self.alias))
        return index

    def versions(self) -> list[IndexVersion]:
        """Every version of this family, newest first."""
        try:
            found = self.es.indices.get(index=f"{self.base}-v*")
        except NotFoundError:
            return []
        live, staged = set(self.live()), set(self.live(candidate_alias(self.alias)))
        counts = {row["index"]: int(row["docs.count"] or 0)
                  for row in self.es.cat.indices(index=f"{self.base}-v*", format="json", h="index,docs.count")}
        versions = [
            IndexVersion(
                name=name,
                created=datetime.fromtimestamp(int(body["settings"]["index"]["creation_date"]) / 1000,
                                               timezone.utc).isoformat(timespec="seconds"),
                docs=counts.get(name, 0),
                build_state=body["mappings"].get("_meta", {}).get("build_state", "unknown"),
                live=name in live,
                candidate=name in staged,
            )
            for name, body in found.items()
        ]
        return sorted(versions, key=lambda v: v.name, reverse=True)

    def prune(self) -> list[str]:
        """Delete versions beyond the newest ``keep`` complete ones, and failed builds; never the
        live one or the candidate."""
        complete_kept = 0
        doomed = []
        for version in self.versions():
            if version.live or version.candidate:
                continue
            if version.build_state == COMPLETE and complete_kept < self.keep - 1:
                complete_kept += 1
                continue
            doomed.append(version.name)
        for name in doomed:
            self.es.indices.delete(index=name)
        return doomed

    def build(self, documents: Iterable[Mapping[str, Any]], id_of: DocumentId, expected_docs: int,
              samples: Mapping[str, Mapping[str, Any]], candidate: bool = False) -> str:
        """Create, load, check and swap in a new version (as the ``candidate``: under the
        candidate alias); prune old ones. Returns its name."""
        index = self.create()
        try:
            self.load(index, documents, id_of)
            self.seal(index, expected_docs, samples)
        except Exception as exc:
            # The alias was not touched; the index keeps build_state=building until pruned.
            log.error("stage=index event=failed index=%s alias=%s error=%s", index, self.alias, exc)
            raise
        self.swap(index, candidate_alias(self.alias) if candidate else None)
        self.prune()
        return index

    def rollback(self, to: str | None = None) -> str:
        """Point the alias back at ``to`` or at the newest complete version older than the live one."""
        versions = self.versions()
        live = next((v for v in versions if v.live), None)
        if to is None:
            older = [v for v in versions if v.build_state == COMPLETE and not v.live
                     and (live is None or v.name < live.name)]
            if not older:
                raise IndexBuildError(f"{self.alias}: no earlier complete version of {self.base} to roll back to")
            to = older[0].name
        elif not any(v.name == to and v.build_state == COMPLETE for v in versions):
            raise IndexBuildError(f"{self.alias}: {to} is not a complete version of {self.base}")
        self.swap(to)
        return to


# -- index templates: written only when the live one differs, so `gridlake schema apply` run
# twice changes nothing; they shape indices created after them, existing versions keep theirs.
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
