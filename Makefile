# Two commands set everything up on a fresh machine: `make demo` and `make test`.
# Both create .venv, install the Python packages (pyproject.toml) and GraphiQL's browser
# assets (package.json, from the npm registry), so nothing needs installing by hand.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
HOST ?= 127.0.0.1
DEMO_COUNT ?= 200
STAMP := $(VENV)/.installed-stamp
NODE_STAMP := node_modules/.installed-stamp
FEDERATION_STAMP := tests/federation/node_modules/.installed-stamp
DJANGO := $(BIN)/python manage.py

.PHONY: install demo serve bench test lint format schema clean

install: $(STAMP) $(NODE_STAMP)

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is required; run make PYTHON=python3.11 ...")'
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

$(NODE_STAMP): package.json package-lock.json
	@command -v npm >/dev/null || { echo "npm is required for GraphiQL's assets (apt-get install npm)"; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# The demo runs on the embedded defaults (SQLite, memory cache) with the four emulators.
demo: install
	HOST=$(HOST) PORT=$(PORT) DEMO_COUNT=$(DEMO_COUNT) scripts/demo

# Production mode: DEBUG off, settings validated, several workers. Reads .env.
serve: install
	HOST=$(HOST) PORT=$(PORT) scripts/serve

# Benchmark: floors, naive baseline, rps and memory; BENCH_ARGS="--json bench.json" etc.
bench: install
	scripts/bench $(BENCH_ARGS)

# Real Apollo packages from the npm registry for the federation gateway and APQ client tests.
$(FEDERATION_STAMP): tests/federation/package.json tests/federation/package-lock.json
	npm ci --prefix tests/federation --no-audit --no-fund --loglevel=error
	@touch $@

# Prints the slowest tests and the wall time at the end, so a slow suite is seen.
test: install $(FEDERATION_STAMP)
	@start=$$(date +%s); status=0; $(BIN)/pytest --durations=10 || status=$$?; \
	echo "make test: $$(( $$(date +%s) - start )) s wall time"; exit $$status

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	DEBUG=1 $(DJANGO) makemigrations --check --dry-run
	DEBUG=1 $(DJANGO) check --fail-level WARNING

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

schema: install
	DEBUG=1 $(DJANGO) export_schema schema:schema --path schema.graphql
	DEBUG=1 $(DJANGO) export_stitching_schema --path schema.stitching.graphql

clean:
	rm -rf $(VENV) node_modules staticfiles .pytest_cache .ruff_cache *.egg-info
