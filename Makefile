# Everything a fresh clone needs: python3 and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,dask]'
	touch $(STAMP)

## The main job: the paper's six schemes at its Fig. 2 setting (N = 40, r = 4).
run: $(STAMP)
	$(BIN)/pssim run --scheme all --workers 40 --load 4 --mu 10 --alpha 0.01 --reps 2000 --seed 1

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

## Lint, type-check, then the whole test suite.
test: lint
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_des.py
	$(BIN)/python benchmarks/bench_engines.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
