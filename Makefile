# Every target bootstraps what it needs: a fresh machine needs only Python 3.11+ and Node.js.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 18,20
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help install demo test lint synth bench chaos interleavings clean

help:
	@echo "make demo    run the local demo (moto + warm-pool emulator, real handlers)"
	@echo "make test    run the test suite (slow tests included), on every core"
	@echo "make lint    ruff + mypy"
	@echo "make synth   synthesize the CloudFormation template offline into cdk.out/"
	@echo "make bench   simulator benchmark: keep-alive strategies against the clairvoyant optimum"
	@echo "make chaos   day-long chaos replay with injected faults"
	@echo "make interleavings  only the interleavings: two entry points on one pool, B before every AWS call of A"

$(STAMP): pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "warmpool needs Python 3.11 or newer")'
	@command -v node >/dev/null || { echo "warmpool needs Node.js for the CDK (jsii)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/warmpool demo

test: $(STAMP)
	$(BIN)/python -m pytest -n auto --dist worksteal

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

synth: $(STAMP)
	$(BIN)/python app.py
	@echo "template written to cdk.out/"

bench: $(STAMP)
	$(BIN)/python -m bench

chaos: $(STAMP)
	$(BIN)/python -m pytest -m chaos -q -s tests/integration/chaos

interleavings: $(STAMP)
	$(BIN)/python -m pytest -n auto --dist worksteal -m exhaustive tests/integration/lifecycle/test_interleavings.py

clean:
	rm -rf $(VENV) cdk.out .pytest_cache .mypy_cache .ruff_cache .hypothesis
