"""The schema migrations, on SQLite and on PostgreSQL: they build what the models declare, and a database
made by an older release upgrades in place, keeping its rows, and downgrades again."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, MetaData, delete, func, inspect, select
from sqlalchemy.orm import Session

from ftbot.storage import runs
from ftbot.storage.db import Database, downgrade, upgrade
from ftbot.storage.models import (
    Answer,
    Base,
    Feedback,
    ModelVersion,
    Record,
    Source,
    TrainingExample,
    TrainingRun,
)

pytestmark = pytest.mark.both_backends

WHEN = datetime(2026, 11, 20, 9, 30)
MESSAGES = [{"role": "user", "content": "How many vacation days?"}, {"role": "assistant", "content": "28."}]
# Rows as release 0001 wrote them (its columns only), keyed by table.
ROWS_AT_0001: dict[str, list[dict]] = {
    "sources": [
        {"id": 1, "uri": "faq.csv", "kind": "qa_file", "content_hash": "h1", "last_synced_at": WHEN}
        | {"record_count": 1, "skipped_count": 0}
    ],
    "records": [
        {"id": 1, "source_id": 1, "external_id": "2", "kind": "qa", "title": "Vacation", "text": "28 days."}
        | {"messages": MESSAGES, "content_hash": "r1", "embedding": b"\x00\x01\xff", "created_at": WHEN}
    ],
    "training_runs": [
        {"id": 1, "status": "succeeded", "trigger": "cli", "created_at": WHEN, "started_at": WHEN}
        | {"finished_at": WHEN, "config": {"epochs": 2}, "metrics": {"val_loss": 0.5}, "step": 3, "total_steps": 3}
    ],
    "training_examples": [
        {"id": 1, "run_id": 1, "record_id": 1, "origin": "qa", "split": "train", "messages": MESSAGES, "weight": 1.0}
    ],
    "model_versions": [
        {"id": 1, "name": "v1", "run_id": 1, "base_model": "tiny", "adapter_path": "/a/v1", "dataset_hash": "d1"}
        | {"metrics": {"val_loss": 0.5}, "is_active": True, "created_at": WHEN, "promoted_at": WHEN}
    ],
    "answers": [
        {"id": 1, "question": "Vacation?", "answer": "28 days.", "sources": ["faq.csv"], "model_version": "v1"}
        | {"channel": "cli", "latency_ms": 12.5, "created_at": WHEN}
    ],
    "feedback": [
        {"id": 1, "answer_id": 1, "user_id": "u1", "vote": -1, "reason": "stale", "correction": "30 days."}
        | {"created_at": WHEN}
    ],
}
ADDED_AFTER_0001 = {"training_run_events", "leases", "slack_events", "admin_settings", "apscheduler_jobs"}


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on an empty database, with no schema yet."""
    database = Database(db_url, migrate=False)
    yield database.engine
    database.engine.dispose()


def _database_at_0001(engine: Engine) -> None:
    upgrade(engine, "0001")
    tables = MetaData()
    tables.reflect(engine)  # the 0001 schema as it is in the database, not as the models are now
    with engine.begin() as connection:
        for name, rows in ROWS_AT_0001.items():
            connection.execute(tables.tables[name].insert(), rows)
        if engine.dialect.name == "postgresql":  # rows inserted with ids leave the id sequences behind them
            for name in ROWS_AT_0001:
                sequence = f"pg_get_serial_sequence('{name}', 'id')"
                connection.exec_driver_sql(f"SELECT setval({sequence}, max(id)) FROM {name}")


def _assert_0001_rows_kept(session: Session) -> None:
    source, record = session.get_one(Source, 1), session.get_one(Record, 1)
    assert (source.uri, source.record_count) == ("faq.csv", 1)
    assert (record.messages, record.embedding) == (MESSAGES, b"\x00\x01\xff")
    run = session.get_one(TrainingRun, 1)
    assert (run.status, run.config, run.metrics, run.step) == ("succeeded", {"epochs": 2}, {"val_loss": 0.5}, 3)
    example = session.get_one(TrainingExample, 1)
    assert (example.run_id, example.record_id, example.messages) == (1, 1, MESSAGES)
    version = session.get_one(ModelVersion, 1)
    assert (version.name, version.run_id, version.is_active, version.promoted_at) == ("v1", 1, True, WHEN)
    answer, vote = session.get_one(Answer, 1), session.get_one(Feedback, 1)
    assert (answer.sources, answer.latency_ms, vote.vote, vote.correction) == (["faq.csv"], 12.5, -1, "30 days.")


def test_when_migrated_to_head_then_the_schema_matches_the_models(db) -> None:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_when_a_0001_database_is_upgraded_then_its_rows_are_kept_and_new_columns_have_their_defaults(
    engine: Engine,
) -> None:
    _database_at_0001(engine)
    upgrade(engine)
    assert set(inspect(engine).get_table_names()) >= ADDED_AFTER_0001
    with Session(engine) as session:
        _assert_0001_rows_kept(session)
        run, vote, answer = session.get_one(TrainingRun, 1), session.get_one(Feedback, 1), session.get_one(Answer, 1)
        assert run.cancel_requested is False and vote.via == "button"  # server defaults filled the old rows
        assert {run.pending, run.trigger_key, run.worker_id, run.loss, answer.slack_channel} == {None}
        # The upgraded database works as a new one: one pending run, with its lifecycle events.
        queued = runs.enqueue(session, trigger="cli")
        session.commit()
        with pytest.raises(runs.RunAlreadyPending):
            runs.enqueue(session, trigger="cli")
        session.rollback()
        assert queued.id == 2 and runs.summarize(session, 2).events[0][1] == "queued"


def test_when_downgraded_to_0001_and_upgraded_again_then_the_rows_are_still_there(engine: Engine) -> None:
    _database_at_0001(engine)
    upgrade(engine)
    downgrade(engine, "0001")
    assert not ADDED_AFTER_0001 & set(inspect(engine).get_table_names())
    assert "pending" not in {column["name"] for column in inspect(engine).get_columns("training_runs")}
    upgrade(engine)
    with Session(engine) as session:
        _assert_0001_rows_kept(session)
        assert session.scalar(select(Feedback.via)) == "button"
        session.execute(delete(Answer))  # foreign keys are enforced again (SQLite migrates without them)
        assert session.scalar(select(func.count()).select_from(Feedback)) == 0
