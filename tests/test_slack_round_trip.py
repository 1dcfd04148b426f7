"""A full round through the local Slack stand-in with the real bundled model: the bot doesn't know →
an admin votes 👎 and gives the correct answer → `/finetune start` → the worker trains, promotes and posts
a summary → the same question now gets the corrected answer."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import EXAMPLES

from bot.blocks import DOWNVOTE_ACTION, THINKING_TEXT
from bot.serve import ServeOptions
from bot.standins.slack import SlackStandIn
from connectors.anonymize import Anonymizer
from connectors.ingest import Ingestor
from ftbot.answering.answer import Answerer
from ftbot.cli.serve import running_service
from ftbot.config import load_settings
from ftbot.retrieval import Embedder
from ftbot.storage.db import Database

pytestmark = pytest.mark.slow

ALICE, ADA, GENERAL, BOT = "U0ALICE", "U0ADMIN", "C0GENERAL", "U0FTBOT"
QUESTION = "What is the guest wifi password?"
CORRECTION = "The guest wifi password is printed on the card at the reception desk."


def _ask(standin: SlackStandIn, question: str) -> dict:
    asked = standin.post_message(ALICE, GENERAL, f"<@{BOT}> {question}")

    def answered():
        replies = [m for m in standin.replies(GENERAL, asked.ts) if m.get("text") != THINKING_TEXT]
        return replies[0] if replies else None

    return standin.wait_for(answered, timeout=120)


def test_when_an_admin_corrects_an_answer_and_retrains_then_the_bot_gives_the_correction(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FTBOT_CONFIG", str(EXAMPLES.parent / "ftbot.toml"))
    monkeypatch.setenv("FTBOT_TRAINING__EPOCHS", "2")
    settings = load_settings()
    db = Database(settings.db_url)
    # A small slice of the demo FAQ keeps training to a minute on 2 cores.
    faq = (EXAMPLES / "faq.csv").read_text().splitlines()
    (tmp_path / "faq.csv").write_text("\n".join(faq[:26]) + "\n")
    anonymizer = Anonymizer(allow_list=settings.allow_list)
    Ingestor(db, anonymizer, Embedder()).ingest([tmp_path / "faq.csv"])

    answerer = Answerer(settings, db, anonymizer=anonymizer)
    options = ServeOptions()
    local = settings.model_copy(update={"slack": settings.slack.model_copy(update={"standin_port": 0})})
    # The worker trains in the bot's process; no weekly schedule.
    with running_service(local, db, options, say=lambda _: None, answerer=answerer, schedule=False) as running:
        running.transport.serve_in_background()
        assert running.standin is not None
        _round_trip(running.standin)


def _round_trip(standin: SlackStandIn) -> None:
    before = _ask(standin, QUESTION)
    assert "reception" not in before["text"]
    standin.click_button(ADA, GENERAL, before["ts"], DOWNVOTE_ACTION)
    view = standin.wait_for(lambda: standin.views(ADA)[-1] if standin.views(ADA) else None)
    standin.submit_view(ADA, view["id"], {"correction": {"correction_input": CORRECTION}})

    assert "Queued training run #1" in standin.slash_command(ADA, GENERAL, "/finetune", "start")
    # The worker trains in the bot's process and posts the summary with the loss curve where it was asked.
    summary = standin.wait_for(lambda: [f for f in standin.files() if f.channels], timeout=600)[0]
    assert summary.channels == [GENERAL] and summary.data and summary.data.startswith(b"\x89PNG")
    assert "*Promoted:* yes" in (summary.initial_comment or "")
    status = standin.slash_command(ADA, GENERAL, "/finetune", "status")
    assert "*Active model:* v1" in status, status

    after = _ask(standin, QUESTION)
    assert "model v1" in str(after["blocks"])
    assert "reception" in after["text"], after["text"]
