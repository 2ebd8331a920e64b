.PHONY: install up up-dist test lint fmt migrate clean

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

up: install
	$(UV) run --frozen planwright up --host $(HOST) --port $(PORT)

test: install
	$(UV) run --frozen pytest

lint: install
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen ruff check .
	$(UV) run --frozen mypy -p planwright

fmt: install
	$(UV) run --frozen ruff format .
	$(UV) run --frozen ruff check --fix .

# Distributed mode on this machine: Postgres and Redis must be running. Creates the database when it is
# missing, migrates it, then runs every service as its own process under honcho (Procfile.dist).
up-dist: export DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/planwright
up-dist: export REDIS_URL ?= redis://127.0.0.1:6379/0
up-dist: install
	$(UV) run --frozen planwright migrate --create-database
	API_HOST=$(HOST) API_PORT=$(API_PORT) $(UV) run --frozen honcho -f Procfile.dist start

migrate: install
	$(UV) run --frozen planwright migrate

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
