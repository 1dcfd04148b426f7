"""How an anonymized record becomes a `records` row: its columns, content hash, source, and erasure keys.

Files ingested by path, synced sources and admins' corrections (bot/feedback.py) all write records through
these functions, so a row reads the same whichever way it came in. Data functions: each takes the caller's
session and never commits.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from sqlalchemy import delete
from sqlalchemy.orm import Session

from ftbot.personal_keys import PersonalDataKeys
from ftbot.records import RawRecord, Skipped
from ftbot.storage.keys import add_keys
from ftbot.storage.models import Record, Source
from ftbot.storage.queries import source_by_uri


def content_hash(content: str | bytes) -> str:
    """SHA-256 (hex) of a record's text or a file's bytes: equal hashes mean nothing to store again."""
    return hashlib.sha256(content.encode() if isinstance(content, str) else content).hexdigest()


def record_columns(raw: RawRecord) -> dict[str, Any]:
    """The `records` columns an anonymized record fills."""
    text = raw.retrieval_text()
    return {
        "kind": raw.kind,
        "title": raw.title[:512],
        "text": text,
        "messages": [{"role": m.role, "content": m.content} for m in raw.messages] or None,
        "content_hash": content_hash(text),
        "url": raw.url[:1024],
        "source_created_at": raw.created_at,
        "source_updated_at": raw.updated_at,
        "change_key": raw.change_key(),
    }


def source_for(session: Session, uri: str, kind: str) -> Source:
    """The source stored under `uri`, added (with no content hash yet) when there is none; its kind is `kind`."""
    source = source_by_uri(session, uri)
    if source is None:
        return add_source(session, uri, kind)
    source.kind = kind
    return source


def add_source(session: Session, uri: str, kind: str) -> Source:
    """A new source (no content hash yet), with its id, for the records added next."""
    source = Source(uri=uri, kind=kind, content_hash="")
    session.add(source)
    session.flush()
    return source


def replace_record(session: Session, source_id: int, raw: RawRecord) -> Record:
    """A new row for an anonymized record, in place of the source's row with its external id (if any)."""
    session.execute(delete(Record).where(Record.source_id == source_id, Record.external_id == raw.external_id))
    row = Record(source_id=source_id, external_id=raw.external_id, **record_columns(raw))
    session.add(row)
    session.flush()  # its id, for the keys stored beside it
    return row


def upsert_record(
    session: Session, source_id: int, stored: Record | None, raw: RawRecord, generation: int
) -> Record | None:
    """Insert or update one anonymized record; the row when it changed, None when its text is stored already."""
    columns = record_columns(raw)
    if stored is None:
        stored = Record(source_id=source_id, external_id=raw.external_id)
        session.add(stored)
    elif stored.content_hash == columns["content_hash"]:
        # Same text: only what says where and when it lives upstream moves; the embedding stays.
        stored.url, stored.source_updated_at, stored.change_key = columns["url"], raw.updated_at, columns["change_key"]
        stored.sync_generation = generation
        return None
    for name, value in columns.items():
        setattr(stored, name, value)
    stored.embedding, stored.embedding_model, stored.sync_generation = None, None, generation
    return stored


def add_file_records(
    session: Session,
    source: Source,
    records: list[RawRecord],
    originals: dict[str, dict[str, str]],
    keys: PersonalDataKeys | None,
) -> tuple[int, list[Skipped]]:
    """Add a file's records, skipping exact duplicates within the file; returns how many were added, and the skips.

    Duplicates across files are kept here (each file owns its records, so changing one file never removes
    what another still holds); training and retrieval collapse them by content hash.
    """
    duplicates: list[Skipped] = []
    seen: set[str] = set()
    added: list[Record] = []
    for raw in records:
        columns = record_columns(raw)
        if columns["content_hash"] in seen:
            duplicates.append(Skipped(f"{Path(source.uri).name} {raw.external_id}", "duplicate within the file"))
            continue
        seen.add(columns["content_hash"])
        added.append(Record(source_id=source.id, external_id=raw.external_id, **columns))
    session.add_all(added)
    session.flush()  # one flush for the file: every row's id, which its keys point at
    if keys is not None:
        for row in added:
            add_keys(session, keys.of_originals(originals.get(row.external_id, {})), record_id=row.id)
        session.flush()
    return len(seen), duplicates
