# Each target creates .venv when it is missing; PYTHON may name any Python >= 3.10.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test unit lint docs package test-matrix bench soak mutation clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[server,otel,mcp,fastmcp]' --group dev
	@touch $(STAMP)

# Flags for the demo: make demo ARGS="--port 8001 --issuer-port 3002"
ARGS ?=

demo: $(STAMP)
	$(BIN)/python -m demo_api $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m bench

# Not part of `make test`: 75 s of traffic through rotations and an issuer outage.
soak: $(STAMP)
	$(BIN)/python -m bench.soak

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache build *.egg-info
