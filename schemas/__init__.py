"""The single source of truth for gridlake's data layout: CQL, lake schemas, search mappings, cache keys."""
