.PHONY: install install-runtime up up-dist test lint fmt migrate clean ui-install ui-build ui-dev ui-client ui-check bench

# uv is the one tool needed; it is installed with pip when missing.
UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := python3 -m uv
endif
PORT ?= 8000
HOST ?= 127.0.0.1
# up-dist: the API listens on API_PORT (honcho sets PORT per process itself).
API_PORT ?= $(PORT)

# The locked environment with the dev tools (tests, linters, honcho, the example plugin).
install:
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	$(UV) sync --frozen

# The locked runtime dependencies only. --inexact: uv sync is exact by default, and would remove the dev
# tools that `make install` put there (for the next `make test` to install again).
install-runtime:
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	$(UV) sync --frozen --no-dev --inexact

# --no-sync: `uv run` would otherwise bring the dev tools back in.
up: install-runtime ui-build
	$(UV) run --frozen --no-sync planwright up --host $(HOST) --port $(PORT)

# make test: the UI's unit tests, then pytest on TEST_WORKERS xdist processes (several per core: most
# tests wait on the processes they start), slowest first, a module's tests on one worker except the
# distributed ones (conftest.py). What it needs and touches (docs/testing.md):
# - Postgres at PLANWRIGHT_TEST_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/postgres), an
#   admin URL: it creates a pw_test_<run>_<worker>_* database per test that needs one and drops it;
# - Redis at PLANWRIGHT_TEST_REDIS_URL (default redis://127.0.0.1:6379/15): keys under
#   pwtest:<run>:<worker>:, removed at the end;
# - redis-server, prometheus, chromium and openssl on PATH (.ci/run installs them): private servers and a
#   browser on free loopback ports, temporary directories under /tmp/pytest-of-$USER;
# - it ignores the caller's DATABASE_URL, REDIS_URL and every other Planwright setting, and refuses to run
#   beside a .env file; a Postgres or Redis that is down skips its tests, except under CI=true.
TEST_WORKERS ?= 4
test: install ui-build
	cd ui && $(NPM) test
	$(UV) run --frozen pytest -n $(TEST_WORKERS) --dist loadscope --no-loadscope-reorder

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

# Built again only when something it is built from changed: the sources (directories too, so that a
# removed file counts), the lock and the build's configuration. The stamp lives in ui/out (not committed).
UI_STAMP := ui/out/.built
UI_INPUTS := $(shell find ui/src ui/public -print 2>/dev/null) $(wildcard ui/.env*) \
	ui/package.json ui/package-lock.json ui/next.config.mjs ui/tsconfig.json

$(UI_STAMP): ui/node_modules/.installed $(UI_INPUTS)
	cd ui && $(NPM) run build
	touch $@

ui-build: $(UI_STAMP)

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
# On Ctrl-C a worker lets running tasks finish this long, then releases them: within the 5 s after
# which honcho kills what still runs.
up-dist: export SHUTDOWN_GRACE_S ?= 4
# METRICS_PORT=0 turns /metrics off in every process; any other value is dropped, so that each process
# keeps its own port (Procfile.dist), as two workers on one machine cannot share one.
UP_DIST_METRICS = $(if $(filter-out 0,$(METRICS_PORT)),env -u METRICS_PORT)
# Ctrl-C (or SIGTERM) is how the stack is stopped: honcho then exits 130 (143), which is no failure.
# The trap keeps this shell waiting for honcho to stop every process; make itself still ends on the
# signal, as it should.
up-dist: install
	$(UV) run --frozen planwright migrate --create-database
	@trap : INT TERM; \
	API_HOST=$(HOST) API_PORT=$(API_PORT) $(UP_DIST_METRICS) $(UV) run --frozen honcho -f Procfile.dist start \
		|| { code=$$?; [ $$code -eq 130 ] || [ $$code -eq 143 ] || exit $$code; }

migrate: install
	$(UV) run --frozen planwright migrate

# The benchmark harness (bench/README.md): every workload in both modes, a table on stdout, JSON in
# bench/results/. Needs Postgres on 127.0.0.1:5432 and Redis on 6379. QUICK=1: tiny sizes, a smoke run.
bench: install
	$(UV) run --frozen python -m bench $(if $(QUICK),--quick,)

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache ui/.next ui/out
