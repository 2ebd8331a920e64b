.PHONY: install up test lint fmt migrate clean

UV ?= uv
PORT ?= 8000
HOST ?= 127.0.0.1

install:
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
