# Everything a fresh clone needs: python3 and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint bench clean

# The pssim package laid out as links, as pyproject.toml's package-dir installs it, and put
# on the environment's path (a .pth file): mypy and import-linter see the whole namespace
# through them, and, being a regular package on the path, it wins over a folder named
# pssim/ in the folder Python starts in (a clone, say), which would otherwise shadow the
# editable install's finder. Anything the links miss, that finder still serves.
define LINKS
rm -rf $(VENV)/typecheck && mkdir -p $(VENV)/typecheck/pssim
for f in simulator/*.py simulator/*/; do ln -sfn "$$PWD/$${f%/}" $(VENV)/typecheck/pssim/; done
for d in schemes analysis scenarios; do ln -sfn "$$PWD/$$d" $(VENV)/typecheck/pssim/$$d; done
echo "$$PWD/$(VENV)/typecheck" > "$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/pssim-namespace.pth"
endef

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,dask]'
	$(LINKS)
	touch $(STAMP)

## The main job: the six schemes at the paper's Fig. 2 setting (N = 40, r = 4), then the
## paper's figures and the bottleneck studies at full size into results/ (REPORT.md).
run: $(STAMP)
	$(BIN)/pssim run --scheme all --workers 40 --load 4 --mu 10 --alpha 0.01 --reps 10000 --seed 1
	$(BIN)/pssim report --out results

## mypy and import-linter need the links (below) remade, so that added and removed files
## are seen.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(LINKS)
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
	$(BIN)/python benchmarks/bench_startup.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
