"""One Slack thread as a record: answered threads become Q&A pairs, the rest context or nothing.

What a thread becomes:
- a reply marked ✅, else the reply with the most 👍, else an expert's reply is the accepted answer, and the
  thread a Q&A pair (`qa`: the root question, that answer);
- a thread with replies but no accepted answer, and a question nobody answered, are kept as context: a
  `chunk`, never a `chat`. The dataset trains on a chat's first exchange, and an unconfirmed first reply
  ("no idea, ask HR?") must not become an answer the model learns; a chunk is only retrieved;
- a lone message that is not a question is chatter: yielded as `Skipped`, so the counts show it.
Slack's own notices (joins, topic changes...) and bots' messages (ftbot's answers included) are no records
at all. `<@U…>` mentions stay in the text: the anonymizer turns them into pseudonyms.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from ftbot.records import Message, RawRecord, Skipped

JSON = dict[str, Any]

CHECK_MARKS = frozenset({"white_check_mark", "heavy_check_mark"})
UPVOTES = frozenset({"+1", "thumbsup"})
# Subtypes that are still a person writing; every other subtype is Slack's own notice (channel_join,
# channel_topic, ...), another app's post (bot_message) or a deleted message's tombstone.
CONTENT_SUBTYPES = frozenset({"thread_broadcast", "file_share", "me_message"})
_EPOCH = datetime(1970, 1, 1)


def thread_item(
    root: JSON, replies: list[JSON], channel_id: str, channel_name: str, workspace_url: str, experts: frozenset[str]
) -> RawRecord | Skipped:
    """The record a thread becomes (see the module docstring), or a Skipped for a lone message that is no question.

    `replies` are the thread's replies people wrote, oldest first; `workspace_url` is auth.test's url, which
    permalinks are built from (no call per thread).
    """
    ts = root["ts"]
    question = root["text"].strip()
    common: JSON = {
        "external_id": f"{channel_id}:{ts}",
        "url": f"{workspace_url}archives/{channel_id}/p{ts.replace('.', '')}",
        "created_at": _when(Decimal(ts)),
        "updated_at": _when(max(_changes(root, *replies))),
    }
    answer = accepted_answer(root, replies, experts)
    # Reactions carry no timestamp: a ✅ that picks another answer moves only the version.
    common["version"] = f"answer {answer['ts']}" if answer is not None else ""
    if answer is not None:
        messages = (Message("user", question), Message("assistant", answer["text"].strip()))
        return RawRecord(kind="qa", title=f"Slack #{channel_name}", messages=messages, **common)
    if replies:
        title = f"Slack #{channel_name}: thread without an accepted answer"
        return RawRecord(kind="chunk", title=title, text=_transcript(root, replies), **common)
    if _is_question(question):
        # Kept so retrieval knows what people ask; an answer arriving later replaces it (same id).
        title = f"Slack #{channel_name}: unanswered question"
        return RawRecord(kind="chunk", title=title, text=question, **common)
    return Skipped(f"#{channel_name} message {ts}", "not a question, and nobody replied")


def accepted_answer(root: JSON, replies: list[JSON], experts: frozenset[str]) -> JSON | None:
    """The reply that answers the thread: ✅ first, then the most 👍, then an expert's first reply.

    Ties go to the later reply: a later answer usually corrects an earlier one. An expert's follow-ups
    answer follow-up questions, so their first reply is taken; an expert asking gets no answer from themself.
    """
    for names in (CHECK_MARKS, UPVOTES):
        best = max(replies, key=lambda reply: (_reactions(reply, names), Decimal(reply["ts"])), default=None)
        if best is not None and _reactions(best, names) > 0:
            return best
    asker = root.get("user")
    return next((r for r in replies if r.get("user") in experts and r.get("user") != asker), None)


def is_content(message: JSON) -> bool:
    """Written by a person: no bot, no Slack notice, some text."""
    subtype = message.get("subtype")
    if message.get("bot_id") or (subtype is not None and subtype not in CONTENT_SUBTYPES):
        return False
    return bool(str(message.get("text", "")).strip())


def is_root(message: JSON) -> bool:
    """A message in history that starts a thread; a reply also sent to the channel belongs to its thread."""
    return is_content(message) and message.get("thread_ts", message["ts"]) == message["ts"]


def _is_question(text: str) -> bool:
    return "?" in text or "？" in text  # the rule the bot uses for top-level questions


def _reactions(message: JSON, names: frozenset[str]) -> int:
    # Skin tones come as separate reactions: "+1::skin-tone-3".
    return sum(r.get("count", 0) for r in message.get("reactions", []) if r["name"].split("::")[0] in names)


def _changes(*messages: JSON) -> Iterator[Decimal]:
    for message in messages:
        yield Decimal(message["ts"])
        if edited := (message.get("edited") or {}).get("ts"):
            yield Decimal(edited)


def latest_change(root: JSON) -> Decimal:
    """What history tells of a thread's last change: its newest reply, or an edit of the root."""
    latest = Decimal(root.get("latest_reply") or root["ts"])
    return max(latest, *_changes(root))


def _transcript(root: JSON, replies: list[JSON]) -> str:
    asker = root.get("user")
    lines = [root["text"].strip()]
    lines += [f"{'Asker' if r.get('user') == asker else 'Reply'}: {r['text'].strip()}" for r in replies]
    return "\n".join(lines)


def _when(ts: Decimal) -> datetime:
    """A Slack ts as naive UTC, exact to the microsecond (a float would round the last digit)."""
    return _EPOCH + timedelta(microseconds=int(ts * 1_000_000))
