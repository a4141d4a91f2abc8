# Two commands a new user needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
# The interop tier (tests/interop) runs Medplum under Node.js: its npm packages come from
# the lock file; without node and npm, pytest skips the tier and says why.
INTEROP := tests/interop
ifneq ($(and $(shell command -v node),$(shell command -v npm)),)
INTEROP_DEPS := $(INTEROP)/node_modules/.package-lock.json
else
INTEROP_DEPS := interop-unavailable
endif

.PHONY: run test lint typecheck contracts install clean interop-unavailable

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

$(INTEROP)/node_modules/.package-lock.json: $(INTEROP)/package-lock.json
	cd $(INTEROP) && npm ci

interop-unavailable:
	@echo "node and npm are not both on PATH: the interop tier (tests/interop) will be skipped"

run: $(STAMP)
	$(BIN)/uvicorn --factory service.app:create_app --host 127.0.0.1 --port 8080

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

contracts: $(STAMP)
	$(BIN)/lint-imports

test: lint typecheck contracts $(INTEROP_DEPS)
	$(BIN)/pytest -rs

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache $(INTEROP)/node_modules
