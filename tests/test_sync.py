"""Specifications for connectors.sync: batches, cursors, edits, deletions, failures, and the folder source."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from connectors.base import SourceUnavailable, SyncBatch
from connectors.detect import connector_for
from connectors.documents import DocumentConnector
from connectors.folder import FolderConnector
from connectors.sync import MAX_RECORD_CHARS, SourceSync
from ftbot.records import Message, RawRecord, Skipped, source_uri
from ftbot.storage.db import Database
from ftbot.storage.models import Record, Source

T1, T2 = datetime(2026, 3, 1, 10, 0), datetime(2026, 3, 2, 9, 30)


def qa(number: int, answer: str = "Restart the router.", updated: datetime = T1) -> RawRecord:
    return RawRecord(
        f"thread {number}",
        "qa",
        messages=(
            Message("user", f"Question {number}: my VPN drops, says Jonas Albrecht"),
            Message("assistant", answer),
        ),
        url=f"https://example.slack.com/archives/C1/p{number}",
        created_at=T1,
        updated_at=updated,
    )


class FakeConnector:
    """A source that holds a list of records and pages through them; `cursor` is the next index."""

    kind = "fake"

    def __init__(self, records: list[RawRecord], page: int = 2, fail_after: int | None = None) -> None:
        self.records, self.page, self.fail_after = records, page, fail_after
        self.cursors: list[str | None] = []

    def sync(self, cursor: str | None) -> Iterator[SyncBatch]:
        self.cursors.append(cursor)
        start = int(cursor) if cursor else 0
        for batch_number, offset in enumerate(range(start, len(self.records), self.page)):
            if self.fail_after is not None and batch_number == self.fail_after:
                raise SourceUnavailable("ratelimited for too long")
            yield SyncBatch(self.records[offset : offset + self.page], cursor=str(offset + self.page))


class CountingAnonymizer:
    """The real anonymizer, counting the records it was asked to anonymize."""

    def __init__(self, real: object) -> None:
        self.real, self.records = real, 0

    def anonymize_records_with_mapping(self, records):  # type: ignore[no-untyped-def]
        self.records += len(records)
        return self.real.anonymize_records_with_mapping(records)  # type: ignore[attr-defined]


@pytest.fixture
def syncer(db: Database, anonymizer: object, embedder: object) -> SourceSync:
    return SourceSync(db, CountingAnonymizer(anonymizer), embedder)  # type: ignore[arg-type]


def stored(db: Database, name: str = "fake") -> dict[str, Record]:
    with db.session() as session:
        source = session.scalar(select(Source).where(Source.uri == source_uri(name)))
        assert source is not None
        return {r.external_id: r for r in session.scalars(select(Record).where(Record.source_id == source.id))}


def source_row(db: Database, name: str = "fake") -> Source:
    with db.session() as session:
        source = session.scalar(select(Source).where(Source.uri == source_uri(name)))
        assert source is not None
        return source


@pytest.mark.both_backends
def test_when_a_source_is_synced_then_records_are_anonymized_embedded_and_keep_their_metadata(
    db: Database, syncer: SourceSync
) -> None:
    report = syncer.run("fake", FakeConnector([qa(1), qa(2), qa(3)]))

    assert (report.full, report.records_seen, report.records_stored, report.batches) == (True, 3, 3, 2)
    assert report.reconciles and report.error is None
    records = stored(db)
    assert set(records) == {"thread 1", "thread 2", "thread 3"}
    first = records["thread 1"]
    assert "Jonas" not in first.text and "<PERSON_1>" in first.text
    assert first.embedding is not None
    assert (first.url, first.source_created_at, first.source_updated_at) == (
        "https://example.slack.com/archives/C1/p1",
        T1,
        T1,
    )
    assert source_row(db).cursor == "4"  # the last batch's cursor


def test_when_nothing_changed_upstream_then_a_second_sync_adds_and_anonymizes_nothing(
    db: Database, syncer: SourceSync
) -> None:
    connector = FakeConnector([qa(1), qa(2)])
    syncer.run("fake", connector)
    before = {key: (r.id, r.embedding) for key, r in stored(db).items()}
    counted = syncer.anonymizer.records  # type: ignore[attr-defined]

    again = syncer.run("fake", connector, full=True)

    assert (again.records_seen, again.records_stored, again.records_unchanged, again.records_deleted) == (2, 0, 2, 0)
    assert syncer.anonymizer.records == counted  # type: ignore[attr-defined]
    assert {key: (r.id, r.embedding) for key, r in stored(db).items()} == before


def test_when_a_record_is_edited_then_it_replaces_its_old_text_and_embedding(db: Database, syncer: SourceSync) -> None:
    syncer.run("fake", FakeConnector([qa(1), qa(2)]))
    old = stored(db)["thread 2"]

    report = syncer.run("fake", FakeConnector([qa(1), qa(2, "Reinstall the VPN client.", updated=T2)]), full=True)

    assert (report.records_stored, report.records_unchanged) == (1, 1)
    new = stored(db)["thread 2"]
    assert new.id == old.id and "Reinstall" in new.text and "Restart" not in new.text
    assert new.embedding != old.embedding and new.source_updated_at == T2


@pytest.mark.both_backends
def test_when_a_record_is_gone_upstream_then_a_full_sync_removes_it_and_an_incremental_one_does_not(
    db: Database, syncer: SourceSync
) -> None:
    syncer.run("fake", FakeConnector([qa(1), qa(2), qa(3)]))

    incremental = syncer.run("fake", FakeConnector([qa(1), qa(3)]))  # resumes at cursor 4: reads nothing
    assert (incremental.full, incremental.records_deleted) == (False, 0)
    assert len(stored(db)) == 3

    full = syncer.run("fake", FakeConnector([qa(1), qa(3)]), full=True)
    assert full.records_deleted == 1
    assert set(stored(db)) == {"thread 1", "thread 3"}


def test_when_a_source_reports_deletions_then_they_are_removed_at_once(db: Database, syncer: SourceSync) -> None:
    syncer.run("fake", FakeConnector([qa(1), qa(2)]))

    class Deleting:
        kind = "fake"

        def sync(self, cursor: str | None) -> Iterator[SyncBatch]:
            yield SyncBatch([], cursor="9", deleted=["thread 1", "thread 7"])

    report = syncer.run("fake", Deleting())

    assert report.records_deleted == 1 and set(stored(db)) == {"thread 2"}


def test_when_a_sync_stops_half_way_then_committed_batches_stay_and_the_next_sync_resumes(
    db: Database, syncer: SourceSync
) -> None:
    records = [qa(n) for n in range(1, 6)]
    failing = FakeConnector(records, page=2, fail_after=1)

    first = syncer.run("fake", failing)

    assert first.error == "ratelimited for too long"
    assert set(stored(db)) == {"thread 1", "thread 2"}
    assert (source_row(db).cursor, source_row(db).last_error) == ("2", "ratelimited for too long")

    resumed = FakeConnector(records, page=2)
    second = syncer.run("fake", resumed)

    assert resumed.cursors == ["2"] and second.error is None and not second.full
    assert set(stored(db)) == {f"thread {n}" for n in range(1, 6)}
    assert source_row(db).last_error is None


def test_when_a_full_sync_stops_early_then_nothing_is_deleted(db: Database, syncer: SourceSync) -> None:
    syncer.run("fake", FakeConnector([qa(n) for n in range(1, 5)]))

    report = syncer.run("fake", FakeConnector([qa(1), qa(2), qa(4)], page=1, fail_after=1), full=True)

    assert report.error and report.records_deleted == 0
    assert len(stored(db)) == 4


def test_when_items_are_bad_then_they_are_skipped_with_reasons_and_counts_reconcile(
    db: Database, syncer: SourceSync
) -> None:
    huge = RawRecord("thread 9", "chunk", text="x" * (MAX_RECORD_CHARS + 1))
    items: list[RawRecord | Skipped] = [
        qa(1),
        Skipped("line 2", "truncated JSON"),
        huge,
        qa(3, "old answer"),
        qa(3, "new answer"),
    ]

    class Mixed:
        kind = "fake"

        def sync(self, cursor: str | None) -> Iterator[SyncBatch]:
            yield SyncBatch(items)

    report = syncer.run("fake", Mixed())

    assert report.reconciles
    assert (report.records_seen, report.records_stored, report.records_skipped) == (5, 2, 3)
    reasons = {s.where: s.reason for s in report.skipped}
    assert reasons["line 2"] == "truncated JSON"
    assert reasons["thread 9"].startswith("too long (100,001 characters")
    assert reasons["thread 3"] == "superseded by a later version in the same batch"
    assert "new answer" in stored(db)["thread 3"].text
    assert source_row(db).skipped_count == 3


def test_when_storing_a_batch_fails_then_none_of_it_is_written(
    db: Database, syncer: SourceSync, monkeypatch: pytest.MonkeyPatch
) -> None:
    import connectors.sync as sync_module

    def broken_embedding(records, embedder):  # type: ignore[no-untyped-def]
        raise RuntimeError("disk full")

    monkeypatch.setattr(sync_module, "embed_records", broken_embedding)

    with pytest.raises(RuntimeError, match="disk full"):
        syncer.run("fake", FakeConnector([qa(1), qa(2)]))

    with db.session() as session:
        assert session.scalars(select(Record)).all() == []
        assert session.scalar(select(Source).where(Source.uri == source_uri("fake"))).cursor is None


def test_when_a_folder_is_a_source_then_files_sync_and_unchanged_files_are_not_reanonymized(
    db: Database, syncer: SourceSync, tmp_path: Path
) -> None:
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "faq.csv").write_text("question,answer\nWho approves travel?,Your team lead approves travel.\n")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    (folder / "notes.txt").write_text("The office opens at 8:00. Ask Jonas Albrecht for a key.")
    documents = DocumentConnector()
    connector = FolderConnector("files", folder, lambda path, content: connector_for(path, content, documents))

    first = syncer.run("kb", connector)

    assert first.reconciles and first.records_stored == 2 and first.records_skipped == 1
    assert first.skipped[0].where == "broken.pdf"
    assert set(stored(db, "kb")) == {"faq.csv row 2", "notes.txt chunk 1"}
    counted = syncer.anonymizer.records  # type: ignore[attr-defined]

    (folder / "notes.txt").unlink()
    second = syncer.run("kb", connector)

    assert second.records_unchanged == 1 and second.records_deleted == 1
    assert syncer.anonymizer.records == counted  # type: ignore[attr-defined]
    assert set(stored(db, "kb")) == {"faq.csv row 2"}


def test_when_the_folder_is_missing_then_the_sync_reports_it(syncer: SourceSync, tmp_path: Path) -> None:
    connector = FolderConnector("files", tmp_path / "nowhere", lambda path, content: DocumentConnector())

    report = syncer.run("kb", connector)

    assert report.error == f"{tmp_path / 'nowhere'} does not exist"


def test_cli_syncs_configured_sources_and_lists_them(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from ftbot.cli import app

    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "faq.csv").write_text("question,answer\nWho approves travel?,Your team lead approves travel.\n")
    config = tmp_path / "ftbot.toml"
    config.write_text(
        f'[[sources]]\nname = "kb"\ntype = "files"\npath = {json.dumps(str(folder))}\n'
        '[[sources]]\nname = "desk"\ntype = "files"\npath = "missing-folder"\n'
    )
    monkeypatch.setenv("FTBOT_CONFIG", str(config))
    runner = CliRunner()

    never = runner.invoke(app, ["sources"])
    assert never.exit_code == 0 and "never" in never.output

    synced = runner.invoke(app, ["ingest"])
    assert synced.exit_code == 1  # one source failed
    assert "kb (files, full): 1 seen = 1 stored + 0 unchanged + 0 skipped; 0 deleted" in synced.output
    assert "missing-folder does not exist" in synced.output

    only = runner.invoke(app, ["ingest", "--source", "kb"])
    assert only.exit_code == 0 and "1 unchanged" in only.output

    unknown = runner.invoke(app, ["ingest", "--source", "nope"])
    assert unknown.exit_code == 1 and "no source named nope" in unknown.output

    listed = runner.invoke(app, ["sources"])
    assert listed.exit_code == 0
    assert "kb" in listed.output and "does not exist" in listed.output


def test_when_reversible_mode_is_on_then_the_vault_follows_the_records_and_the_database_holds_no_original(
    db: Database, anonymizer: object, embedder: object, tmp_path: Path
) -> None:
    from cryptography.fernet import Fernet

    from connectors.anonymize.vault import PseudonymVault

    vault = PseudonymVault(tmp_path / "vault" / "pseudonyms.db", Fernet.generate_key())
    syncer = SourceSync(db, anonymizer, embedder, vault=vault)  # type: ignore[arg-type]
    syncer.run("fake", FakeConnector([qa(1), qa(2)]))

    record = stored(db)["thread 1"]
    assert "Jonas" not in record.text
    assert "Jonas Albrecht" in vault.reveal(source_uri("fake"), "thread 1", record.text)

    syncer.run("fake", FakeConnector([qa(2)]), full=True)  # thread 1 was deleted upstream

    assert vault.originals(source_uri("fake"), "thread 1") == {}
    assert vault.originals(source_uri("fake"), "thread 2") != {}


def test_when_reversible_mode_has_no_key_then_ingest_stops_with_one_line_naming_the_setting(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from ftbot.cli import app

    (tmp_path / "faq.csv").write_text("question,answer\nWho approves travel?,Your team lead.\n")
    monkeypatch.setenv("FTBOT_ANONYMIZATION_REVERSIBLE", "true")

    result = CliRunner().invoke(app, ["ingest", str(tmp_path / "faq.csv")])

    assert result.exit_code == 2
    assert "FTBOT_PSEUDONYM_KEY" in result.output and "Traceback" not in result.output
    assert not (home / "vault").exists()


def test_when_a_synced_record_has_a_link_then_answers_cite_the_link(db: Database, syncer: SourceSync, embedder) -> None:
    from ftbot.retrieval import RetrievalIndex

    syncer.run("fake", FakeConnector([qa(1)]))
    syncer.run("kb", FakeConnector([replace(qa(2), url="")]))

    with db.session() as session:
        index = RetrievalIndex.from_database(session, embedder)
    citations = {hit.citation for hit in index.search("my VPN drops", k=2)}

    assert citations == {"https://example.slack.com/archives/C1/p1", "kb thread 2"}


def test_when_an_edit_removes_a_name_then_the_record_loses_its_erasure_key(db: Database, anonymizer, embedder) -> None:
    from ftbot.personal_keys import PersonalDataKeys
    from ftbot.storage.keys import keys_of

    keys = PersonalDataKeys(b"a test secret of at least 16 bytes")
    syncer = SourceSync(db, anonymizer, embedder, keys=keys)
    syncer.run("fake", FakeConnector([qa(1, "Ask Jana Novak to restart the router.")]))
    with db.session() as session:
        record_id = stored(db)["thread 1"].id
        assert keys_of(session, record_id=record_id) & set(keys.to_find("Jana Novak"))

    syncer.run("fake", FakeConnector([qa(1, "Restart the router yourself.", updated=T2)]), full=True)
    with db.session() as session:
        left = keys_of(session, record_id=record_id)
        assert not left & set(keys.to_find("Jana Novak")) and left & set(keys.to_find("Jonas Albrecht"))


def test_when_an_edit_swaps_one_name_for_another_then_the_keys_follow_the_new_name(
    db: Database, anonymizer, embedder
) -> None:
    from ftbot.personal_keys import PersonalDataKeys
    from ftbot.storage.keys import keys_of

    keys = PersonalDataKeys(b"a test secret of at least 16 bytes")
    syncer = SourceSync(db, anonymizer, embedder, keys=keys)
    syncer.run("fake", FakeConnector([qa(1, "Ask Jana Novak to restart the router.")]))
    text_before = stored(db)["thread 1"].text

    syncer.run("fake", FakeConnector([qa(1, "Ask Petra Schmidt to restart the router.", updated=T2)]), full=True)
    record = stored(db)["thread 1"]
    assert record.text == text_before  # the same text once anonymized: only the name behind it changed
    with db.session() as session:
        held = keys_of(session, record_id=record.id)
        assert held & set(keys.to_find("Petra Schmidt")) and not held & set(keys.to_find("Jana Novak"))
