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

test: lint docs
	$(BIN)/python -m pytest

# The fast part alone: no real servers, no subprocess-heavy suites.
unit: $(STAMP)
	$(BIN)/python -m pytest --ignore=tests/integration -q

# The docs site, built strictly: a warning (broken link, unrendered name) fails the build.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/python -m mkdocs build --strict --quiet --site-dir $(VENV)/site

# The test suite on every CPython 3.10-3.13 found (pyenv's or on PATH), each in .venv-3.X.
# SKIP="3.11" leaves versions out (CI runs the default one through `make test`).
SKIP ?=
test-matrix:
	@found=""; for v in 3.10 3.11 3.12 3.13; do \
	  case " $(SKIP) " in *" $$v "*) continue;; esac; \
	  py=$$(ls -d $$HOME/.pyenv/versions/$$v*/bin/python 2>/dev/null | sort -V | tail -n 1); \
	  [ -n "$$py" ] || py=$$(command -v python$$v || true); \
	  [ -n "$$py" ] && found="$$found $$v=$$py"; \
	done; \
	echo "test-matrix: interpreters found:$${found:- none}"; \
	[ -n "$$found" ] || exit 0; \
	for pair in $$found; do \
	  v=$${pair%%=*}; py=$${pair#*=}; venv=.venv-$$v; \
	  echo "== Python $$v ($$py)"; \
	  test -x $$venv/bin/python || $$py -m venv $$venv || exit 1; \
	  $$venv/bin/python -m pip install --quiet --upgrade pip || exit 1; \
	  $$venv/bin/python -m pip install --quiet -e '.[server,otel,mcp,fastmcp]' --group dev || exit 1; \
	  $$venv/bin/python -m pytest -q -p no:cacheprovider || exit 1; \
	done; \
	echo "test-matrix: passed on$$(for p in $$found; do printf ' %s' $${p%%=*}; done)"

# Mutation testing of the core checks (slow; not part of `make test` or CI).
mutation: $(STAMP)
	$(BIN)/python -m bench.mutation

bench: $(STAMP)
	$(BIN)/python -m bench

# Not part of `make test`: 75 s of traffic through rotations and an issuer outage.
soak: $(STAMP)
	$(BIN)/python -m bench.soak

clean:
	rm -rf $(VENV) .venv-3.* .mypy_cache .pytest_cache .ruff_cache build dist site *.egg-info
