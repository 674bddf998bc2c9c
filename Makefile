# Every target sets itself up: `make demo` and `make test` create .venv and install pinned deps.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Lambda bundle architecture (arm64 or x86_64).
ARCH ?= arm64
# The Lambda runtime's Python: bundles are byte-compiled by an interpreter of this version.
LAMBDA_PYTHON ?= 3.13
# checkov has heavy dependencies: it gets its own venv so the package's pins stay untouched.
CHECKOV_VENV := .venv-checkov
CHECKOV := $(CHECKOV_VENV)/bin/checkov
# The offline Terraform toolchain (Terraform 1.15 + a schema-only hashicorp/aws), when it is beside
# this checkout: tests/terraform run with it first on PATH.
TF_ENV := ../shared/tools/terraform-offline/env.sh
WITH_TF := bash -c 'if [ -f $(TF_ENV) ]; then source $(TF_ENV); fi; exec "$$@"' --
CHECKOV_RUN := $(CHECKOV) --directory . --framework terraform --skip-download --quiet --compact \
	--skip-path '\.venv' --skip-path '\.terraform' --skip-path build --skip-path dist

.PHONY: install demo test lint format bench build package docs checkov validate-tf clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip==26.3
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[runtime,cli,dev]'
	touch $(STAMP)

demo: install
	$(BIN)/carbon-aware demo

# tests/terraform need the bundle (built first) and `terraform` (they skip, saying so, without it).
test: install build $(CHECKOV)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(WITH_TF) $(BIN)/python -m pytest
	$(CHECKOV_RUN)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Placement, sweeps and forecast quality, the year-long fleet simulation, interruptible jobs in
# segments against whole, the year-long migration policy replay, then each function's cold start
# from its bundle.
bench: install build
	$(BIN)/python scripts/bench.py
	$(BIN)/python scripts/bench_fleet.py
	$(BIN)/python scripts/bench_scheduler.py
	$(BIN)/python scripts/bench_checkpoint.py
	$(BIN)/python scripts/bench_segments.py
	$(BIN)/python scripts/bench_migrations.py
	$(BIN)/python scripts/bench_coldstart.py --arch $(ARCH) --python-version $(LAMBDA_PYTHON)

# Reproducible Lambda bundles, one per function: dist/$(ARCH)/<function>.zip and their .sha256.
build: install
	$(BIN)/python scripts/build.py --arch $(ARCH) --python-version $(LAMBDA_PYTHON)

# Release archive of the module with the prebuilt bundles (dist/$(ARCH)/*.zip), for a registry.
package: install
	$(BIN)/python scripts/build.py --arch $(ARCH) --python-version $(LAMBDA_PYTHON) --package

# Regenerate the Inputs/Outputs tables of the module READMEs.
docs: install
	$(BIN)/python scripts/tfdocs.py

$(CHECKOV): constraints-checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet -c constraints-checkov.txt checkov==3.3.30
	touch $(CHECKOV)

checkov: $(CHECKOV)
	$(CHECKOV_RUN)

# Terraform fmt/validate/test of the module and examples, docs, drift and build tests, checkov.
validate-tf: install build $(CHECKOV)
	$(WITH_TF) $(BIN)/python -m pytest tests/terraform tests/bundles
	$(CHECKOV_RUN)

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) build dist .pytest_cache .ruff_cache .hypothesis
