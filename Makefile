# Two entry points for a fresh clone: `make demo` and `make test`. Both create the environment themselves.
SHELL := /bin/bash
PY ?= python3.11
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := $(PY)
UV := $(PY) -m uv

.PHONY: setup demo test lint audit typecheck unit bench clean

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

# Known vulnerabilities in the locked dependencies: pip-audit over every locked Python package (all extras)
# and npm audit over the console's dev tools; tests/audit/allowlist.toml lets one through only with a
# reason (docs/security.md). A dependency the vulnerability service cannot answer for is named, not passed
# over in silence; OBCP_AUDIT_REQUIRE_COMPLETE=1 makes that a failure.
audit: setup
	@mkdir -p var
	$(UV) export --frozen --no-hashes --all-extras --no-emit-project --quiet -o var/audit-requirements.txt
	.venv/bin/python -m tests.audit.dependency_audit --python-requirements var/audit-requirements.txt \
	  $(if $(NPM),--npm-dir . --npm $(NPM))

test: lint audit unit

# Benchmarks need the bench extra (DBOS, the engine's baseline); they print ratios and figures for docs/.
bench: setup
	$(UV) sync --frozen --extra dev --extra sandbox --extra bench
	.venv/bin/python bench/engine_throughput.py
	.venv/bin/python bench/restart_overhead.py
	.venv/bin/python bench/failover.py

clean:
	rm -rf .venv var
