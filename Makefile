.PHONY: install up test lint fmt migrate clean

# uv is the one tool needed; it is installed with pip when missing.
UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := python3 -m uv
endif
PORT ?= 8000
HOST ?= 127.0.0.1

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

migrate: install
	$(UV) run --frozen planwright migrate

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
