# One runner for people and CI. `make run` and `make test` are the whole quickstart.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PORT ?= 8000

AXE := tools/axe/node_modules/axe-core/axe.min.js

.PHONY: run test system-deps node-deps lint types migration alerts help bench reliability audit

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' Makefile | sed 's/:.*## /\t/'

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --require-hashes -r requirements.lock && $(BIN)/pip install -q --no-deps -e . && touch $@

run: $(STAMP) ## demo mode: SQLite under ./var, Meta sandbox, demo admin printed; http://127.0.0.1:$(PORT)
	$(BIN)/qualifica demo --port $(PORT)

test: system-deps $(STAMP) $(AXE) ## the whole test suite (SQLite, and PostgreSQL when it answers; Chromium, promtool, axe-core)
	$(BIN)/pytest

system-deps: ## chromium, promtool and npm from Debian's packages: installed as root, else the command to run
	@tools/system-deps.sh

# axe-core, exactly as tools/axe/package-lock.json pins it (npm ci: the lock's version and integrity hash;
# no install scripts, no browser download). The browser tests inject it into every state they reach.
$(AXE): tools/axe/package.json tools/axe/package-lock.json
	npm ci --prefix tools/axe --ignore-scripts --no-audit --no-fund --loglevel=error && touch $@

node-deps: system-deps $(AXE) ## axe-core for the accessibility checks of the browser tests (npm ci in tools/axe)

reliability: $(STAMP) ## reliability suite (PostgreSQL; SOAK_SIGNUPS, KILL_SIGNUPS, FUZZ_EXAMPLES for longer runs)
	$(BIN)/pytest -m reliability tests/reliability

bench: $(STAMP) ## benchmarks (not in make test; needs PostgreSQL and wrk): callback latency, webhook ingest, status, send overhead, inbound events
	$(BIN)/python -m bench.callback_latency && $(BIN)/python -m bench.webhook_ingest && $(BIN)/python -m bench.status_endpoint && $(BIN)/python -m bench.send_overhead && $(BIN)/python -m bench.inbound_events

lint: $(STAMP) ## ruff check and format check
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

types: $(STAMP) ## mypy --strict
	$(BIN)/mypy

audit: $(STAMP) ## pip-audit of requirements.lock: fails on a known vulnerability; says so loudly when offline
	$(BIN)/python tools/audit_lock.py

migration: $(STAMP) ## new Alembic revision from the models: make migration m="what changed"
	$(BIN)/alembic revision --autogenerate -m "$(m)"

alerts: system-deps ## promtool: check and unit-test ops/prometheus/alerts.yml (make test runs them too)
	promtool check rules ops/prometheus/alerts.yml && cd ops/prometheus && promtool test rules alerts.test.yml
