# Sluice developer commands. Everything runs from a local virtualenv that `make install`
# creates on first use; no global installs.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
MANAGE := $(BIN)/python manage.py
# CI always starts from an empty test database; locally the test database is reused.
PYTEST_FLAGS ?= $(if $(CI),--create-db,)
# The suite runs in PYTEST_WORKERS processes (pytest-xdist): it mostly waits on real workers,
# servers and sockets, so three keep two cores busy. Process gwN has a test database of its own
# (`test_<name>_gwN`) and the Redis database N after TEST_REDIS_URL's (config/settings/test.py).
PYTEST_WORKERS ?= 3
# Where `make run` / `make web` and `make flower` listen: this machine only, unless told
# (`make run WEB_ADDR=0.0.0.0:8000` exposes the development server to the network).
WEB_ADDR ?= 127.0.0.1:8000
FLOWER_ADDR ?= 127.0.0.1
FLOWER_PORT ?= 5555

.DEFAULT_GOAL := help
.PHONY: help install demo demo-agents test lint format run web worker beat flower bench chaos migrate clean

help:
	@echo "make demo    run the demo enrichment on embedded defaults (SQLite + local broker)"
	@echo "make demo-agents  run the title_normalizer smart agent over the sample list (same defaults)"
	@echo "make test    run the test suite (needs PostgreSQL and Redis on localhost)"
	@echo "make lint    ruff lint + format check, import contracts, mypy"
	@echo "make run     web (WEB_ADDR, default 127.0.0.1:8000) + worker + beat on the configured database and broker"
	@echo "make worker | beat | flower | bench | chaos | migrate | install | clean"

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	@touch $@

install: $(VENV)/.installed

demo: install
	$(MANAGE) demo

demo-agents: install
	$(MANAGE) demo_agents

test: install
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadgroup $(PYTEST_FLAGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

migrate: install
	$(MANAGE) migrate --noinput

run: migrate
	@bash scripts/run_all.sh "$(BIN)" "$(WEB_ADDR)"

web: migrate
	$(MANAGE) runserver "$(WEB_ADDR)"

worker: install
	$(BIN)/python -m config.worker --loglevel=INFO $(WORKER_FLAGS)

beat: install
	$(BIN)/celery -A config beat --loglevel=INFO

flower: install
	$(BIN)/celery -A config flower --address=$(FLOWER_ADDR) --port=$(FLOWER_PORT)

bench: install
	@bash bench/run_all.sh "$(BIN)"

chaos: install
	SLUICE_CHAOS=long $(BIN)/python -m pytest -m reliability tests/reliability $(PYTEST_FLAGS)

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
