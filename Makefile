# Everything runs inside .venv, created on first use from the system python3.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test typecheck bench bench-peers clean

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

# The independent peer harness (../shared/bench) and the openai SDK, in a separate venv so
# the peers never leak into the test environment.
SHARED ?= ../shared
PEERS  := .venv-peers
bench-peers:                      ## the shared peer harness (--bar) + our streaming section with the openai SDK
	test -x $(PEERS)/bin/python || $(PYTHON) -m venv $(PEERS)
	$(PEERS)/bin/python -m pip install -q -r $(SHARED)/bench/requirements.txt -e .
	LLMC_PATH=. $(PEERS)/bin/python $(SHARED)/bench/run_bench.py --bar \
	    --contenders floor,requests_sseclient,llm_connectivity,openai \
	    --metrics stream,chat,ttfc,ttfc_close,rss,rss_small,concurrency
	$(PEERS)/bin/python benchmarks/run.py --only stream,chat

clean:
	rm -rf $(VENV) $(PEERS) build dist *.egg-info .pytest_cache .mypy_cache
