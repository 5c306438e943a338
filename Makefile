# `make help` lists the targets. The two README commands are `make run` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -Eeuo pipefail -c
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Quiet, reproducible defaults for everything started from here; a user's own settings win.
export WANDB_MODE ?= offline
export TF_CPP_MIN_LOG_LEVEL ?= 3
export TF_ENABLE_ONEDNN_OPTS ?= 0
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help setup run test lint lock clean notebook
.DEFAULT_GOAL := help

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-7s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	# The lock is complete (every transitive pin, every file hashed): install exactly it, nothing resolved.
	$(PY) -m pip install --quiet --no-deps --require-hashes -r requirements-dev.txt 2>&1 \
		| { grep -v "^WARNING: Location 'file://" || true; }
	touch $@

setup: $(VENV)/.installed ## create .venv from the hashed lock (once; again when the lock changes)

run: setup ## the main job: an offline training run (WANDB_MODE=offline unless you set it)
	$(PY) -m trainer $(ARGS)

test: setup lint ## lint, type-check and run every test (slow ones included), as CI does
	$(PY) -m pytest $(PYTEST_ARGS)

lint: setup ## ruff and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

notebook: setup ## open the exploration notebook in Jupyter Lab (pairs notebooks/*.py with their .ipynb)
	$(VENV)/bin/jupytext --sync notebooks/*.py
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/jupyter lab notebooks/

UV_COMPILE = $(PYTHON) -m uv pip compile --generate-hashes --python-version 3.11 --python-platform x86_64-manylinux_2_28

lock: ## recompile requirements*.txt from requirements*.in (needs network to PyPI)
	$(PYTHON) -m pip install --quiet uv
	$(UV_COMPILE) requirements.in -o requirements.txt
	$(UV_COMPILE) requirements-dev.in -o requirements-dev.txt
	# Packages whose declared dependencies we must not take (see requirements-nodeps.in): hashed, appended.
	for lock in requirements.txt requirements-dev.txt; do \
		$(UV_COMPILE) --no-deps --no-header --quiet requirements-nodeps.in >> $$lock; \
	done

clean: ## remove the venv and every local output (wandb runs, offline sweeps, reports)
	rm -rf $(VENV) wandb offline_sweeps reports .mypy_cache .ruff_cache .pytest_cache
