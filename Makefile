# Two entry points for a fresh clone: `make demo` and `make test`. Both create the environment themselves.
SHELL := /bin/bash
PY ?= python3.11
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := $(PY)
UV := $(PY) -m uv

.PHONY: setup demo test lint typecheck unit bench clean

.venv/.synced: pyproject.toml uv.lock
	@$(UV) --version >/dev/null 2>&1 || $(PY) -m pip install --quiet uv
	$(UV) sync --frozen --extra dev
	@touch $@

setup: .venv/.synced

demo: setup
	.venv/bin/python -m obcp.demo

lint: setup
	.venv/bin/ruff check src tests bench
	.venv/bin/ruff format --check src tests bench

# Strict over src, tests and bench (the files of [tool.mypy] in pyproject.toml).
typecheck: setup
	.venv/bin/mypy

unit: setup
	.venv/bin/pytest -q

test: lint typecheck unit

# Benchmarks need the bench extra (DBOS, the engine's baseline); they print ratios and figures for docs/.
bench: setup
	$(UV) sync --frozen --extra dev --extra bench
	.venv/bin/python bench/engine_throughput.py
	.venv/bin/python bench/restart_overhead.py

clean:
	rm -rf .venv var
