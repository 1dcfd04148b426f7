"""Specifications for connectors.ingest: what a folder of files becomes in the database, and what is reported."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from conftest import EXAMPLES, FIXTURES
from sqlalchemy import func, select

from connectors.anonymize import AnonymizationError, AnonymizedRecord
from connectors.base import UnreadableFile
from connectors.detect import connector_for
from connectors.documents import DocumentConnector
from connectors.folder import iter_files
from connectors.ingest import Ingestor
from connectors.qa_files import CsvQaConnector, JsonlQaConnector, MarkdownFaqConnector
from ftbot.records import IngestReport, Skipped
from ftbot.storage.db import Database
from ftbot.storage.models import Record, Source

# What `ftbot demo` ingests: the handbook folder (.md/.html/.txt/.pdf) and the three Q&A files.
DEMO_INPUTS = ("handbook", "faq.csv", "support_faq.md", "support_transcripts.jsonl")


@dataclass
class Ingested:
    db: Database
    ingestor: Ingestor
    report: IngestReport


def _ingest_once(directory: Path, paths: list[Path], anonymizer: object, embedder: object) -> Ingested:
    db = Database(f"sqlite:///{directory / 'ftbot.db'}")
    ingestor = Ingestor(db, anonymizer, embedder)  # type: ignore[arg-type]
    return Ingested(db, ingestor, ingestor.ingest(paths))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, anonymizer: object, embedder: object) -> Ingested:
    """The demo examples, ingested once for the whole module (the slow part: ~200 records through Presidio)."""
    return _ingest_once(
        tmp_path_factory.mktemp("demo"), [EXAMPLES / name for name in DEMO_INPUTS], anonymizer, embedder
    )


@pytest.fixture(scope="module")
def bad(tmp_path_factory: pytest.TempPathFactory, anonymizer: object, embedder: object) -> Ingested:
    """The bad-input folder, ingested once into its own database."""
    return _ingest_once(tmp_path_factory.mktemp("bad"), [FIXTURES / "bad"], anonymizer, embedder)


def _records(db: Database) -> list[Record]:
    with db.session() as session:
        return list(session.scalars(select(Record).order_by(Record.id)))


def _stored_text(db: Database) -> str:
    """Every text the database holds for records: titles, retrieval texts and chat messages."""
    parts = []
    for record in _records(db):
        parts += [record.title, record.text, *(m["content"] for m in record.messages or [])]
    return "\n".join(parts)


def _source(db: Database, name: str) -> Source | None:
    with db.session() as session:
        return next((s for s in session.scalars(select(Source)) if Path(s.uri).name == name), None)


def _count(db: Database, model: type) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


VPN = ("Which VPN do we use?", "Tailscale.")
SALARY = ("When is salary paid?", "Monthly.")


def _write_csv(path: Path, rows: Sequence[tuple[str, str]]) -> Path:
    lines = ["question,answer", *(f'"{question}","{answer}"' for question, answer in rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# --- the demo examples ----------------------------------------------------------------------------------------


def test_when_the_demo_examples_are_ingested_then_every_file_is_stored_and_counts_reconcile(demo: Ingested):
    report = demo.report
    demo_files = len(list(iter_files([EXAMPLES / name for name in DEMO_INPUTS])))

    assert report.reconciles
    assert (report.files_seen, report.files_stored, report.files_skipped) == (demo_files, demo_files, 0)
    assert report.records_stored == _count(demo.db, Record) > 100
    assert _count(demo.db, Source) == demo_files
    assert {record.kind for record in _records(demo.db)} == {"qa", "chunk", "chat"}


def test_when_the_demo_examples_are_ingested_then_every_record_is_embedded(demo: Ingested):
    records = _records(demo.db)

    assert all(record.embedding_model == demo.ingestor.embedder.name for record in records)
    norms = [np.linalg.norm(np.frombuffer(record.embedding or b"", dtype=np.float32)) for record in records]
    assert np.allclose(norms, 1.0, atol=1e-3)


def test_when_the_same_files_are_ingested_again_then_nothing_is_added(demo: Ingested):
    before = _count(demo.db, Record)

    again = demo.ingestor.ingest([EXAMPLES / name for name in DEMO_INPUTS])

    assert again.reconciles
    assert again.files_unchanged == again.files_seen == demo.report.files_seen
    assert (again.files_stored, again.records_seen, again.skipped) == (0, 0, [])
    assert _count(demo.db, Record) == before


PLANTED_PII = json.loads((EXAMPLES / "planted_pii.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("category", "pseudonym"),
    [
        ("emails", "<EMAIL_1>"),
        ("phones", "<PHONE_1>"),
        ("ibans", "<IBAN_1>"),
        ("cards", "<CARD_1>"),
        ("names", "<PERSON_1>"),
    ],
)
def test_when_the_demo_is_ingested_then_no_planted_personal_data_reaches_the_database(
    demo: Ingested, category: str, pseudonym: str
):
    stored = _stored_text(demo.db)
    values = PLANTED_PII[category]
    if category == "names":  # a lone "Jonas" or "Albrecht" identifies a person too
        values = values + [part for name in values for part in name.split()]

    leaked = [value for value in values if re.search(rf"(?<!\w){re.escape(value)}(?!\w)", stored)]

    assert leaked == []
    assert pseudonym in stored  # the values were there, and were replaced


# --- changed files and duplicates -----------------------------------------------------------------------------


def test_when_a_file_changes_then_its_records_are_replaced(db: Database, tmp_path: Path, anonymizer, embedder):
    ingestor = Ingestor(db, anonymizer, embedder)
    faq = _write_csv(tmp_path / "faq.csv", [("Which VPN do we use?", "We use OpenVPN."), SALARY])
    ingestor.ingest([faq])
    _write_csv(faq, [("Which VPN do we use?", "We use Tailscale."), SALARY])

    report = ingestor.ingest([faq])

    assert (report.files_stored, report.files_unchanged, report.records_stored) == (1, 0, 2)
    stored = _stored_text(db)
    assert "OpenVPN" not in stored
    assert "Tailscale" in stored
    assert (_count(db, Record), _count(db, Source)) == (2, 1)


def test_when_a_record_repeats_within_a_file_then_it_is_skipped_as_a_duplicate(
    db: Database, tmp_path: Path, anonymizer, embedder
):
    first = _write_csv(tmp_path / "a.csv", [VPN, VPN])
    second = _write_csv(tmp_path / "b.csv", [VPN, SALARY])

    report = Ingestor(db, anonymizer, embedder).ingest([first, second])

    # Each file owns its records, so b.csv keeps its own copy of the VPN row (training and retrieval
    # collapse equal content); only the repeat inside a.csv is a duplicate.
    assert report.reconciles
    assert (report.records_seen, report.records_stored) == (4, 3)
    assert report.skipped == [Skipped("a.csv row 3", "duplicate within the file")]
    assert _count(db, Record) == 3


def test_when_a_changed_file_drops_a_record_another_file_also_holds_then_that_record_stays_stored(
    db: Database, tmp_path: Path, anonymizer, embedder
):
    ingestor = Ingestor(db, anonymizer, embedder)
    first = _write_csv(tmp_path / "a.csv", [VPN, SALARY])
    second = _write_csv(tmp_path / "b.csv", [VPN])
    ingestor.ingest([first, second])
    _write_csv(first, [SALARY])

    ingestor.ingest([first, second])

    assert "Tailscale" in _stored_text(db)


# --- bad inputs -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "reason"),
    [("binary.txt", "binary"), ("empty.md", "empty"), ("broken.pdf", "PDF"), ("latin1.txt", "UTF-8")],
)
def test_when_a_file_is_unusable_then_it_is_skipped_with_a_reason_and_nothing_is_stored(
    bad: Ingested, name: str, reason: str
):
    [skipped] = [s for s in bad.report.skipped if Path(s.where).name == name]

    assert reason in skipped.reason
    assert _source(bad.db, name) is None


def test_when_a_csv_has_malformed_rows_then_its_good_rows_are_stored_and_the_bad_ones_reported(bad: Ingested):
    malformed = [s for s in bad.report.skipped if s.where.startswith("malformed.csv")]
    source = _source(bad.db, "malformed.csv")

    assert [s.where for s in malformed] == ["malformed.csv row 5", "malformed.csv row 8"]
    assert source is not None
    assert (source.record_count, source.skipped_count) == (5, 2)
    assert "TravelPerk" in _stored_text(bad.db)


def test_when_a_folder_mixes_bad_and_good_files_then_the_good_ones_are_stored_and_counts_reconcile(bad: Ingested):
    report = bad.report
    good = _source(bad.db, "good.md")

    assert report.reconciles
    assert (report.files_seen, report.files_stored, report.files_skipped) == (6, 2, 4)
    assert (report.records_stored, report.records_skipped) == (_count(bad.db, Record), 2)
    assert good is not None and good.record_count > 0
    assert "Tuesday and Friday" in _stored_text(bad.db)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("script.py", "unsupported file type"),
        ("data.xml", "unsupported file type"),
        ("archive.tar.gz", "unsupported file type"),
        ("Makefile", "unsupported file type"),
        ("data.json", "not a Zendesk, Intercom or transcript export"),
    ],
)
def test_when_a_file_type_is_not_supported_then_it_is_skipped_with_that_reason(
    db: Database, tmp_path: Path, anonymizer, embedder, name: str, reason: str
):
    path = tmp_path / name
    path.write_text("question,answer\nQ?,A\n", encoding="utf-8")

    report = Ingestor(db, anonymizer, embedder).ingest([path])

    assert report.reconciles
    assert report.files_skipped == 1
    assert reason in report.skipped[0].reason
    assert _count(db, Source) == 0


# --- which files, read by which connector ---------------------------------------------------------------------


def test_when_a_folder_is_walked_then_hidden_and_underscore_paths_are_ignored(tmp_path: Path):
    for relative in [
        "faq.csv",
        "docs/guide.md",
        ".hidden.md",
        "_draft.md",
        "docs/.DS_Store",
        "_tools/make.md",
        ".git/config",
        "docs/_old/notes.txt",
    ]:
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text("text", encoding="utf-8")

    found = [path.relative_to(tmp_path).as_posix() for path in iter_files([tmp_path])]

    assert found == ["docs/guide.md", "faq.csv"]


def test_when_a_hidden_or_underscore_file_is_named_directly_then_it_is_still_read(tmp_path: Path):
    named = [tmp_path / "_draft.md", tmp_path / ".notes.txt"]

    assert list(iter_files(named)) == named


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (Path("faq.csv"), CsvQaConnector),
        (Path("chats.JSONL"), JsonlQaConnector),
        (EXAMPLES / "support_faq.md", MarkdownFaqConnector),
        (EXAMPLES / "handbook" / "01-leave-and-holidays.md", DocumentConnector),
        (Path("guide.txt"), DocumentConnector),
        (Path("page.html"), DocumentConnector),
        (Path("scan.pdf"), DocumentConnector),
    ],
    ids=["csv", "jsonl-any-case", "faq-markdown", "document-markdown", "txt", "html", "pdf"],
)
def test_when_a_file_is_ingested_then_its_suffix_and_headings_choose_the_connector(path: Path, expected: type):
    content = path.read_bytes() if path.exists() else b"text"

    assert isinstance(connector_for(path, content, DocumentConnector()), expected)


def test_when_a_markdown_file_has_few_question_headings_then_it_is_a_document():
    text = b"# Guide\n## Is it a question?\ntext\n## Setup\ntext\n## Usage\ntext\n## Who?\ntext\n## Why?\ntext\n"

    assert isinstance(connector_for(Path("guide.md"), text, DocumentConnector()), DocumentConnector)


def test_when_a_file_type_is_unknown_then_choosing_a_connector_names_the_suffix():
    with pytest.raises(UnreadableFile, match="unsupported file type '.py'"):
        connector_for(Path("script.py"), b"print()", DocumentConnector())


# --- failing closed -------------------------------------------------------------------------------------------


class BoomAnonymizer:
    """Fails the whole batch, then, record by record, only records that mention BOOM; leaves others as they are."""

    def anonymize(self, text: str) -> str:
        return self.anonymize_record([text])[0]

    def anonymize_record(self, texts: Sequence[str]) -> list[str]:
        if any("BOOM" in text for text in texts):
            raise AnonymizationError("anonymization failed (ValueError)")
        return list(texts)

    def anonymize_records(self, records: Sequence[Sequence[str]]) -> list[list[str]]:
        raise AnonymizationError("anonymization failed (ValueError)")

    def anonymize_records_with_mapping(self, records: Sequence[Sequence[str]]) -> list[AnonymizedRecord]:
        if len(records) > 1:
            raise AnonymizationError("anonymization failed (ValueError)")
        return [AnonymizedRecord(self.anonymize_record(texts), {}) for texts in records]


def test_when_one_record_cannot_be_anonymized_then_only_it_is_skipped_and_its_text_is_never_stored_or_logged(
    db: Database, tmp_path: Path, embedder, caplog: pytest.LogCaptureFixture
):
    faq = _write_csv(tmp_path / "faq.csv", [VPN, ("Who is BOOM?", "Mail boom.secret@example.com"), SALARY])
    caplog.set_level(logging.DEBUG)

    report = Ingestor(db, BoomAnonymizer(), embedder).ingest([faq])  # type: ignore[arg-type]

    assert report.reconciles
    assert report.records_stored == _count(db, Record) == 2
    assert report.skipped == [Skipped("faq.csv row 3", "anonymization failed")]
    assert "BOOM" not in _stored_text(db) and "boom.secret" not in _stored_text(db)
    assert "BOOM" not in caplog.text and "boom.secret" not in caplog.text


class ExplodingEmbedder:
    """The real embedder, except that it raises on any text that mentions EXPLODE (say, a GPU that fell over)."""

    def __init__(self, embedder) -> None:
        self.name, self._embedder = embedder.name, embedder

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if any("EXPLODE" in text for text in texts):
            raise RuntimeError("embedding failed")
        return self._embedder.embed(texts)


def test_when_a_file_fails_after_its_records_were_added_then_none_of_them_stay(
    db: Database, tmp_path: Path, anonymizer, embedder
):
    good = _write_csv(tmp_path / "a-good.csv", [VPN])
    failing = _write_csv(tmp_path / "b-failing.csv", [SALARY, ("EXPLODE?", "Yes.")])

    with pytest.raises(RuntimeError, match="embedding failed"):
        Ingestor(db, anonymizer, ExplodingEmbedder(embedder)).ingest([good, failing])

    assert _source(db, "a-good.csv") is not None  # files before the failure are committed
    assert _source(db, "b-failing.csv") is None
    assert [record.external_id for record in _records(db)] == ["row 2"]
    assert "Monthly" not in _stored_text(db)


def test_when_reingesting_a_changed_file_fails_then_its_old_records_stay_and_the_next_ingest_retries(
    db: Database, tmp_path: Path, anonymizer, embedder
):
    faq = _write_csv(tmp_path / "faq.csv", [("Which VPN do we use?", "We use OpenVPN.")])
    Ingestor(db, anonymizer, embedder).ingest([faq])
    _write_csv(faq, [("Which VPN do we use?", "We use Tailscale."), ("EXPLODE?", "Yes.")])

    with pytest.raises(RuntimeError):
        Ingestor(db, anonymizer, ExplodingEmbedder(embedder)).ingest([faq])
    kept = _stored_text(db)
    retried = Ingestor(db, anonymizer, embedder).ingest([faq])  # the same bytes that failed

    assert "OpenVPN" in kept and "Tailscale" not in kept
    assert (retried.files_stored, retried.files_unchanged) == (1, 0)
    assert "Tailscale" in _stored_text(db)
