"""Support-conversation exports (Zendesk, Intercom, transcripts): the pieces their connectors share (JSON
documents and lines, HTML to text, size limits, timestamps). Which connector reads a file: connectors.detect.

Every export becomes chat records: the customer's messages are "user", the agents' (and bots') replies
"assistant"; internal notes are dropped; consecutive messages of one side are merged into one turn.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from connectors.base import UnreadableFile, decode_text
from ftbot.records import Message, RawRecord, Skipped

# One message longer than this is a pasted log or an attachment's text, not an answer to learn from: its
# conversation is skipped. Retrieval chunks and training examples are a few hundred tokens.
MAX_MESSAGE_CHARS = 100_000


class RecordError(ValueError):
    """One ticket or conversation can't be used; `part` names the piece that failed ("comment 9002")."""

    def __init__(self, reason: str, part: str = "") -> None:
        super().__init__(reason)
        self.part = part


def skipped(path: Path, record: str, error: RecordError) -> Skipped:
    """The Skipped for a record that failed: "tickets.ndjson ticket 4711, comment 9002" and the reason."""
    where = f"{path.name} {record}" + (f", {error.part}" if error.part else "")
    return Skipped(where, str(error))


def json_values(path: Path, content: bytes) -> Iterator[tuple[str, Any] | Skipped]:
    """("line N", value) for each line of NDJSON, or ("document", value) for a file that is one JSON document.

    A line that isn't JSON comes out as Skipped (the last one of a cut-off file says so); a file that is
    neither NDJSON nor one JSON document raises UnreadableFile with the position of the error.
    """
    text = decode_text(content)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        if error.msg != "Extra data" and not _has_json_lines(text):
            raise UnreadableFile(_document_error(error, text)) from None
    else:
        yield "document", value
        return
    lines = text.split("\n")  # not splitlines(): JSON strings may hold U+2028, which splitlines() cuts at
    last = max(number for number, line in enumerate(lines, start=1) if line.strip())
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield f"line {number}", json.loads(line)
        except json.JSONDecodeError as error:
            cut_off = number == last and (error.msg.startswith("Unterminated") or error.pos >= len(line.rstrip()) - 1)
            reason = "truncated JSON: the file ends inside this record" if cut_off else f"invalid JSON: {error.msg}"
            yield Skipped(f"{path.name} line {number}", f"{reason} (column {error.colno})")


def _has_json_lines(text: str) -> bool:
    """Whether most early lines are JSON objects on their own: NDJSON with a broken line, not a broken document
    (a pretty-printed document has few lines that parse alone)."""
    lines = [line for line in text.split("\n") if line.strip()][:50]
    return len(lines) > 1 and 2 * sum(_is_object(line) for line in lines) >= len(lines)


def _is_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except json.JSONDecodeError:
        return False


def _document_error(error: json.JSONDecodeError, text: str) -> str:
    if error.pos >= len(text.rstrip()) - 1:
        return f"truncated JSON: the file ends at line {error.lineno} before the document is complete; export it again"
    return f"invalid JSON at line {error.lineno} column {error.colno}: {error.msg}"


def message_text(text: str, part: str) -> str:
    """A message's text, stripped; a message longer than MAX_MESSAGE_CHARS fails its record."""
    text = text.strip()
    if len(text) > MAX_MESSAGE_CHARS:
        size = len(text.encode("utf-8"))
        shown = f"{size / 1_000_000:.1f} MB" if size >= 1_000_000 else f"{size / 1000:.0f} kB"
        raise RecordError(f"message too long ({shown}; the limit is {MAX_MESSAGE_CHARS:,} characters)", part)
    return text


def chat_record(
    external_id: str,
    messages: Iterable[Message],
    *,
    title: str = "",
    url: str = "",
    created_at: datetime | None = None,
    updated_at: datetime | None = None,
) -> RawRecord:
    """A conversation as a chat record, consecutive messages of one side merged into one turn.

    A conversation without a public agent reply is refused: it has nothing to learn or to cite, and training
    takes a conversation's first customer message with the reply that follows it.
    """
    turns: list[Message] = []
    for message in messages:
        if turns and turns[-1].role == message.role:
            turns[-1] = Message(message.role, f"{turns[-1].content}\n\n{message.content}")
        else:
            turns.append(message)
    roles = {turn.role for turn in turns}
    if "assistant" not in roles:
        raise RecordError("no public agent reply (only customer messages or internal notes)")
    if "user" not in roles:
        raise RecordError("no customer message")
    return RawRecord(
        external_id,
        "chat",
        title=title.strip(),
        messages=tuple(turns),
        url=url,
        created_at=created_at,
        updated_at=updated_at,
    )


def latest_versions(path: Path, items: list[RawRecord | Skipped]) -> Iterator[RawRecord | Skipped]:
    """Items in order, keeping one record per external id: the newest by updated_at (the later one on a tie).

    Incremental exports repeat a ticket each time it changes; its older copies come out as Skipped.
    """
    newest: dict[str, int] = {}
    for index, item in enumerate(items):
        if isinstance(item, RawRecord):
            previous = newest.get(item.external_id)
            if previous is None or _stamp(items[previous]) <= _stamp(item):
                newest[item.external_id] = index
    kept = set(newest.values())
    for index, item in enumerate(items):
        if isinstance(item, RawRecord) and index not in kept:
            yield Skipped(f"{path.name} {item.external_id}", "an older copy: the file also holds a newer one")
        else:
            yield item


def _stamp(item: RawRecord | Skipped) -> datetime:
    return (item.updated_at if isinstance(item, RawRecord) else None) or datetime.min


# Elements after which the text breaks onto a new line.
_BLOCKS = ("p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "ul", "ol", "table")


def html_to_text(html: str) -> str:
    """Plain text of an HTML message body: tags dropped, entities decoded, one line per paragraph."""
    if "<" not in html and "&" not in html:
        return html.strip()
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    for br in soup.find_all("br"):
        br.replace_with("\n")
    for block in soup.find_all(_BLOCKS):
        block.append("\n")
    lines = (" ".join(line.split()) for line in soup.get_text().split("\n"))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def utc_datetime(value: Any, field: str) -> datetime | None:
    """A naive UTC datetime from ISO 8601 ("2024-03-01T10:00:00Z") or unix seconds; None when absent."""
    if value is None or value == "":
        return None
    try:
        if isinstance(value, str) and not value.strip().isdigit():
            parsed = datetime.fromisoformat(value.strip())
            return parsed.astimezone(UTC).replace(tzinfo=None) if parsed.tzinfo else parsed
        if isinstance(value, int | float | str) and not isinstance(value, bool):
            return datetime.fromtimestamp(float(value), UTC).replace(tzinfo=None)
    except (ValueError, OverflowError, OSError):
        pass
    raise RecordError(f"invalid {field} {str(value)[:40]!r} (expected ISO 8601 or unix seconds)")


def required(obj: dict[str, Any], field: str, part: str = "") -> Any:
    """obj[field], or a RecordError naming the missing field."""
    value = obj.get(field)
    if value is None or value == "":
        raise RecordError(f"missing field '{field}'", part)
    return value


def as_object(value: Any, what: str, part: str = "") -> dict[str, Any]:
    """The value if it is a JSON object, else a RecordError ("expected a ticket object")."""
    if not isinstance(value, dict):
        raise RecordError(f"expected {what} object, found {type(value).__name__}", part)
    return value


def records_in(path: Path, label: str, value: Any, noun: str, page_key: str) -> Iterator[tuple[str, Any] | Skipped]:
    """(where, record) for each record in one JSON value: a page {page_key: [...]}, a list, or one record.

    `where` names a record that turns out to have no id: "line 3" for a line of NDJSON, "ticket #2" for the
    second of a list.
    """
    if isinstance(value, dict) and page_key in value:
        records = value[page_key]
        if not isinstance(records, list):
            where = path.name if label == "document" else f"{path.name} {label}"
            yield Skipped(where, f"'{page_key}' must be a list")
            return
    else:
        records = value if isinstance(value, list) else [value]  # one record (or not an object: said later)
    prefix = "" if label == "document" else f"{label}, "
    for number, record in enumerate(records, start=1):
        single_line = label != "document" and len(records) == 1
        yield (label if single_line else f"{prefix}{noun} #{number}"), record
