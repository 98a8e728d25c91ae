# One entry point for the project's tasks. `make demo` and `make test` set everything up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8000

.PHONY: demo test browser lint typecheck bench serve clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test,fast,video]'
	touch $(STAMP)

demo: $(STAMP)  ## build the Shimenzi demo (synthetic data) in shuian.db and serve it
	$(BIN)/shuian demo --db sqlite:///shuian.db --port $(PORT)

test: $(STAMP) browser  ## lint, type-check and run the whole test suite
	$(BIN)/ruff check src tests bench
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/pytest -n 2 -q

browser:  ## find the Chromium the page tests drive, or install Debian's (as root)
	@.ci/ensure-chromium

lint: $(STAMP)  ## ruff, and the import contract (.importlinter: imports point down the layers)
	$(BIN)/ruff check src tests bench
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

bench: $(STAMP)  ## quick runs of every benchmark
	for script in bench/*.py; do $(BIN)/python $$script --quick || exit 1; done

serve: $(STAMP)
	$(BIN)/shuian serve --db sqlite:///shuian.db --port $(PORT)

clean:
	rm -rf $(VENV) build *.egg-info shuian.db shuian.db-wal shuian.db-shm
