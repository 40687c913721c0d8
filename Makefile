# Two entry points for a fresh clone: `make demo` and `make test`. Both create the environment themselves.
SHELL := /bin/bash
PY ?= python3.11
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := $(PY)
UV := $(PY) -m uv

.PHONY: setup demo test lint typecheck unit bench clean

.venv/.synced: pyproject.toml uv.lock
	@$(UV) --version >/dev/null 2>&1 || $(PY) -m pip install --quiet uv
	$(UV) sync --frozen --extra dev --extra sandbox
	@touch $@

setup: .venv/.synced

# The console's linters (ESLint, Prettier) are pinned in package-lock.json. Without Node.js the rest of the
# project still sets up and tests; only `make lint` needs them, and says so.
NODE ?= $(shell command -v node 2>/dev/null)
NPM ?= $(shell command -v npm 2>/dev/null)
ifneq ($(and $(NODE),$(NPM)),)
setup: node_modules/.synced
endif

node_modules/.synced: package.json package-lock.json
	$(NPM) ci --no-audit --no-fund --silent
	@touch $@

demo: setup
	.venv/bin/python -m obcp.demo

# Everything static: ruff (lint + format), mypy over src, tests and bench, ESLint + Prettier on the console.
lint: setup
	.venv/bin/ruff check src tests bench
	.venv/bin/ruff format --check src tests bench
	.venv/bin/mypy
	@if [ -z "$(NODE)" ] || [ -z "$(NPM)" ]; then \
	  echo "make lint: the console's linter (ESLint, Prettier) needs Node.js and npm; install them" \
	    "(Debian: apt-get install nodejs npm) and run make lint again" >&2; \
	  exit 1; \
	fi
	$(NPM) run --silent lint

# Strict over src, tests and bench (the files of [tool.mypy] in pyproject.toml).
typecheck: setup
	.venv/bin/mypy

unit: setup
	.venv/bin/pytest -q

test: lint unit

# Benchmarks need the bench extra (DBOS, the engine's baseline); they print ratios and figures for docs/.
bench: setup
	$(UV) sync --frozen --extra dev --extra sandbox --extra bench
	.venv/bin/python bench/engine_throughput.py
	.venv/bin/python bench/restart_overhead.py
	.venv/bin/python bench/failover.py

clean:
	rm -rf .venv var
