# `make run` and `make test` are all a newcomer needs: each creates .venv on its own.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

# The second pass of the suite runs every server on PostgreSQL (and the multi-node tests, which
# also need Redis). It runs whenever PostgreSQL answers here; elsewhere it says why it is skipped.
TEST_POSTGRES_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432/test
PYTEST := $(BIN)/pytest -n 4

.PHONY: run test test-tools lint typecheck unit unit-postgres js-deps bench fuzz clean

# Programs the suite drives besides Python: Chromium (dashboard), node and npm (the independent
# ocpp-rpc charger), openssl (TLS certificates), redis-server (a broker a test can stop) and
# nginx (the documented reverse proxy, tests/test_proxy.py) and ss (a listening socket's backlog,
# tests/test_operations.py; Debian's iproute2).
TEST_TOOLS := chromium node npm openssl redis-server nginx ss

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

# As root on Debian, installs whichever of TEST_TOOLS is missing; elsewhere says what is missing
# (the tests that need it skip and say why, and under CI=true a skip fails the run).
test-tools:
	@missing=""; for tool in $(TEST_TOOLS); do PATH="$$PATH:/usr/sbin:/sbin" command -v $$tool >/dev/null 2>&1 || missing="$$missing $$tool"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		packages=$$(echo "$$missing" | sed 's/\bnode\b/nodejs/; s/\bss\b/iproute2/'); \
		echo "installing$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$packages >/dev/null; \
	else echo "missing$$missing: install them (Debian: apt-get install -y chromium nodejs npm openssl redis-server nginx iproute2)"; fi

# The independent strict-mode charger (npm ocpp-rpc) and the dashboard's browser driver
# (playwright-core) used by the tests.
js-deps: test-tools
	@if command -v npm >/dev/null 2>&1; then \
		cd tests/js && npm install --no-save --no-package-lock --no-audit --no-fund --loglevel=error; \
	else echo "npm not found: the tests that need node packages will skip"; fi

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy src

unit: $(STAMP)
	$(PYTEST)

unit-postgres: $(STAMP)
	@if $(BIN)/python -c "import socket; socket.create_connection(('127.0.0.1', 5432), 2)" 2>/dev/null; \
	then echo "== second pass: PostgreSQL at 127.0.0.1:5432 (database test) =="; \
		CHARGEGATE_TEST_POSTGRES_URL=$(TEST_POSTGRES_URL) $(PYTEST); \
	elif [ "$$CI" = true ]; then echo "FAILED: CI=true and nothing listens on 127.0.0.1:5432 for the PostgreSQL pass"; exit 1; \
	else echo "SKIPPED the PostgreSQL pass: nothing listens on 127.0.0.1:5432 (start PostgreSQL with trust auth and a database named test to run it)"; fi

test: $(STAMP) js-deps lint typecheck unit unit-postgres

# The fuzzers of `make test`, far longer and with a fresh random seed each run.
fuzz: $(STAMP)
	CHARGEGATE_FUZZ_EXAMPLES=2000 CHARGEGATE_OPENAPI_EXAMPLES=500 \
		$(BIN)/pytest tests/test_ocpp_fuzz.py tests/test_openapi.py

# Benchmarks print figures and never fail for being slow. Their chargers are npm ocpp-rpc.
bench: $(STAMP)
	cd bench/js && npm install --no-save --no-package-lock --no-audit --no-fund --loglevel=error
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) tests/js/node_modules bench/js/node_modules bench/results
