"""Generic support transcripts, one message per JSON line or CSV row, grouped into conversations by id."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from connectors.base import UnreadableFile, csv_rows
from connectors.exports import (
    RecordError,
    chat_record,
    json_values,
    message_text,
    skipped,
    utc_datetime,
)
from ftbot.records import Message, RawRecord, Skipped

ROLES: dict[str, Literal["user", "assistant"]] = {
    "customer": "user",
    "user": "user",
    "end-user": "user",
    "contact": "user",
    "lead": "user",
    "agent": "assistant",
    "assistant": "assistant",
    "admin": "assistant",
    "bot": "assistant",
}
_TRUE, _FALSE = {"true", "1", "yes"}, {"false", "0", "no", ""}


@dataclass
class _Conversation:
    messages: list[Message] = field(default_factory=list)
    times: list[datetime] = field(default_factory=list)
    failed: tuple[str, RecordError] | None = None  # the first bad line, and what was wrong with it


class _Conversations:
    """Messages collected per conversation id, in the order the file gives them.

    A conversation's lines may be interleaved with other conversations' (exports ordered by time are);
    within a conversation, file order is message order. One bad message fails its whole conversation,
    since a conversation with a hole in it could pair a question with the wrong answer.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.by_id: dict[str, _Conversation] = {}

    def add(self, where: str, fields: dict[str, Any]) -> Skipped | None:
        """Files one message; a line that names no conversation comes back as Skipped."""
        conversation_id = str(fields.get("conversation_id") or "").strip()
        if not conversation_id:
            return Skipped(f"{self.path.name} {where}", "missing field 'conversation_id'")
        conversation = self.by_id.setdefault(conversation_id, _Conversation())
        if conversation.failed:
            return None
        try:
            if not _internal(fields.get("internal")):
                message = _message(fields)
                if message.content:
                    conversation.messages.append(message)
            timestamp = utc_datetime(fields.get("timestamp"), "timestamp")
        except RecordError as error:
            conversation.failed = (where, error)
            return None
        if timestamp:
            conversation.times.append(timestamp)
        return None

    def fail(self, where: str, conversation_id: str, reason: str) -> None:
        """Marks a conversation as failed by a line that couldn't be read as a message."""
        conversation = self.by_id.setdefault(conversation_id.strip(), _Conversation())
        conversation.failed = conversation.failed or (where, RecordError(reason))

    def records(self) -> Iterator[RawRecord | Skipped]:
        for conversation_id, conversation in self.by_id.items():
            record = f"conversation {conversation_id}"
            if conversation.failed:
                where, error = conversation.failed
                yield skipped(self.path, record, RecordError(str(error), where))
                continue
            times = conversation.times
            try:
                yield chat_record(
                    record,
                    conversation.messages,
                    created_at=min(times) if times else None,
                    updated_at=max(times) if times else None,
                )
            except RecordError as error:
                yield skipped(self.path, record, error)


def _message(fields: dict[str, Any]) -> Message:
    role = fields.get("role", fields.get("author_type"))
    if role is None or role == "":
        raise RecordError("missing field 'role'")
    if str(role).strip().lower() not in ROLES:
        raise RecordError(f"unknown role {role!r} (use customer or agent, user or assistant)")
    text = fields.get("text")
    if not isinstance(text, str):
        raise RecordError("missing field 'text'")
    return Message(ROLES[str(role).strip().lower()], message_text(text, ""))


def _internal(value: Any) -> bool:
    if value is None or isinstance(value, bool):
        return bool(value)
    if str(value).strip().lower() in _TRUE | _FALSE:
        return str(value).strip().lower() in _TRUE
    raise RecordError(f"invalid internal {str(value)[:20]!r} (use true or false)")


class TranscriptJsonlConnector:
    """JSON Lines, one message per line: {"conversation_id", "role" (or "author_type"), "text",
    "timestamp" (optional, ISO 8601 or unix seconds), "internal" (optional; true drops the message)}.

    Roles: customer, user, end-user, contact, lead → the customer; agent, assistant, admin, bot → the agent.
    External ids are "conversation <id>"; created_at/updated_at are the first and last timestamps.
    """

    kind = "transcripts"

    def read(self, path: Path, content: bytes) -> Iterator[RawRecord | Skipped]:
        conversations = _Conversations(path)
        for value in json_values(path, content):
            if isinstance(value, Skipped):
                yield value
                continue
            where, obj = value
            # A JSON array of messages is read like lines; a file of one line parses as a whole document.
            lines = list(enumerate(obj, start=1)) if isinstance(obj, list) else [(0, obj)]
            for number, message in lines:
                at = f"message #{number}" if number else ("line 1" if where == "document" else where)
                if not isinstance(message, dict):
                    yield Skipped(f"{path.name} {at}", "expected a message object")
                elif problem := conversations.add(at, message):
                    yield problem
        yield from conversations.records()


class TranscriptCsvConnector:
    """CSV with a header `conversation_id,role,text[,timestamp][,internal]` (`author_type` may name the role
    column; any case; other columns ignored), one message per row. Read like TranscriptJsonlConnector."""

    kind = "transcripts"

    def read(self, path: Path, content: bytes) -> Iterator[RawRecord | Skipped]:
        header, rows = csv_rows(path, content)
        if not {"conversation_id", "text"} <= set(header) or not {"role", "author_type"} & set(header):
            raise UnreadableFile("transcript CSV needs a header with conversation_id, role and text columns")
        conversations = _Conversations(path)
        for item in rows:
            if isinstance(item, Skipped):
                yield item
                continue
            row_number, row = item
            where = f"row {row_number}"
            if len(row) != len(header):
                reason = f"expected {len(header)} columns, found {len(row)}"
                id_column = header.index("conversation_id")
                if id_column < len(row) and row[id_column].strip():
                    conversations.fail(where, row[id_column], reason)  # its conversation would have a hole
                else:
                    yield Skipped(f"{path.name} {where}", reason)
            elif problem := conversations.add(where, dict(zip(header, row, strict=True))):
                yield problem
        yield from conversations.records()
