"""Test-data builders, apart from the tests: real-data files (sources), bronze and catalogue frames for VEE (vee), silver and gold frames (gold)."""
