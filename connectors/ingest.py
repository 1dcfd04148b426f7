"""Ingest files: detect each file's kind, anonymize its records, store them (one transaction per file)."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Iterator
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from connectors.anonymize import Anonymizer
from connectors.base import FileConnector, UnreadableFile, decode_text
from connectors.documents import DocumentConnector
from connectors.exports import detect_export
from connectors.pseudonym_vault import PseudonymVault
from connectors.qa_files import CsvQaConnector, JsonlQaConnector, MarkdownFaqConnector, faq_questions
from connectors.sync import Anonymized, anonymize_safely, oversized, record_columns
from ftbot.personal_keys import PersonalDataKeys
from ftbot.records import IngestReport, RawRecord, Skipped
from ftbot.retrieval import Embedder, embed_missing
from ftbot.storage.db import Database
from ftbot.storage.erasure import set_keys
from ftbot.storage.models import Record, Source, utcnow

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = (".csv", ".jsonl", ".json", ".ndjson", *DocumentConnector.suffixes)
EXPORT_SUFFIXES = (".json", ".jsonl", ".ndjson", ".csv")


def iter_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Files given directly, and every non-hidden file below given folders, in a stable order."""
    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                parts = child.relative_to(path).parts
                if child.is_file() and not any(part.startswith((".", "_")) for part in parts):
                    yield child
        else:
            yield path


def connector_for(path: Path, content: bytes, documents: DocumentConnector) -> FileConnector:
    """Which connector reads this file; a Markdown file is a FAQ when most of its headings are questions."""
    suffix = path.suffix.lower()
    if suffix in EXPORT_SUFFIXES and (export := detect_export(path, content)) is not None:
        return export  # a Zendesk, Intercom or transcript export, told apart by its content
    if suffix in (".json", ".ndjson"):
        raise UnreadableFile("not a Zendesk, Intercom or transcript export")
    if suffix == ".csv":
        return CsvQaConnector()
    if suffix == ".jsonl":
        return JsonlQaConnector()
    if suffix in (".md", ".markdown") and _looks_like_faq(content):
        return MarkdownFaqConnector()
    if suffix in DocumentConnector.suffixes:
        return documents
    raise UnreadableFile(f"unsupported file type '{suffix or path.name}' (use {', '.join(SUPPORTED_SUFFIXES)})")


def _looks_like_faq(content: bytes) -> bool:
    try:
        text = decode_text(content)
    except UnreadableFile:
        return False  # the document connector reports why
    headings = [line for line in text.splitlines() if line.startswith("#") or line.strip().startswith("**")]
    questions = faq_questions(text)
    return len(questions) >= 3 and len(questions) >= 0.6 * len(headings)


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
        content_hash = hashlib.sha256(content).hexdigest()
        with self.db.session() as session:
            source = session.scalar(select(Source).where(Source.uri == uri))
            if source is not None and source.content_hash == content_hash:
                report.files_unchanged += 1
                return
            connector = connector_for(path, content, self.documents)
            records, skipped = self._read(connector, path, content)  # raises UnreadableFile for the file
            anonymized = self._anonymize(records, path)
            records = anonymized.records
            skipped += anonymized.failed
            if source is None:
                source = Source(uri=uri, kind=connector.kind, content_hash=content_hash)
                session.add(source)
                session.flush()
            else:  # a changed file replaces everything it stored before
                session.execute(delete(Record).where(Record.source_id == source.id))
            stored, duplicates = _store(session, source, records, anonymized.originals, self.keys)
            skipped += duplicates
            source.kind, source.content_hash, source.last_synced_at = connector.kind, content_hash, utcnow()
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


def _store(
    session: Session,
    source: Source,
    records: list[RawRecord],
    originals: dict[str, dict[str, str]],
    keys: PersonalDataKeys | None,
) -> tuple[int, list[Skipped]]:
    """Add a file's records, skipping exact duplicates within the file.

    Duplicates across files are kept here (each file owns its records, so changing one file never removes
    what another still holds); training and retrieval collapse them by content hash.
    """
    duplicates: list[Skipped] = []
    seen: set[str] = set()
    for raw in records:
        columns = record_columns(raw)
        if columns["content_hash"] in seen:
            duplicates.append(Skipped(f"{Path(source.uri).name} {raw.external_id}", "duplicate within the file"))
            continue
        seen.add(columns["content_hash"])
        row = Record(source_id=source.id, external_id=raw.external_id, **columns)
        session.add(row)
        if keys is not None and originals.get(raw.external_id):
            session.flush()
            set_keys(session, keys.of_originals(originals[raw.external_id]), record_id=row.id)
    session.flush()
    return len(seen), duplicates
