"""Data into Cassandra: the synthetic grid and the real measured datasets."""
