"""Shared fixtures: an isolated FTBOT_HOME, a database (SQLite, or PostgreSQL too for tests marked
both_backends), and a tiny random Llama with a tiny tokenizer."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from postgres_server import PostgresServer, PostgresUnavailable
from postgres_server import start as start_postgres

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
FIXTURES = Path(__file__).resolve().parent / "fixtures"

# SmolLM2's ChatML template, so tests exercise the same rendering as the bundled model.
CHATML_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>'"
    " + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def _tokenizer_corpus() -> list[str]:
    texts = [
        path.read_text(encoding="utf-8") for path in EXAMPLES.rglob("*") if path.suffix in (".md", ".csv", ".jsonl")
    ]
    return texts + ["Answer from the context in one or two sentences. I don't know. Question: Context:"]


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer Llama (random weights) and a 1k-token byte-level BPE tokenizer, saved like a hub model."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    directory = tmp_path_factory.mktemp("tiny-llama")
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=1024, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    bpe.train_from_iterator(_tokenizer_corpus(), trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token="<|endoftext|>",
    )
    tokenizer.chat_template = CHATML_TEMPLATE
    tokenizer.save_pretrained(directory)

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    LlamaForCausalLM(config).save_pretrained(directory)
    return directory


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty FTBOT_HOME, and no ftbot.toml or FTBOT_*/SLACK_* variables leaking in from the machine."""
    for name in list(os.environ):
        if name.startswith(("FTBOT_", "SLACK_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    home = tmp_path / "home"
    monkeypatch.setenv("FTBOT_HOME", str(home))
    return home


@pytest.fixture
def tiny_settings(home: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch):
    """Settings that train and answer with the tiny model, quickly."""
    from ftbot.config import load_settings

    monkeypatch.setenv("FTBOT_BASE_MODEL", str(tiny_model_dir))
    monkeypatch.setenv("FTBOT_TRAINING__EPOCHS", "1")
    monkeypatch.setenv("FTBOT_GENERATION__MAX_NEW_TOKENS", "12")
    return load_settings()


# Databases ---------------------------------------------------------------------------------------------------

BACKENDS = ("sqlite", "postgresql")
MIGRATED = "ftbot_migrated"  # the PostgreSQL template database that `db` copies
POSTGRES_STATUS = pytest.StashKey[str]()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # A test marked both_backends runs once per backend: db_backend (and so db and db_url) takes each in turn.
    if metafunc.definition.get_closest_marker("both_backends") and "db_backend" in metafunc.fixturenames:
        metafunc.parametrize("db_backend", BACKENDS, indirect=True)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    # One line saying whether PostgreSQL was tested, so a run that fell back to SQLite only can't pass unnoticed.
    status = config.stash.get(POSTGRES_STATUS, None)
    if status is not None:
        skipped = status.startswith("PostgreSQL tests skipped")
        terminalreporter.write_sep("=", status, yellow=skipped, green=not skipped)


@pytest.fixture(scope="session")
def postgres(pytestconfig: pytest.Config) -> Iterator[PostgresServer]:
    """A PostgreSQL server for the session, started on first use; without one, the test is skipped."""
    from ftbot.storage.db import Database

    try:
        server = start_postgres()
    except PostgresUnavailable as why:
        pytestconfig.stash[POSTGRES_STATUS] = f"PostgreSQL tests skipped: {why}; database tests ran on SQLite only"
        pytest.skip(f"PostgreSQL tests skipped: {why}")
    pytestconfig.stash[POSTGRES_STATUS] = f"PostgreSQL tests ran on PostgreSQL {server.version}"
    # Migrated once: each test's database is a copy of it, which is faster than migrating every one.
    Database(server.url(server.create_database(name=MIGRATED))).engine.dispose()
    yield server
    server.stop()


@pytest.fixture
def db_backend(request: pytest.FixtureRequest) -> str:
    """'sqlite', or each of BACKENDS in turn for a test marked both_backends."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture
def db_url(db_backend: str, home: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A new, empty database on the test's backend: a file in FTBOT_HOME, or a database of its own on the server."""
    with _new_database(db_backend, home, request, template="template0") as url:
        yield url


@pytest.fixture
def db(db_backend: str, home: Path, request: pytest.FixtureRequest) -> Iterator:
    """A new database at the latest migration, on the test's backend."""
    from ftbot.storage.db import Database

    with _new_database(db_backend, home, request, template=MIGRATED) as url:
        database = Database(url)
        yield database
        database.engine.dispose()


@contextmanager
def _new_database(backend: str, home: Path, request: pytest.FixtureRequest, *, template: str) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{home / 'ftbot.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres")
    name = server.create_database(template)
    yield server.url(name)
    server.drop_database(name)


@pytest.fixture(scope="session")
def anonymizer():
    from connectors.anonymize import Anonymizer

    return Anonymizer()


@pytest.fixture(scope="session")
def embedder():
    from ftbot.retrieval import Embedder

    return Embedder()


# Two Q&A pairs: enough to retrieve, train and answer on the tiny model.
FAQ = """question,answer
How many vacation days do I get?,Full-time employees get 28 vacation days per year.
Which Slack channel is the IT helpdesk?,Ask the IT helpdesk in #it-helpdesk.
"""


@pytest.fixture
def ingested(db, tmp_path: Path, anonymizer, embedder):
    """The database with FAQ ingested from faq.csv (anonymized and embedded, as `ftbot ingest` does)."""
    from connectors.ingest import Ingestor

    (tmp_path / "faq.csv").write_text(FAQ)
    Ingestor(db, anonymizer, embedder).ingest([tmp_path / "faq.csv"])
    return db
