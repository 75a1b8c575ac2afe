# gridlake: the two commands are `make demo` and `make test`; both set everything up first.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Java 17 for every JVM, even where the environment names another (GRIDLAKE_JAVA_HOME overrides).
export JAVA_HOME := $(or $(GRIDLAKE_JAVA_HOME),/usr/lib/jvm/java-17-openjdk-amd64)
export PATH := $(CURDIR)/.venv/bin:$(JAVA_HOME)/bin:$(PATH)
# Airflow's home (config, logs, its database) stays inside the project's state dir; its DAGs are dags/.
export AIRFLOW_HOME ?= $(CURDIR)/.gridlake/airflow
export AIRFLOW__CORE__DAGS_FOLDER ?= $(CURDIR)/dags
export AIRFLOW__CORE__LOAD_EXAMPLES ?= False
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
GRIDLAKE := $(BIN)/gridlake
# Debian packages: Redis server and CLI, Java 17, Maven (for the servers' and Spark's jars), wrk (the
# serving API's load generator in make bench), memcached (the API's optional hot-key tier), nginx
# (the edge in front of the API; the package's own service is not used, gridlake starts its own).
APT_PACKAGES := redis-server redis-tools openjdk-17-jdk-headless maven wrk memcached nginx

.PHONY: help setup system-packages venv driver-classes services demo demo-real test bench down clean

help:
	@echo "make demo   - set up, start the local services, run the pipeline on the local default"
	@echo "make demo-real - after make demo: two days of the real SGSC households through the jobs"
	@echo "make test   - set up and run the whole test suite against real local services"
	@echo "make bench  - benchmarks (rates beside this machine's limits)"
	@echo "make down   - stop the services gridlake started"

setup: system-packages venv driver-classes

# apt-get runs only when a package is missing, so a set-up machine starts at once.
system-packages:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages: $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

venv: $(VENV)/.installed

# uv installs the same resolution as pip in half the time (18 s against 40 s with warm caches).
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q uv
	$(BIN)/uv pip install -q --python $(BIN)/python -e '.[test]'
	@if $(BIN)/pip show pyspark-client >/dev/null 2>&1; then \
	  echo "pyspark-client was installed over pyspark 3.5.9; see docs/decisions/pinned-stack.md" >&2; exit 1; fi
	touch $@

# The Spark driver's class-data-sharing archive (jobs/devstack/driver_classes.py): made once per jars
# and Java (about 45 s, with the first build of Spark's jars), then every driver JVM starts
# about 5 s sooner. A no-op when it exists.
driver-classes: venv
	$(GRIDLAKE) spark-archive

services: setup
	$(GRIDLAKE) services up --redis-cluster --memcached

# The embedded local default: a synthetic grid around Tirana over the October DST change
# (2,000 meters, 2 days) run through Airflow's grid_daily, the real SGSC households loaded
# into Cassandra, then a summary of what came out. `make demo-real` then runs two of the
# households' days through the same jobs with `gridlake backfill` (a fresh driver JVM: about
# 2.5 minutes more, kept out of `make demo` to keep it short). The stack
# check (`gridlake run smoke`) is left to the tests and to diagnosing a new machine: the
# pipeline itself exercises every part it checks.
DEMO_START := 2024-10-26
DEMO_END := 2024-10-27
DEMO_METERS := 2000
SGSC_START := 2013-07-01
SGSC_END := 2013-07-02
demo: services
	$(GRIDLAKE) schema apply
	$(GRIDLAKE) seed --meters $(DEMO_METERS) --days 2 --start $(DEMO_START) --fault-rate 0.02
	$(GRIDLAKE) load-real sgsc
	$(GRIDLAKE) airflow test-day --date $(DEMO_START) --end $(DEMO_END)
	$(GRIDLAKE) runs --date $(DEMO_START) --end $(DEMO_END)
	$(GRIDLAKE) search --near 41.3275,19.8187 --radius 1km --type commercial --limit 5
	$(GRIDLAKE) cache get --meter MTR-0000001 --date $(DEMO_END)
	$(GRIDLAKE) services up --edge
	$(GRIDLAKE) try-api --edge --meter MTR-0000001 --date $(DEMO_END)
	@echo "the API:     https://127.0.0.1:8443/docs through the edge (CA .gridlake/edge/pki/ca.pem), key gridlake-demo-key; make down stops it"
	@echo "run reports: .gridlake/lake/_reports/<date>.html"
	@echo "notebooks:   notebooks/explore_grid.ipynb, notebooks/backfill_check.ipynb (see notebooks/README.md)"
	@echo "real data:   make demo-real backfills $(SGSC_START)..$(SGSC_END) of the SGSC households (about 2.5 min)"

# The real households' days through every stage, without Airflow. Loading them again
# rewrites the same rows (only their received_at moves), so this also runs on its own.
demo-real: services
	$(GRIDLAKE) schema apply
	$(GRIDLAKE) load-real sgsc
	$(GRIDLAKE) backfill --start $(SGSC_START) --end $(SGSC_END)
	$(GRIDLAKE) runs --date $(SGSC_START) --end $(SGSC_END)
	$(GRIDLAKE) cache get --meter sgsc-10006414 --date $(SGSC_END)

# The import contracts (.importlinter: rooms import downward only) first: a second, not a test run.
test: setup
	$(BIN)/lint-imports
	$(BIN)/pytest

# Benchmarks print rates beside this machine's own limits, measured in the same run.
bench: services
	@for bench in tests/bench/bench_*.py; do echo "== $$bench"; $(BIN)/python $$bench || exit 1; done

down:
	-$(GRIDLAKE) services down

clean: down
	rm -rf .gridlake
