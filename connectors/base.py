"""The connector interfaces and their errors: per-item failures are data, run-level failures exceptions.

Two kinds of connector exist:
- a `FileConnector` reads one file handed to `ftbot ingest PATH` (Q&A files, documents, ticket exports);
- a `Connector` is a configured source (`[[sources]]` in ftbot.toml: a Slack workspace, an export folder)
  that `ftbot ingest` syncs incrementally from a cursor, in batches.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ftbot.records import RawRecord, Skipped


class UnreadableFile(Exception):
    """The whole file can't be used (binary, empty, wrong encoding, broken PDF). The message is the reason."""


class SourceUnavailable(Exception):
    """A configured source can't be read at all right now (bad token, unreachable API, missing folder).

    The sync stops, keeps what earlier batches stored and the cursor they reached, and records the message
    as the source's last error; the next sync resumes from there.
    """


class FileConnector(Protocol):
    """Reads one kind of file into raw records. Bad rows come out as `Skipped`, never as exceptions."""

    kind: str  # stored as the source's kind

    def read(self, path: Path, content: bytes) -> Iterator[RawRecord | Skipped]: ...


@dataclass(frozen=True)
class SyncBatch:
    """A slice of a source that is stored in one transaction, together with the cursor that follows it.

    If the sync stops after this batch, the next one resumes from `cursor`: a resumable backfill is a
    sequence of batches whose cursors say how far it got.
    """

    items: Sequence[RawRecord | Skipped]
    # Where the next sync resumes once this batch is stored; None keeps the previous cursor.
    cursor: str | None = None
    # External ids the source reports as deleted since the cursor (sources that can tell; others are
    # cleaned up by the next full sync).
    deleted: Sequence[str] = ()


class Connector(Protocol):
    """A configured source that yields its records since a cursor, batch by batch.

    `sync(None)` is a full sync: it yields every record the source holds now, and the sync engine then
    removes stored records it did not yield (deleted upstream). `sync(cursor)` yields what changed since.
    External ids must be stable: an edited message or ticket comes back with the same id and replaces
    its old record.
    """

    kind: str  # "slack", "zendesk", ...: stored as the source's kind

    def sync(self, cursor: str | None) -> Iterator[SyncBatch]: ...


def csv_rows(path: Path, content: bytes) -> tuple[list[str], Iterator[tuple[int, list[str]] | Skipped]]:
    """A CSV file's header (stripped, lower case) and its non-blank rows, numbered as a spreadsheet would.

    A malformed row comes out as a `Skipped` and ends the rows: the csv module can't resynchronise after a
    broken quote, so the rest of the file is one bad row.
    """
    reader = csv.reader(io.StringIO(decode_text(content), newline=""), strict=True)
    try:
        header = [name.strip().lower() for name in next(reader, [])]
    except csv.Error as error:
        raise UnreadableFile(f"malformed CSV header: {error}") from None
    return header, _numbered_rows(path, reader)


def _numbered_rows(path: Path, reader: Iterator[list[str]]) -> Iterator[tuple[int, list[str]] | Skipped]:
    row_number = 1
    while True:
        row_number += 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield Skipped(f"{path.name} row {row_number}", f"malformed CSV: {error}")
            return
        if any(cell.strip() for cell in row):  # blank lines are no rows
            yield row_number, row


def decode_text(content: bytes) -> str:
    """Strict UTF-8 (a BOM is fine); anything else is refused with a reason a person can act on."""
    if not content.strip():
        raise UnreadableFile("empty file")
    if b"\x00" in content[:8192]:
        raise UnreadableFile("binary file, not text")
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise UnreadableFile(f"not valid UTF-8 (byte {error.start}); re-save the file as UTF-8") from None
