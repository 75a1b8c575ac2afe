"""The real measured datasets gridlake loads (jobs/ingest/datasets/README.md), one module each.

Each module turns its file into readings, rejects and catalogue entries without touching
Cassandra; jobs/ingest/load_real_data.py writes them.
"""

from __future__ import annotations

from jobs.ingest.sources import sgsc, steel_plant, tetouan
from jobs.ingest.sources.common import BadInputError, Source

#: The datasets by the name `gridlake load-real` takes.
SOURCES: dict[str, Source] = {source.name: source for source in (sgsc.SOURCE, tetouan.SOURCE, steel_plant.SOURCE)}


class UnknownDatasetError(BadInputError):
    """A dataset name gridlake has no loader for."""


def source_named(name: str) -> Source:
    """The source called ``name``, or UnknownDatasetError listing the known ones."""
    try:
        return SOURCES[name]
    except KeyError:
        raise UnknownDatasetError(f"unknown dataset {name!r} (known: {', '.join(sorted(SOURCES))})") from None
