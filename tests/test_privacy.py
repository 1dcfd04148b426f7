"""Privacy by construction: after ingest, training and answering, no planted PII is anywhere in FTBOT_HOME."""

from __future__ import annotations

import json

import pytest
from conftest import EXAMPLES

from connectors.ingest import Ingestor
from ftbot.answering.answer import Answerer
from trainer.pipeline import run_training

DEMO_INPUTS = ("handbook", "faq.csv", "support_faq.md", "support_transcripts.jsonl")


def _planted() -> list[tuple[str, str]]:
    planted = json.loads((EXAMPLES / "planted_pii.json").read_text())
    return [(kind, value) for kind, values in planted.items() for value in values]


@pytest.fixture
def everything_written(tiny_settings, db, anonymizer, embedder) -> bytes:
    """Every byte ftbot wrote under FTBOT_HOME after a full round: ingest → train → ask (with PII)."""
    Ingestor(db, anonymizer, embedder).ingest([EXAMPLES / name for name in DEMO_INPUTS])
    run_training(tiny_settings, db)
    answerer = Answerer(tiny_settings, db, anonymizer=anonymizer)
    answerer.answer("Hi, I'm Priya Raman, priya.raman@example.org, +49 171 2345678: how many vacation days?")
    db.engine.dispose()  # flush SQLite's WAL into the database file too
    files = [path for path in tiny_settings.home_dir.rglob("*") if path.is_file()]
    assert any(path.suffix == ".safetensors" for path in files) and any(path.suffix == ".jsonl" for path in files)
    return b"\n".join(path.read_bytes() for path in files)


def test_when_the_loop_has_run_then_no_planted_pii_is_stored_anywhere(everything_written: bytes) -> None:
    leaks = [(kind, value) for kind, value in _planted() if value.encode() in everything_written]
    leaks += [
        ("question", v)
        for v in ("Priya Raman", "priya.raman@example.org", "+49 171 2345678")
        if v.encode() in everything_written
    ]
    assert leaks == []
