"""Sync a configured source into the database: batch by batch, each batch and its cursor in one transaction.

A batch's records are anonymized together, then upserted by external id: an unchanged record is left as
it is (not even re-anonymized when its upstream change key, `updated_at` plus version, is the one stored),
an edited one replaces its old text and embedding, a new one is added. A full sync numbers itself (the
source's sync generation) and stamps every record it sees; when it finishes, records with an older stamp
were deleted upstream and go.
A sync that stops half way (an API outage, a crash) keeps the batches it committed and their cursor, so
the next sync resumes where it stopped.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from connectors.anonymize import AnonymizationError, Anonymizer
from connectors.anonymize.vault import PseudonymVault
from connectors.base import Connector, SourceUnavailable, SyncBatch
from connectors.store import source_for, upsert_record
from ftbot.personal_keys import PersonalDataKeys
from ftbot.records import RawRecord, Skipped, source_uri
from ftbot.retrieval import Embedder, embed_missing, embed_records
from ftbot.storage.db import Database
from ftbot.storage.keys import set_keys
from ftbot.storage.models import Record, Source, utcnow
from ftbot.storage.queries import count_records

log = logging.getLogger(__name__)

# A record with more text than this is refused: one pasted log file would otherwise crowd out every other
# record in retrieval and training, and spaCy's cost grows with it.
MAX_RECORD_CHARS = 100_000


@dataclass
class SyncReport:
    """What one sync did. Records reconcile: seen = stored + unchanged + skipped."""

    source: str
    full: bool
    records_seen: int = 0
    records_stored: int = 0  # new or changed
    records_unchanged: int = 0
    records_skipped: int = 0
    records_deleted: int = 0
    batches: int = 0
    # Why the sync stopped early; the batches before it are kept.
    error: str | None = None
    skipped: list[Skipped] = field(default_factory=list)

    @property
    def reconciles(self) -> bool:
        return self.records_seen == self.records_stored + self.records_unchanged + self.records_skipped


class SourceSync:
    """Runs connectors' syncs. Holds the anonymizer and embedder, which take seconds to load."""

    def __init__(
        self,
        db: Database,
        anonymizer: Anonymizer,
        embedder: Embedder,
        vault: PseudonymVault | None = None,
        keys: PersonalDataKeys | None = None,
    ) -> None:
        self.db, self.anonymizer, self.embedder, self.vault = db, anonymizer, embedder, vault
        # Keyed hashes of each record's personal data, so `ftbot forget` finds it (None: not kept).
        self.keys = keys

    def run(self, name: str, connector: Connector, *, full: bool = False) -> SyncReport:
        """Sync one source. A source never synced before gets a full sync whatever `full` says."""
        with self.db.session() as session:
            source = source_for(session, source_uri(name), connector.kind)
            full = full or source.cursor is None
            generation = source.sync_generation + 1 if full else source.sync_generation
            source_id, cursor = source.id, None if full else source.cursor
        report = SyncReport(name, full)
        try:
            for batch in connector.sync(cursor):
                self._store_batch(source_id, batch, generation, report)
        except SourceUnavailable as error:
            report.error = str(error)
            log.warning("sync of %s stopped: %s", name, error)
        with self.db.session() as session:
            source = session.get_one(Source, source_id)
            if full and report.error is None:
                # Only a full sync that reached the end knows what no longer exists upstream.
                gone = _delete_unseen(session, source_id, generation)
                report.records_deleted += len(gone)
                if self.vault is not None:
                    self.vault.delete_records(source_uri(name), gone)
                source.sync_generation = generation
            embed_missing(session, self.embedder)  # rows an older embedding model left behind, once per sync
            source.last_synced_at, source.last_error = utcnow(), report.error
            source.record_count = count_records(session, source_id)
            source.skipped_count = report.records_skipped
        return report

    def _store_batch(self, source_id: int, batch: SyncBatch, generation: int, report: SyncReport) -> None:
        uri = source_uri(report.source)
        records, skipped = _split(batch.items)
        report.records_seen += len(records) + len(skipped)
        with self.db.session() as session:
            existing = _existing(session, source_id, [r.external_id for r in records])
            fresh = []
            for record in records:
                stored = existing.get(record.external_id)
                key = record.change_key()
                if stored is not None and key is not None and stored.change_key == key:
                    stored.sync_generation = generation  # unchanged upstream: not even re-anonymized
                    report.records_unchanged += 1
                else:
                    fresh.append(record)
            anonymized = anonymize_safely(self.anonymizer, fresh)
            skipped += anonymized.failed
            changed: list[Record] = []
            reread: list[Record] = []  # every row anonymized again, whose names may have changed
            for record in anonymized.records:
                stored = existing.get(record.external_id)
                row = upsert_record(session, source_id, stored, record, generation)
                if row is not None:
                    changed.append(row)
                    reread.append(row)
                elif stored is not None:  # the same text after anonymizing: other names may stand behind it
                    report.records_unchanged += 1
                    reread.append(stored)
            report.records_stored += len(changed)
            if batch.deleted:
                result = session.execute(
                    delete(Record).where(Record.source_id == source_id, Record.external_id.in_(list(batch.deleted)))
                )
                report.records_deleted += result.rowcount or 0  # type: ignore[attr-defined]
                if self.vault is not None:
                    self.vault.delete_records(uri, batch.deleted)
            session.flush()
            if self.keys is not None:
                for row in reread:  # an edit that removed or changed a name changes its keys too
                    digests = self.keys.of_originals(anonymized.originals.get(row.external_id, {}))
                    set_keys(session, digests, record_id=row.id)
            embed_records(changed, self.embedder)  # only this batch's rows: no scan of the whole table
            if batch.cursor is not None:
                session.get_one(Source, source_id).cursor = batch.cursor
        if self.vault is not None:  # after the commit: the vault never holds a record the database lacks
            self.vault.put_records(uri, anonymized.originals)
        for item in skipped:  # a Skipped names a place and a reason, never raw content
            log.info("skipped %s %s: %s", report.source, item.where, item.reason)
        report.records_skipped += len(skipped)
        report.skipped += skipped
        report.batches += 1


@dataclass
class Anonymized:
    """Records after anonymization, those that failed it, and what each record's pseudonyms stand for."""

    records: list[RawRecord]
    failed: list[Skipped]
    # external id -> pseudonym -> original value: raw personal data, only ever for a PseudonymVault.
    originals: dict[str, dict[str, str]] = field(repr=False)


def anonymize_safely(anonymizer: Anonymizer, records: list[RawRecord]) -> Anonymized:
    """Anonymize in one batch; if that fails, record by record, so one bad record loses only itself."""
    result = Anonymized([], [], {})
    try:
        done = anonymizer.anonymize_records_with_mapping([r.texts() for r in records]) if records else []
        pairs = list(zip(records, done, strict=True))
    except AnonymizationError:
        pairs = []
        for record in records:
            try:  # fail closed: a record we can't anonymize is never stored
                pairs += [(record, anonymizer.anonymize_records_with_mapping([record.texts()])[0])]
            except AnonymizationError:
                result.failed.append(Skipped(record.external_id, "anonymization failed"))
    for record, anonymized in pairs:
        result.records.append(record.with_texts(anonymized.texts))
        result.originals[record.external_id] = anonymized.originals
    return result


def oversized(record: RawRecord) -> Skipped | None:
    """A Skipped for a record too large to use, naming its size; None for any other record."""
    size = sum(len(text) for text in record.texts())
    if size <= MAX_RECORD_CHARS:
        return None
    shown = f"{size / 1e6:.1f} M characters" if size >= 1e6 else f"{size:,} characters"
    return Skipped(record.external_id, f"too long ({shown}; the limit is {MAX_RECORD_CHARS:,})")


def _split(items: Sequence[RawRecord | Skipped]) -> tuple[list[RawRecord], list[Skipped]]:
    """Records and skips; oversized records are skipped, and of two with one external id the later wins."""
    latest: dict[str, RawRecord] = {}
    skipped: list[Skipped] = []
    for item in items:
        if isinstance(item, Skipped):
            skipped.append(item)
        elif (too_big := oversized(item)) is not None:
            skipped.append(too_big)
        else:
            if item.external_id in latest:  # counted as seen, so it is reported to reconcile
                skipped.append(Skipped(item.external_id, "superseded by a later version in the same batch"))
            latest[item.external_id] = item
    return list(latest.values()), skipped


def _existing(session: Session, source_id: int, external_ids: list[str]) -> dict[str, Record]:
    if not external_ids:
        return {}
    rows = session.scalars(
        select(Record).where(Record.source_id == source_id, Record.external_id.in_(external_ids))
    ).all()
    return {row.external_id: row for row in rows}


def _delete_unseen(session: Session, source_id: int, generation: int) -> list[str]:
    """Remove the records a full sync did not see; returns their external ids."""
    unseen = (Record.source_id == source_id) & (Record.sync_generation != generation)
    gone = list(session.scalars(select(Record.external_id).where(unseen)))
    session.execute(delete(Record).where(unseen))
    return gone
