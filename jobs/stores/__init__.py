"""The only code that touches storage: the lake and `_runs`, Cassandra, Elasticsearch, Redis."""
