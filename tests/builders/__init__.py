"""Test-data builders, apart from the tests: real-data files (sources), bronze and catalogue frames for VEE (vee), silver and gold frames (gold), and the figures of stored cache documents (cache)."""
