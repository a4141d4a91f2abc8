# Two commands a new user needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

# Installs come from lock files with hashes (requirements/*.txt): the same versions on every
# machine, in CI and in the image. `make lock` regenerates them after any dependency change.
RUN_LOCK := requirements/run.txt
DEV_LOCK := requirements/dev.txt
PIP := $(BIN)/python -m pip --disable-pip-version-check
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev

# The interop tier (tests/interop) runs Medplum under Node.js: its npm packages come from
# the lock file; without node and npm, pytest skips the tier and says why.
INTEROP := tests/interop
ifneq ($(and $(shell command -v node),$(shell command -v npm)),)
INTEROP_DEPS := $(INTEROP)/node_modules/.package-lock.json
else
INTEROP_DEPS := interop-unavailable
endif

# `make run PORT=8081` also moves the public base URL, unless CDS_PUBLIC_BASE_URL is given
# (in the environment or on the command line); one worker unless CDS_WORKERS says otherwise.
PORT ?= 8080
run: export CDS_PUBLIC_BASE_URL ?= http://127.0.0.1:$(PORT)
run: export CDS_WORKERS ?= 1

.PHONY: run test lint typecheck contracts install lock clean interop-unavailable bench bench-smoke

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

# Only what running needs: the runtime lock, then the project itself (no dependencies).
$(RUN_STAMP): $(RUN_LOCK) pyproject.toml | $(VENV)/bin/python
	@echo "Installing the locked runtime dependencies ($(RUN_LOCK)) into $(VENV) ..."
	$(PIP) install --progress-bar on --require-hashes --no-deps -r $(RUN_LOCK)
	$(PIP) install --quiet --no-deps --no-build-isolation -e .
	touch $@

$(DEV_STAMP): $(DEV_LOCK) pyproject.toml | $(VENV)/bin/python
	@echo "Installing the locked development dependencies ($(DEV_LOCK)) into $(VENV) ..."
	$(PIP) install --progress-bar on --require-hashes --no-deps -r $(DEV_LOCK)
	$(PIP) install --quiet --no-deps --no-build-isolation -e .
	touch $@ $(RUN_STAMP)

install: $(DEV_STAMP)

$(INTEROP)/node_modules/.package-lock.json: $(INTEROP)/package-lock.json
	cd $(INTEROP) && npm ci

interop-unavailable:
	@echo "node and npm are not both on PATH: the interop tier (tests/interop) will be skipped"

run: $(RUN_STAMP)
	$(BIN)/footdrop-cds serve --host 127.0.0.1 --port $(PORT)

# Resolve every dependency of pyproject.toml (and the build backend) to exact versions with
# hashes, for every platform and Python >= 3.11; the runtime lock is a subset of the dev lock.
# Pins already in the files are kept; `make lock LOCK_FLAGS=--upgrade` takes newer releases.
lock: $(DEV_STAMP)
	$(BIN)/uv pip compile pyproject.toml requirements/build.in --extra dev --extra postgres \
	    --universal --python-version 3.11 --generate-hashes $(LOCK_FLAGS) \
	    --custom-compile-command "make lock" --output-file $(DEV_LOCK)
	$(BIN)/uv pip compile pyproject.toml requirements/build.in --extra postgres \
	    --universal --python-version 3.11 --generate-hashes --constraint $(DEV_LOCK) \
	    --custom-compile-command "make lock" --output-file $(RUN_LOCK)

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(DEV_STAMP)
	$(BIN)/mypy

contracts: $(DEV_STAMP)
	$(BIN)/lint-imports

test: lint typecheck contracts $(INTEROP_DEPS)
	$(BIN)/pytest -rs

# The benchmark of docs/performance.md (4–10 minutes; wrk from `apt-get install wrk`
# if present, else a Python client); bench-smoke is the same harness in under a minute.
bench: $(DEV_STAMP)
	$(BIN)/python -m bench

bench-smoke: $(DEV_STAMP)
	$(BIN)/python -m bench --quick

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache $(INTEROP)/node_modules
