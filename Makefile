# Everything runs inside .venv, created on first use from the system python3.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test typecheck bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: setup.cfg setup.py pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

demo: $(VENV)/.installed          ## stream a chat completion (local server when no OPENAI_API_KEY)
	$(BIN)/python examples/quickstart.py

test: $(VENV)/.installed-dev      ## the whole test suite (what CI runs)
	$(BIN)/python -m pytest -q

typecheck: $(VENV)/.installed-dev ## mypy --strict over the package
	$(BIN)/python -m mypy --strict llm_connectivity

bench: $(VENV)/.installed-dev     ## benchmarks, as ratios against the raw floor measured in the same run
	$(BIN)/python -m pip install -q -e '.[bench]'
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache
