"""The one wiring seam: Slack events, actions, views and commands meet the bot's functions here.

Listeners are thin: ack (Bolt acks events itself), pick the fields out of the payload, call a plain
function. Users see friendly text, never an exception's; the log gets the traceback.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt import App, BoltResponse
from slack_sdk import WebClient

from bot import feedback, metrics
from bot.blocks import (
    CORRECTION_BLOCK,
    CORRECTION_INPUT,
    DOWNVOTE_ACTION,
    FEEDBACK_VIEW,
    REASON_BLOCK,
    REASON_INPUT,
    THINKING_TEXT,
    UPVOTE_ACTION,
    feedback_modal,
    thinking_blocks,
    view_value,
)
from bot.commands import REFUSAL, FinetuneCommand
from bot.dedupe import claim_event
from bot.responder import WORKING_REACTION, Question, Responder
from connectors.anonymize import Anonymizer
from ftbot.config import SlackConfig
from ftbot.personal_keys import PersonalDataKeys
from ftbot.privacy import user_ref
from ftbot.storage.db import Database

log = logging.getLogger(__name__)

HELP = "Hi! Ask me a question about the company (policies, IT, benefits…) and I'll answer from what I've learned."
# Message subtypes that are not someone asking something: edits, deletions, joins, bots, ...
_IGNORED_SUBTYPES = {"message_changed", "message_deleted", "bot_message", "channel_join", "channel_leave"}


@dataclass
class BotContext:
    """What the listeners need, built once by bot.app.build_app."""

    db: Database
    slack: SlackConfig
    responder: Responder
    anonymizer: Anonymizer
    finetune: FinetuneCommand
    is_admin: Callable[[str], bool]
    bot_user_id: str
    # Keyed hashes of the personal data in reasons and corrections, so an erasure finds them.
    keys: PersonalDataKeys


def register_listeners(app: App, bot: BotContext) -> None:
    @app.middleware
    def deduplicate(body: dict[str, Any], next: Callable[[], None]) -> BoltResponse | None:  # noqa: A002
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if body.get("type") == "event_callback":
            metrics.slack_event(body.get("event", {}).get("type", ""))
        if event_id and not claim_event(bot.db, event_id):
            log.info("ignoring a redelivered event %s", event_id)
            metrics.duplicate_dropped()
            return BoltResponse(status=200, body="")
        next()
        return None

    @app.event("app_mention")
    def on_mention(event: dict[str, Any], client: WebClient) -> None:
        if _is_noise(event) or not _channel_allowed(bot.slack, event["channel"]):
            return
        ask(bot, client, event, thread_ts=event.get("thread_ts") or event["ts"])

    @app.event("message")
    def on_message(event: dict[str, Any], client: WebClient) -> None:
        if _is_noise(event):
            return
        if event.get("channel_type") == "im":
            ask(bot, client, event, thread_ts=event.get("thread_ts"))
            return
        # In channels, mentions come as app_mention; answer the rest only where the channel asks for it.
        mentions_bot = f"<@{bot.bot_user_id}>" in event.get("text", "")
        channel = event["channel"]
        if mentions_bot or bot.slack.channel(channel).mention_only or not _channel_allowed(bot.slack, channel):
            return
        if "?" in event.get("text", "") and not event.get("thread_ts"):
            ask(bot, client, event, thread_ts=event["ts"])

    @app.event("reaction_added")
    def on_reaction_added(event: dict[str, Any]) -> None:
        react(bot, event, added=True)

    @app.event("reaction_removed")
    def on_reaction_removed(event: dict[str, Any]) -> None:
        react(bot, event, added=False)

    @app.action(UPVOTE_ACTION)
    def on_upvote(ack: Callable[..., None], body: dict[str, Any], client: WebClient) -> None:
        ack()
        if vote(bot, body, +1):
            client.chat_postEphemeral(
                channel=body["channel"]["id"], user=body["user"]["id"], text="Thanks! I'll learn from this answer."
            )

    @app.action(DOWNVOTE_ACTION)
    def on_downvote(ack: Callable[..., None], body: dict[str, Any], client: WebClient) -> None:
        ack()
        answer_id = vote(bot, body, -1)
        if answer_id is not None:
            client.views_open(
                trigger_id=body["trigger_id"],
                view=feedback_modal(answer_id, can_correct=bot.is_admin(body["user"]["id"])),
            )

    @app.view(FEEDBACK_VIEW)
    def on_feedback_reason(ack: Callable[..., None], body: dict[str, Any], view: dict[str, Any]) -> None:
        ack()
        explain(bot, body["user"]["id"], view)

    @app.command("/finetune")
    def on_finetune(ack: Callable[..., None], command: dict[str, Any]) -> None:
        user, text = command["user_id"], command.get("text", "")
        if not bot.is_admin(user):
            ack(REFUSAL)
            return
        try:
            reply = bot.finetune.handle(user, text, command.get("channel_id", ""))
        except Exception:
            log.exception("/finetune %s failed", text.split(" ")[0])
            reply = "Sorry, that didn't work; the bot's log has the details."
        ack(reply)


def ask(bot: BotContext, client: WebClient, event: dict[str, Any], thread_ts: str | None) -> None:
    """Show we're on it (👀 and a placeholder), then queue the question for the responder."""
    channel, text = event["channel"], _strip_mention(event.get("text", ""), bot.bot_user_id)
    if not text:
        client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=HELP)
        return
    client.reactions_add(channel=channel, timestamp=event["ts"], name=WORKING_REACTION)
    placeholder = client.chat_postMessage(
        channel=channel, thread_ts=thread_ts, text=THINKING_TEXT, blocks=thinking_blocks()
    )
    bot.responder.submit(Question(text, channel, event["ts"], placeholder["ts"]))


def react(bot: BotContext, event: dict[str, Any], *, added: bool) -> None:
    """A voting reaction on one of the bot's answers casts (or takes back) that user's vote."""
    item, value = event.get("item", {}), feedback.reaction_vote(event.get("reaction", ""))
    if value is None or item.get("type") != "message":
        return
    with bot.db.session() as session:
        answer = feedback.answer_for_message(session, item["channel"], item["ts"])
        if answer is None:
            return
        if added:
            feedback.record_vote(session, answer.id, user_ref(event["user"]), value, via="reaction")
            metrics.voted(value, via="reaction")
        else:
            feedback.remove_vote(session, answer.id, user_ref(event["user"]), value)


def vote(bot: BotContext, body: dict[str, Any], value: int) -> int | None:
    """A 👍/👎 button click; the answer id rides in the button's value. Returns it, or None if unknown."""
    try:
        answer_id = int(body["actions"][0]["value"])
    except (KeyError, IndexError, ValueError):
        log.warning("a feedback button without an answer id")
        return None
    with bot.db.session() as session:
        if session.get(feedback.Answer, answer_id) is None:
            return None
        feedback.record_vote(session, answer_id, user_ref(body["user"]["id"]), value, via="button")
    metrics.voted(value, via="button")
    return answer_id


def explain(bot: BotContext, user_id: str, view: dict[str, Any]) -> None:
    """The 👎 modal: a reason from anyone, a correction only from an admin. Both anonymized before storing."""
    reason = view_value(view, REASON_BLOCK, REASON_INPUT)
    correction = view_value(view, CORRECTION_BLOCK, CORRECTION_INPUT) if bot.is_admin(user_id) else ""
    if not reason and not correction:
        return
    anonymized = bot.anonymizer.anonymize_records_with_mapping([[reason, correction]])[0]
    clean_reason, clean_correction = anonymized.texts
    digests = bot.keys.of_originals(anonymized.originals)
    with bot.db.session() as session:
        feedback.record_reason(
            session, int(view["private_metadata"]), user_ref(user_id), clean_reason, clean_correction, digests
        )
    metrics.explained(with_correction=bool(correction))


def _is_noise(event: dict[str, Any]) -> bool:
    return bool(event.get("bot_id")) or event.get("subtype") in _IGNORED_SUBTYPES


def _channel_allowed(slack: SlackConfig, channel: str) -> bool:
    return not slack.allowed_channels or channel in slack.allowed_channels


def _strip_mention(text: str, bot_user_id: str) -> str:
    return re.sub(rf"<@{re.escape(bot_user_id)}(\|[^>]*)?>", "", text).strip()
