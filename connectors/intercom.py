"""Intercom conversation exports (the REST API's conversation model) → one chat record per conversation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from connectors.exports import (
    RecordError,
    as_object,
    chat_record,
    html_to_text,
    json_values,
    latest_versions,
    message_text,
    records_in,
    required,
    skipped,
    utc_datetime,
)
from ftbot.records import Message, RawRecord, Skipped

# Parts whose body the customer sees: a reply, or a reply sent while reopening, closing or assigning.
# Notes ("note", "note_and_reopen") are internal; other parts are events without a body worth keeping.
_REPLY_PARTS = frozenset({"comment", "open", "close", "assignment"})
_ROLES: dict[str, Literal["user", "assistant"]] = {
    "user": "user",
    "lead": "user",
    "contact": "user",
    "admin": "assistant",
    "bot": "assistant",  # Fin and other bots answer on the team's behalf
    "team": "assistant",
}


class IntercomConnector:
    """Intercom conversations, one chat record each, external id "conversation 215468".

    Reads what the REST API returns: a conversation ({"type": "conversation", ...}), a list of them
    ({"type": "conversation.list", "conversations": [...]}), a JSON array, or NDJSON with one per line.
    The conversation's `source` is its first message, `conversation_parts` the rest. Bodies are HTML and
    become plain text; users, leads and contacts are the customer, admins, bots and teams the agents.
    Notes are dropped. A conversation without a reply is skipped; one that appears twice keeps its newest
    copy. Intercom's conversations carry no link of their own, so records have no url.
    """

    kind = "intercom_export"

    def read(self, path: Path, content: bytes) -> Iterator[RawRecord | Skipped]:
        items: list[RawRecord | Skipped] = []
        for value in json_values(path, content):
            if isinstance(value, Skipped):
                items.append(value)
                continue
            for item in records_in(path, *value, "conversation", "conversations"):
                items.append(item if isinstance(item, Skipped) else _conversation(path, *item))
        yield from latest_versions(path, items)


def _conversation(path: Path, where: str, raw: Any) -> RawRecord | Skipped:
    try:
        return _record(as_object(raw, "a conversation"))
    except RecordError as error:
        conversation_id = raw.get("id") if isinstance(raw, dict) else None
        return skipped(path, f"conversation {conversation_id}" if conversation_id is not None else where, error)


def _record(conversation: dict[str, Any]) -> RawRecord:
    conversation_id = required(conversation, "id")
    source = as_object(required(conversation, "source"), "a source", "source")
    messages: list[Message | None] = [_message(source, "source")]
    parts = conversation.get("conversation_parts") or {}  # the list API leaves the parts out
    parts = parts.get("conversation_parts", []) if isinstance(parts, dict) else parts
    if not isinstance(parts, list):
        raise RecordError("'conversation_parts' must be a list of parts")
    for raw in parts:
        part = f"part {raw['id']}" if isinstance(raw, dict) and raw.get("id") is not None else "a part"
        if as_object(raw, "a conversation part", part).get("part_type") in _REPLY_PARTS:
            messages.append(_message(raw, part))
    title = conversation.get("title") or html_to_text(str(source.get("subject") or ""))
    return chat_record(
        f"conversation {conversation_id}",
        [message for message in messages if message],
        title=str(title),
        created_at=utc_datetime(conversation.get("created_at"), "created_at"),
        updated_at=utc_datetime(conversation.get("updated_at"), "updated_at"),
    )


def _message(part: dict[str, Any], where: str) -> Message | None:
    """The source or a reply part as a message; None for a part without a body (an assignment alone)."""
    body = part.get("body") or ""
    if not isinstance(body, str):
        raise RecordError("'body' must be a string", where)
    text = message_text(html_to_text(body), where)
    if not text:
        return None
    author = as_object(required(part, "author", where), "an author", where)
    author_type = required(author, "type", where)
    if author_type not in _ROLES:
        raise RecordError(f"unknown author type {author_type!r} (expected user, lead, admin or bot)", where)
    return Message(_ROLES[author_type], text)
