"""Ingest files: detect each file's kind, anonymize its records, store them (one transaction per file)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from sqlalchemy import delete

from connectors.anonymize import Anonymizer
from connectors.anonymize.vault import PseudonymVault
from connectors.base import FileConnector, UnreadableFile
from connectors.detect import connector_for
from connectors.documents import DocumentConnector
from connectors.folder import iter_files
from connectors.store import add_file_records, add_source, content_hash
from connectors.sync import Anonymized, anonymize_safely, oversized
from ftbot.personal_keys import PersonalDataKeys
from ftbot.records import IngestReport, RawRecord, Skipped
from ftbot.retrieval import Embedder, embed_missing
from ftbot.storage.db import Database
from ftbot.storage.models import Record, utcnow
from ftbot.storage.queries import source_by_uri

log = logging.getLogger(__name__)


class Ingestor:
    """Reads files into the database. Holds the anonymizer and embedder, which take seconds to load."""

    def __init__(
        self,
        db: Database,
        anonymizer: Anonymizer,
        embedder: Embedder,
        documents: DocumentConnector | None = None,
        vault: PseudonymVault | None = None,
        keys: PersonalDataKeys | None = None,
    ) -> None:
        self.db, self.anonymizer, self.embedder = db, anonymizer, embedder
        self.documents = documents or DocumentConnector()
        # Reversible mode: what each pseudonym stood for, encrypted apart from the database (None: off).
        self.vault = vault
        # Keyed hashes of each record's personal data, so `ftbot forget` finds it (None: not kept).
        self.keys = keys

    def ingest(self, paths: Iterable[Path]) -> IngestReport:
        report = IngestReport()
        for path in iter_files(paths):
            report.files_seen += 1
            try:
                self._ingest_file(path, report)
            except (UnreadableFile, OSError) as error:
                report.files_skipped += 1
                reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
                report.skipped.append(Skipped(str(path), reason))
                log.warning("skipped %s: %s", path, reason)
        return report

    def _ingest_file(self, path: Path, report: IngestReport) -> None:
        content = path.read_bytes()
        uri = str(path.resolve())
        file_hash = content_hash(content)
        with self.db.session() as session:
            source = source_by_uri(session, uri)
            if source is not None and source.content_hash == file_hash:
                report.files_unchanged += 1
                return
            connector = connector_for(path, content, self.documents)
            records, skipped = self._read(connector, path, content)  # raises UnreadableFile for the file
            anonymized = self._anonymize(records, path)
            records = anonymized.records
            skipped += anonymized.failed
            if source is None:
                source = add_source(session, uri, connector.kind)  # source_by_uri found none above
            else:  # a changed file replaces everything it stored before
                session.execute(delete(Record).where(Record.source_id == source.id))
            stored, duplicates = add_file_records(session, source, records, anonymized.originals, self.keys)
            skipped += duplicates
            source.kind, source.content_hash, source.last_synced_at = connector.kind, file_hash, utcnow()
            source.record_count, source.skipped_count = stored, len(skipped)
            embed_missing(session, self.embedder)
        if self.vault is not None:  # after the commit: the vault never holds a record the database lacks
            self.vault.replace_source(uri, anonymized.originals)
        report.files_stored += 1
        report.records_seen += stored + len(skipped)
        report.records_stored += stored
        report.records_skipped += len(skipped)
        report.skipped.extend(skipped)
        log.info("ingested %s: %d records, %d skipped", path.name, stored, len(skipped))

    @staticmethod
    def _read(connector: FileConnector, path: Path, content: bytes) -> tuple[list[RawRecord], list[Skipped]]:
        records: list[RawRecord] = []
        skipped: list[Skipped] = []
        for item in connector.read(path, content):
            if isinstance(item, RawRecord) and (too_big := oversized(item)) is not None:
                item = Skipped(f"{path.name} {too_big.where}", too_big.reason)
            (skipped if isinstance(item, Skipped) else records).append(item)  # type: ignore[arg-type]
        if not records and not skipped:
            raise UnreadableFile("no records found")
        return records, skipped

    def _anonymize(self, records: list[RawRecord], path: Path) -> Anonymized:
        anonymized = anonymize_safely(self.anonymizer, records)
        anonymized.failed = [Skipped(f"{path.name} {s.where}", s.reason) for s in anonymized.failed]
        return anonymized
