# Common tasks. `make run` and `make test` are the README's quick start: each sets itself up.
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup run test lint typecheck check bench clean

setup:
	@./scripts/setup.sh

run: setup
	@$(BIN)/wirewatch run

test: setup
	@$(BIN)/pytest -p no:cacheprovider -ra

lint: setup
	@$(BIN)/ruff check .
	@$(BIN)/ruff format --check .

typecheck: setup
	@$(BIN)/mypy

check: lint typecheck test

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
