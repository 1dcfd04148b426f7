"""The file-connector interface and its errors: per-item failures are data, file-level ones exceptions."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from ftbot.records import RawRecord, Skipped


class UnreadableFile(Exception):
    """The whole file can't be used (binary, empty, wrong encoding, broken PDF). The message is the reason."""


class FileConnector(Protocol):
    """Reads one kind of file into raw records. Bad rows come out as `Skipped`, never as exceptions."""

    kind: str  # stored as the source's kind

    def read(self, path: Path, content: bytes) -> Iterator[RawRecord | Skipped]: ...


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
