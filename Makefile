# One entry point for every routine job. `make test` is the command the README gives and CI runs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: install demo docs test test-pythons lint format typecheck importlint check bench conformance clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*; touch $(STAMP)

install: $(STAMP)

# the worked example as a service: SQLite in ./dspy-ash-demo, the examples loaded once, runs, POST /answer
demo: install
	$(BIN)/dspy-ash demo

test: install
	$(BIN)/pytest -q -p no:cacheprovider

# The sync bridge and the tests around it on Python 3.11, 3.12 and 3.13, one throwaway venv each (slow).
test-pythons:
	bash scripts/test_pythons.sh

lint: install
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/ruff format --check src tests benchmarks examples

format: install
	$(BIN)/ruff format src tests benchmarks examples
	$(BIN)/ruff check --fix src tests benchmarks examples

typecheck: install
	$(BIN)/pyright --project pyproject.toml

importlint: install
	$(BIN)/lint-imports

# the documentation site (mkdocs.yml), with every warning an error; docs/cli.md is generated (a test checks it)
docs: install
	$(BIN)/mkdocs build --strict --quiet

check: test lint typecheck importlint docs

bench: install
	bash benchmarks/setup_dspy_venv.sh
	$(BIN)/python benchmarks/overhead.py

# DSPy's own offline tests, on dspy 3.4.1 and on dspy-ash through the alias (benchmarks/RESULTS.md)
conformance: install
	$(BIN)/python benchmarks/conformance.py

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache
