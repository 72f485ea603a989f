# `make run` and `make test` are all a newcomer needs: each creates .venv on its own.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: run test lint typecheck unit js-deps clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	rm -f $(VENV)/.installed-*
	touch $@

# Starts the server on an embedded SQLite file with a simulated demo charger, and prints a demo
# API key and the demo ports. Ctrl-C stops it.
run: $(STAMP)
	$(BIN)/chargegate demo

# The independent strict-mode charger (npm ocpp-rpc) used by tests/test_independent_charger.py.
# Without npm the test that needs it skips and says why.
js-deps:
	@if command -v npm >/dev/null 2>&1; then \
		cd tests/js && npm install --no-save --no-package-lock --no-audit --no-fund --loglevel=error; \
	else echo "npm not found: the independent ocpp-rpc charger test will be skipped"; fi

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

typecheck: $(STAMP)
	$(BIN)/mypy src

unit: $(STAMP)
	$(BIN)/pytest

test: $(STAMP) js-deps lint typecheck unit

clean:
	rm -rf $(VENV) tests/js/node_modules
