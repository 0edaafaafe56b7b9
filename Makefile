# Rendezvous — the two commands are `make run` and `make test`; everything else supports them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export PYTHONPATH := $(CURDIR)/libs:$(CURDIR)
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help setup gen run test test-unit test-integration test-e2e lint buf-lint bench settings-doc compose-config compose-up compose-down clean

help:
	@echo "make run               set up and start the local stack (sandbox, mail sink, four services on SQLite)"
	@echo "make test              set up and run every test tier (PostgreSQL tiers need RENDEZVOUS_TEST_POSTGRES_URL)"
	@echo "make test-unit | test-integration | test-e2e"
	@echo "make lint              ruff, mypy and buf lint"
	@echo "make bench             every benchmark, figure next to target, one table + bench/results/summary.json"
	@echo "make compose-up        the same topology in containers with PostgreSQL (needs a Docker engine)"
	@echo "                       then RENDEZVOUS_TARGET=compose make test-e2e runs the e2e suite against it"
	@echo "make compose-down      stop the containers and drop their volumes (docker compose down -v)"

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required (set PYTHON=python3.11)")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

setup: $(VENV)/.installed gen

gen: $(VENV)/.installed
	$(PY) scripts/gen_protos.py

run: setup
	$(PY) -m scripts.devstack

test: setup
	$(PY) -m pytest tests -q

test-unit: setup
	$(PY) -m pytest tests/unit -q

test-integration: setup
	$(PY) -m pytest tests/integration -q

test-e2e: setup
	$(PY) -m pytest tests/e2e -q

node_modules/.installed: package.json
	npm install --no-audit --no-fund --silent
	touch $@

buf-lint: node_modules/.installed
	node_modules/.bin/buf lint

lint: setup buf-lint
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

bench: setup
	$(PY) -m bench.run_all

settings-doc: setup
	$(PY) -m scripts.settings_doc --write

compose-config:
	$(PY) -m scripts.check_containers

compose-up:
	docker compose up --build -d --wait
	@echo "services: grpcurl -plaintext -H 'authorization: Bearer rendezvous-local-dev-token' 127.0.0.1:50053 list"
	@echo "e2e:      RENDEZVOUS_TARGET=compose make test-e2e    mail: http://localhost:8025    traces: http://localhost:16686"

compose-down:
	docker compose down -v

clean:
	rm -rf $(VENV) node_modules libs/rendezvous var .pytest_cache .mypy_cache .ruff_cache
