# Set-up and everyday commands. Each target installs what it needs into .venv first.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# pgserver (the embedded PostgreSQL) ships wheels for Python 3.10-3.12 only: take python3 when
# it is one of those, otherwise the newest of python3.12, python3.11, python3.10 on the PATH.
PYTHON ?= $(shell for candidate in python3 python3.12 python3.11 python3.10; do \
	command -v $$candidate >/dev/null 2>&1 && \
	$$candidate -c 'import sys; sys.exit(not (3, 10) <= sys.version_info[:2] <= (3, 12))' 2>/dev/null && \
	{ echo $$candidate; break; }; done)

.PHONY: install run dev lint format test test-fast e2e redis-server bench clean stop

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@if [ -z "$(PYTHON)" ]; then \
		echo "No Python 3.10, 3.11 or 3.12 found on the PATH (the embedded PostgreSQL, pgserver, needs one)."; \
		echo "Install one, for example: apt-get install python3.12 python3.12-venv, or: pyenv install 3.12,"; \
		echo "then run make again (or name it: make PYTHON=/path/to/python3.12 ...)."; \
		exit 1; \
	fi
	@echo "Creating $(VENV) with $$($(PYTHON) --version)"
	@$(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip
	@$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	@touch $(STAMP)

run: install  ## the demo: embedded PostgreSQL + every asset materialized once + a summary
	@$(BIN)/sync-assets demo

dev: install  ## the Dagster UI on the same data as `make run` (http://127.0.0.1:3000)
	@$(BIN)/sync-assets dev

lint: install  ## ruff (lint, and the formatting checked) and mypy (sync_assets/platform, every function typed)
	@$(BIN)/ruff check .
	@$(BIN)/ruff format --check .
	@$(BIN)/mypy

format: install  ## apply ruff's safe fixes and its formatting in place
	@$(BIN)/ruff check --fix .
	@$(BIN)/ruff format .

test: lint redis-server  ## the lint, then the whole suite, slow end-to-end tests included (what CI runs)
	@$(BIN)/python -m pytest -m 'not e2e' $(PYTEST_ARGS)

# Debian packages a target needs, installed when missing (as root with apt-get), or named: $(1) the
# command to find, $(2) the packages, $(3) what needs them.
define debian_packages
	@if ! command -v $(1) >/dev/null; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "Installing $(2) (Debian packages) for $(3)"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(2) >/dev/null; \
		else \
			echo "$(3) needs $(2): sudo apt-get install $(2)"; \
			exit 1; \
		fi; \
	fi
endef

redis-server:  ## Redis, the broker of the Celery test (Debian's redis-server)
	$(call debian_packages,redis-server,redis-server,the Celery test)

e2e: install  ## the browser test of the Dagster UI; installs Debian's chromium and chromium-driver if missing
	$(call debian_packages,chromedriver,chromium chromium-driver,the browser test)
	@$(BIN)/python -m pytest -m e2e sync_assets_tests/e2e $(PYTEST_ARGS)

test-fast: lint  ## the lint, then the quick suite, without the slow end-to-end tests
	@$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: install  ## every benchmark under bench/; each prints a JSON object on its last line
	@set -e; for script in bench/[!_]*.py; do echo "== $$script"; $(BIN)/python $$script; done

stop: install  ## stop the embedded PostgreSQL (it is started again on demand)
	@$(BIN)/sync-assets db stop

# The .env block that names .local/dagster for Dagster's CLI goes with it; any other line of .env stays.
clean: stop
	rm -rf .local
	@if [ -f .env ]; then sed -i.bak '/^# >>> sync-assets/,/^# <<< sync-assets/d' .env && rm -f .env.bak; \
		[ -s .env ] || rm -f .env; fi
