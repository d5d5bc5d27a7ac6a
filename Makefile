# The project's own install: a local .venv with pinned dependencies.
# `make demo` runs the main job on the bundled samples, `make test` runs the test suite and
# the docstring examples of src/ (pyproject.toml: testpaths and --doctest-modules), `make
# lint` runs ruff and mypy (the same checks as .pre-commit-config.yaml). CI: .ci/run.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LINT_PATHS := src tests samples benchmarks conftest.py

.PHONY: install demo test lint clean

$(STAMP): pyproject.toml requirements.lock hatch_build.py src/latentsym/io/_lhe_scan.c
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -c requirements.lock -e ".[dev,pythia,dask]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/latentsym inspect samples/*.lhe.gz
	$(BIN)/latentsym run samples/ee_mumu_91GeV.lhe.gz --out out/ee_mumu --overwrite

test: $(STAMP)
	MPLBACKEND=Agg $(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)
	$(BIN)/mypy

clean:
	rm -rf $(VENV)
