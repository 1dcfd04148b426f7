"""Shared fixtures: an isolated FTBOT_HOME, a database, and a tiny random Llama with a tiny tokenizer."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

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


@pytest.fixture
def db(home: Path) -> Iterator:
    from ftbot.storage.db import Database

    database = Database(f"sqlite:///{home / 'ftbot.db'}")
    yield database
    database.engine.dispose()


@pytest.fixture(scope="session")
def anonymizer():
    from connectors.anonymize import Anonymizer

    return Anonymizer()


@pytest.fixture(scope="session")
def embedder():
    from ftbot.retrieval import Embedder

    return Embedder()
