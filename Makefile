.PHONY: install up up-dist test lint fmt migrate clean ui-install ui-build ui-dev ui-client ui-check bench

# uv is the one tool needed; it is installed with pip when missing.
UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := python3 -m uv
endif
PORT ?= 8000
HOST ?= 127.0.0.1
# up-dist: the API listens on API_PORT (honcho sets PORT per process itself).
API_PORT ?= $(PORT)

install:
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	$(UV) sync --frozen

up: install ui-build
	$(UV) run --frozen planwright up --host $(HOST) --port $(PORT)

test: install ui-build
	cd ui && $(NPM) test
	$(UV) run --frozen pytest

lint: install ui-install ui-check
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen ruff check .
	$(UV) run --frozen mypy -p planwright
	cd ui && $(NPM) run lint

# The web UI (ui/, Next.js static export served by the API at /). Needs Node 20+ and npm.
NPM ?= npm
export NEXT_TELEMETRY_DISABLED = 1

ui/node_modules/.installed: ui/package.json ui/package-lock.json
	cd ui && $(NPM) ci --no-audit --no-fund
	touch $@

ui-install: ui/node_modules/.installed

ui-build: ui-install
	cd ui && $(NPM) run build

# Next.js dev server on :3000 against a running API (make up), proxied under /api.
ui-dev: ui-install
	cd ui && NEXT_PUBLIC_API_URL=/api PLANWRIGHT_API_URL=http://$(HOST):$(PORT) $(NPM) run dev

# Regenerate the typed API client from the API's OpenAPI spec; ui-check fails when they drift apart.
ui-client: install ui-install
	$(UV) run --frozen planwright openapi > ui/openapi.json
	cd ui && $(NPM) run gen:api

ui-check: install ui-install
	$(UV) run --frozen planwright openapi | diff -q - ui/openapi.json >/dev/null \
		|| (echo "ui/openapi.json is out of date with the API: run make ui-client" && exit 1)
	cd ui && $(NPM) run check:api

fmt: install
	$(UV) run --frozen ruff format .
	$(UV) run --frozen ruff check --fix .

# Distributed mode on this machine: Postgres and Redis must be running. Creates the database when it is
# missing, migrates it, then runs every service as its own process under honcho (Procfile.dist).
up-dist: export DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/planwright
up-dist: export REDIS_URL ?= redis://127.0.0.1:6379/0
# honcho reads each process's output through a pipe, which would make LOG_FORMAT=auto pick JSON.
up-dist: export LOG_FORMAT ?= text
up-dist: install
	$(UV) run --frozen planwright migrate --create-database
	API_HOST=$(HOST) API_PORT=$(API_PORT) $(UV) run --frozen honcho -f Procfile.dist start

migrate: install
	$(UV) run --frozen planwright migrate

# The benchmark harness (bench/README.md): every workload in both modes, a table on stdout, JSON in
# bench/results/. Needs Postgres on 127.0.0.1:5432 and Redis on 6379. QUICK=1: tiny sizes, a smoke run.
bench: install
	$(UV) run --frozen python -m bench $(if $(QUICK),--quick,)

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache ui/.next ui/out
