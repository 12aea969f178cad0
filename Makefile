# Every target bootstraps first: a fresh clone needs nothing but python3 and make.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CLUSTER := $(VENV)/bin/cluster
STAMP := $(VENV)/.bootstrap-stamp
TOPOLOGY := config/cluster.toml
DEFAULT_TOPOLOGY := src/tasker_cluster/config/default_topology.toml

.PHONY: bootstrap setup-env-cluster cluster-start-all cluster-status cluster-status-quick \
        cluster-logs cluster-logs-orchestration cluster-stop test lint bench

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]'
	touch $@

# A fresh clone's topology: a copy of the packaged default, written only when missing, so the user's edits stay.
$(TOPOLOGY):
	mkdir -p $(@D)
	cp $(DEFAULT_TOPOLOGY) $@

# PYTHONDONTWRITEBYTECODE=1 is set machine-wide here, so nothing writes .pyc on import;
# compile explicitly or every CLI call re-compiles the package (cheap when nothing changed).
bootstrap: $(STAMP) $(TOPOLOGY)
	@$(PY) -m compileall -q src

setup-env-cluster: bootstrap
	$(CLUSTER) setup-env

cluster-start-all: bootstrap
	$(CLUSTER) start-all

cluster-status: bootstrap
	$(CLUSTER) status

cluster-status-quick: bootstrap
	$(CLUSTER) status-quick

cluster-logs: bootstrap
	$(CLUSTER) logs -f

cluster-logs-orchestration: bootstrap
	$(CLUSTER) logs -f --orchestration

cluster-stop: bootstrap
	$(CLUSTER) stop

test: bootstrap
	$(CLUSTER) test all

lint: bootstrap
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: bootstrap
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev,bench]'
	$(PY) bench/run_all.py
