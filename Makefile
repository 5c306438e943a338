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
# Python's bytecode cache on, even where the environment turns it off: `make test` starts about a thousand Python
# processes, each of which would otherwise compile the project's modules again (and pytest would rewrite every test
# module again in each of its workers). The caches are git- and docker-ignored.
export PYTHONDONTWRITEBYTECODE :=

.PHONY: help setup run train test check lint lock clean notebook
.DEFAULT_GOAL := help

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-7s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements-dev.txt requirements-nodeps.txt
	$(PYTHON) -m venv $(VENV)
	# The locks are complete (every transitive pin, every file hashed): install exactly them, nothing resolved.
	# uv does it in a quarter of pip's time (it downloads and unpacks in parallel); uv itself is pip-installed
	# from its hashed entry in the dev lock.
	$(PY) -m pip install --quiet --no-deps --require-hashes \
		-r <(awk '/^uv==/ {p = 1; print; next} p && /^[a-z]/ {p = 0} p' requirements-dev.txt) 2>&1 \
		| { grep -v "^WARNING: Location 'file://" || true; }
	$(VENV)/bin/uv pip install --quiet --python $(PY) --no-deps --require-hashes --compile-bytecode \
		-r requirements-dev.txt -r requirements-nodeps.txt
	touch $@

setup: $(VENV)/.installed ## create .venv from the hashed lock (once; again when the lock changes)

# The main job's knobs: `make run SWEEP=sweeps/bayes.yaml WORKERS=2 SWEEP_ARGS="--count 10 --seed 0"`.
SWEEP ?= sweeps/grid.yaml
WORKERS ?= 1
SWEEPS_ROOT ?= offline_sweeps
REPORTS ?= reports
RUN_NAME := $(or $(NAME),$(basename $(notdir $(SWEEP)))-$(shell date +%Y%m%d-%H%M%S))

run: setup ## the main job: an offline sweep of $(SWEEP) (pooled workers), then the best run's report
	$(PY) -m localsweep run $(SWEEP) --name $(RUN_NAME) --root $(SWEEPS_ROOT) --workers $(WORKERS) \
		--function trainer.train:agent_function $(SWEEP_ARGS)
	$(PY) -m analysis report --sweep $(RUN_NAME) --sweeps-root $(SWEEPS_ROOT) --out $(REPORTS)/$(RUN_NAME)
	@echo "report: $(REPORTS)/$(RUN_NAME)/report.html"

.PHONY: dashboard
dashboard: setup ## watch sweeps live in the browser: make dashboard [NAME=sweep] [DASHBOARD_ARGS="--port 8051"]
	$(PY) -m localsweep dashboard $(NAME) --root $(SWEEPS_ROOT) $(DASHBOARD_ARGS)

train: setup ## one training run: make train ARGS="--epochs=1 --model=cnn"
	$(PY) -m trainer $(ARGS)

# Tests run in parallel processes (pytest-xdist): many slow tests wait on sleeps, heartbeats, containers and
# downloads. TEST_WORKERS=4 on two cores covers those waits: the CPUs are busy 96 % of a run (BENCHMARKS.md, the
# test suite), so more workers can win little. `--maxschedchunk 1` hands each worker one test at a time once it is
# done, so no test is queued behind a long one.
TEST_WORKERS ?= 4
XDIST := -n $(TEST_WORKERS) --dist load --maxschedchunk 1
# Choose tests by marker, e.g. `make test MARKERS='not docker'`.
MARKERS ?=

# `--storage-backend both`: the tests marked `backend` run twice, once with every sweep recorded in SQLite files and
# once in a real PostgreSQL server (started and stopped by the tests): the store, claims, the lease, fences, the
# faults, a sweep per execution mode. One pytest run, so both share the workers.
test: setup lint ## lint, type-check and run every test (slow ones included), as CI does
	$(PY) -m pytest $(XDIST) --storage-backend both $(if $(MARKERS),-m "$(MARKERS)") $(PYTEST_ARGS)

check: setup lint ## lint, type-check and the fast tests (not slow, not docker): minutes, for every edit
	$(PY) -m pytest $(XDIST) -m "not slow and not docker" $(PYTEST_ARGS)

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
	# The image's lock: its packages at the runtime lock's versions, less libclang, which tensorflow-cpu declares
	# but never imports (61 MB; only TensorFlow's own build tools use it).
	$(UV_COMPILE) requirements-image.in -c requirements.txt --no-emit-package libclang -o requirements-image.txt
	$(UV_COMPILE) requirements-dev.in -o requirements-dev.txt
	# The package whose declared dependencies we must not take (see requirements-nodeps.in), in its own lock.
	$(UV_COMPILE) --no-deps requirements-nodeps.in -o requirements-nodeps.txt

clean: ## remove the venv and every local output (wandb runs, offline sweeps, reports)
	rm -rf $(VENV) wandb offline_sweeps reports .mypy_cache .ruff_cache .pytest_cache
