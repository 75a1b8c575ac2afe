"""The driver execution profiles gridlake's Cassandra requests run under.

Apart from jobs/stores/clients.py (which builds them) so that a writer can name its profile
without importing every store's client: the serving API's read side must not import
Elasticsearch's client, which brings in Arrow.
"""

#: The profile of gridlake's writes (``cassandra.write_consistency``); every other request
#: uses the default profile (``cassandra.read_consistency``).
WRITES = "gridlake-writes"
