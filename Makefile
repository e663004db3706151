# RPA Suite — developer tasks. GNU make; works from a fresh clone on Debian 12 + Python 3.11.
# `make` alone lists the targets.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory
# Steps depend on each other (apt before venv, venv before lint): never run them in parallel.
.NOTPARALLEL:

# Interpreter the venvs are made from.
PYTHON ?= python3
# Extra pytest arguments, e.g. make test PYTEST_ARGS="-k scheduler -x"
PYTEST_ARGS ?=

VENV  := .venv
VPY   := $(VENV)/bin/python
UV    := $(VENV)/bin/uv
DEPS  := $(VENV)/.stamp-deps

PEERS      := .venv-peers
PEERS_PY   := $(PEERS)/bin/python
PEERS_REQS := bench/requirements-peers.txt
PEERS_DEPS := $(PEERS)/.stamp-deps

.PHONY: help setup sysdeps venv lint check test demo bench bundle clean

help: ## list the targets
	@echo "RPA Suite — make targets:"
	@grep -hE '^[a-z][a-z-]*:.*## ' $(MAKEFILE_LIST) \
	  | awk -F':.*## ' '{ printf "  make %-8s %s\n", $$1, $$2 }'
	@echo "Variables: PYTHON=$(PYTHON)  PYTEST_ARGS=...  RPA_SKIP_SYSDEPS=1 (non-root: warn only)"

sysdeps: ## install the missing Debian packages (root), or print the sudo command
	PYTHON="$(PYTHON)" bash installer/system-deps.sh

setup: sysdeps venv ## sysdeps + the .venv with every extra ('.[all,dev]')

venv: $(DEPS) ## create/update .venv (reinstalls only when pyproject.toml changes)

# --- the main venv ----------------------------------------------------------
$(VPY):
	$(PYTHON) -m venv $(VENV)

# uv inside the venv; a venv made by `uv venv` has no pip, so bootstrap it first.
$(UV): | $(VPY)
	$(VPY) -m pip --version >/dev/null 2>&1 || $(VPY) -m ensurepip --upgrade --default-pip
	$(VPY) -m pip install --quiet --disable-pip-version-check uv

# The stamp is newer than pyproject.toml once the full set is installed.
# python-xlib is reinstalled last: mouseinfo pulls python3-Xlib, which ships the same Xlib/ package
# and can overwrite it (pyautogui then fails with an Xauthority error).
# Playwright drives /usr/bin/chromium, so `playwright install` is deliberately not run.
$(DEPS): pyproject.toml | $(UV)
	$(UV) pip install --python $(VPY) -e '.[all,dev]'
	$(UV) pip install --python $(VPY) --reinstall python-xlib
	touch $@

# --- checks -------------------------------------------------------------------
lint: venv ## ruff (rules and format), mypy (strict, every package) and import-linter contracts
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

# The check to run before each commit (about a minute): lint, types, and the core's own tests
# (tests/shared without the `slow` ones, and the checks on the project's tooling). It needs no
# system packages, server or browser.
CHECK_TESTS := tests/shared tests/test_project_checks.py

check: export QT_QPA_PLATFORM := offscreen
check: export OMP_THREAD_LIMIT := 1
check: venv ## lint + type check + the fast core tests (about a minute; before each commit)
	$(MAKE) lint
	$(VENV)/bin/pytest -q -m "not slow" $(PYTEST_ARGS) $(CHECK_TESTS)

# Python writes its bytecode caches (gitignored __pycache__) even where the environment says not to:
# the suite starts dozens of orchestrator, agent and CLI processes, and without the caches each one
# compiles every module it imports again (an orchestrator took 8.5 s to be ready instead of 3.9 s).
test demo: export PYTHONDONTWRITEBYTECODE :=
test: export QT_QPA_PLATFORM := offscreen
test: export OMP_THREAD_LIMIT := 1
test: setup ## setup, lint, then the whole pytest suite
	$(MAKE) lint
	@rc=0; $(VENV)/bin/pytest $(PYTEST_ARGS) || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests — failing." >&2; exit 1; fi; \
	exit $$rc

demo: setup ## setup, then run the bundled demo flows end to end (rpa demo)
	$(VENV)/bin/rpa demo

# --- benchmarks against peer tools (separate venv) ------------------------------
$(PEERS_PY):
	$(PYTHON) -m venv $(PEERS)

$(PEERS_REQS):
	@echo "make bench: $@ is missing (the peer tools to benchmark against)." >&2; exit 1

$(PEERS_DEPS): $(PEERS_REQS) | $(PEERS_PY) $(UV)
	$(UV) pip install --python $(PEERS_PY) -r $(PEERS_REQS)
	touch $@

bench: setup $(PEERS_DEPS) ## setup, peers venv, then bench/engine.py
	$(VPY) bench/engine.py --peers-python $(PEERS_PY)

# --- housekeeping -------------------------------------------------------------
bundle: venv ## PyInstaller one-folder bundles into dist/ (build_spec.py)
	$(VPY) build_spec.py

clean: ## remove venvs, caches and build output
	rm -rf $(VENV) $(PEERS) build dist *.egg-info \
	  .pytest_cache .mypy_cache .ruff_cache .hypothesis .import_linter_cache
	find . -path ./.git -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +
