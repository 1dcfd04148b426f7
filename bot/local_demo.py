"""The demo's Slack scene: an employee asks the bot in the local stand-in and gets threaded answers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.blocks import THINKING_TEXT
from bot.serve import ServeOptions, running_bot
from bot.standins.slack import SlackStandIn
from bot.transports import HttpTransport
from ftbot.answering.answer import Answerer
from ftbot.config import Settings
from ftbot.storage.db import Database

ALICE, GENERAL = "U0ALICE", "C0GENERAL"


def slack_scene(
    settings: Settings, db: Database, answerer: Answerer, questions: list[str], say: Callable[[str], None]
) -> None:
    """Alice @mentions the bot in #general; the threaded answers print as Slack would show them."""
    options = ServeOptions()
    local = settings.model_copy(
        update={"slack_bot_token": None, "slack": settings.slack.model_copy(update={"standin_port": 0})}
    )
    with running_bot(local, db, options, say=lambda _: None, answerer=answerer) as running:
        assert isinstance(running.transport, HttpTransport) and running.standin is not None
        running.transport.serve_in_background()
        standin = running.standin
        for question in questions:
            asked = standin.post_message(ALICE, GENERAL, f"<@{standin.bot_user_id}> {question}")
            reply = _wait_for_answer(standin, asked.ts)
            context = reply["blocks"][1]["elements"][0]["text"]
            say(f"[bold]#general · Alice:[/bold] @ftbot {question}")
            say(f"  [bold]↳ ftbot:[/bold] {reply['text']}\n    [dim]{context} · 👍 / 👎 buttons[/dim]")
        say("  👍/👎 on an answer (buttons or reactions) is stored as feedback for the next training run.")


def _wait_for_answer(standin: SlackStandIn, thread_ts: str) -> dict[str, Any]:
    """The bot's reply in the thread once the placeholder has become the answer."""

    def answered() -> dict[str, Any] | None:
        replies = [m for m in standin.replies(GENERAL, thread_ts) if m.get("text") != THINKING_TEXT]
        return replies[0] if replies else None

    reply = standin.wait_for(answered, timeout=300)
    assert reply is not None  # wait_for returns only a truthy value
    return reply
