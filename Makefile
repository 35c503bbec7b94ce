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

## The main job: the six schemes at the paper's Fig. 2 setting (N = 40, r = 4), then the
## paper's figures and the bottleneck studies at full size into results/ (REPORT.md).
run: $(STAMP)
	$(BIN)/pssim run --scheme all --workers 40 --load 4 --mu 10 --alpha 0.01 --reps 10000 --seed 1
	$(BIN)/pssim report --out results

## mypy and import-linter see the pssim namespace through links laid out as
## pyproject.toml's package-dir installs it, remade each time so that added and removed
## files are seen, and put on the environment's path (a .pth file), so that every tool run
## from .venv finds the whole namespace. Anything the links miss, the editable install's
## finder still serves.
lint: $(STAMP)
	$(BIN)/ruff check .
	rm -rf $(VENV)/typecheck && mkdir -p $(VENV)/typecheck/pssim
	for f in simulator/*.py simulator/*/; do ln -sfn "$$PWD/$${f%/}" $(VENV)/typecheck/pssim/; done
	for d in schemes analysis scenarios; do ln -sfn "$$PWD/$$d" $(VENV)/typecheck/pssim/$$d; done
	echo "$$PWD/$(VENV)/typecheck" > "$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/pssim-namespace.pth"
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

## Lint, type-check, then the whole test suite.
test: lint
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_des.py
	$(BIN)/python benchmarks/bench_engines.py
	$(BIN)/python benchmarks/bench_sweep.py
	$(BIN)/python benchmarks/bench_scaling.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
