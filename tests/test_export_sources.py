"""Specifications for support-desk exports as configured sources: sync, edit, delete, re-sync, privacy."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import FIXTURES
from sqlalchemy import select

from connectors.registry import build_connector
from connectors.sync import SourceSync
from ftbot.config import Settings
from ftbot.source_config import ExportSourceConfig
from ftbot.storage.db import Database
from ftbot.storage.models import Record

EXPORTS = FIXTURES / "exports"


def texts(db: Database) -> dict[str, str]:
    with db.session() as session:
        return {r.external_id: r.text for r in session.scalars(select(Record))}


@pytest.fixture
def desk(tmp_path: Path) -> Path:
    folder = tmp_path / "desk"
    folder.mkdir()
    shutil.copy(EXPORTS / "zendesk_tickets.ndjson", folder / "tickets.ndjson")
    return folder


@pytest.mark.both_backends
def test_when_a_zendesk_export_is_synced_then_tickets_are_replaced_on_edit_and_removed_when_gone(
    db: Database, anonymizer: object, embedder: object, desk: Path, home: Path
) -> None:
    connector = build_connector(ExportSourceConfig(name="desk", type="zendesk", path=desk), Settings())
    syncer = SourceSync(db, anonymizer, embedder)  # type: ignore[arg-type]

    first = syncer.run("desk", connector)
    assert first.reconciles and first.records_stored >= 2
    before = texts(db)
    assert all(key.startswith("tickets.ndjson ticket ") for key in before)

    again = syncer.run("desk", connector)
    assert again.records_stored == 0 and again.records_unchanged == first.records_stored

    shutil.copy(EXPORTS / "zendesk_tickets_edited.ndjson", desk / "tickets.ndjson")
    edited = syncer.run("desk", connector)
    assert edited.records_stored == 1
    after = texts(db)
    assert after["tickets.ndjson ticket 4711"] != before["tickets.ndjson ticket 4711"]
    assert {k: v for k, v in after.items() if "4711" not in k} == {k: v for k, v in before.items() if "4711" not in k}

    lines = (desk / "tickets.ndjson").read_text().splitlines()
    (desk / "tickets.ndjson").write_text("\n".join(line for line in lines if '"id": 4711' not in line) + "\n")
    deleted = syncer.run("desk", connector)
    assert deleted.records_deleted == 1 and "tickets.ndjson ticket 4711" not in texts(db)


def test_when_exports_are_synced_then_no_planted_personal_data_is_stored(
    db: Database, anonymizer: object, embedder: object, tmp_path: Path, home: Path
) -> None:
    syncer = SourceSync(db, anonymizer, embedder)  # type: ignore[arg-type]
    for kind, name in [
        ("zendesk", "zendesk_api_tickets.json"),
        ("intercom", "intercom_conversations.json"),
        ("transcripts", "transcripts.jsonl"),
        ("transcripts", "transcripts.csv"),
    ]:
        folder = tmp_path / name.replace(".", "_")
        folder.mkdir()
        shutil.copy(EXPORTS / name, folder / name)
        report = syncer.run(
            folder.name, build_connector(ExportSourceConfig(name=folder.name, type=kind, path=folder), Settings())
        )
        assert report.reconciles and report.records_stored > 0, (name, report.skipped)

    planted = json.loads((EXPORTS / "_planted_pii.json").read_text())
    stored = "\n".join(texts(db).values())
    leaks = [value for values in planted.values() for value in values if value in stored]
    assert leaks == []
