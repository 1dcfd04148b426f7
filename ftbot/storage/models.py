"""The database schema: typed SQLAlchemy 2.0 ORM models. Only anonymized text is ever stored here."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    Unicode,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Source(Base):
    """A place records come from: one ingested file, or a configured source (uri "source:NAME")."""

    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    uri: Mapped[str] = mapped_column(String(1024), unique=True)
    kind: Mapped[str] = mapped_column(String(32))  # qa_file | document | ...
    # Hash of the raw content: an unchanged file is not ingested again.
    content_hash: Mapped[str] = mapped_column(String(64))
    # Where an incremental sync resumes (a Slack timestamp, a ticket id); files have none.
    cursor: Mapped[str | None] = mapped_column(Text)
    last_synced_at: Mapped[datetime] = mapped_column(default=utcnow)
    record_count: Mapped[int] = mapped_column(Integer, default=0)
    skipped_count: Mapped[int] = mapped_column(Integer, default=0)
    # Why the last sync of a configured source stopped early (None: it finished).
    last_error: Mapped[str | None] = mapped_column(Text)
    # Incremented by each full sync; records it did not see keep an older number and are removed.
    sync_generation: Mapped[int] = mapped_column(Integer, default=0)

    records: Mapped[list[Record]] = relationship(back_populates="source", cascade="all, delete-orphan")


class Record(Base):
    """One anonymized unit of knowledge: a Q&A pair, a document chunk or a chat conversation."""

    __tablename__ = "records"
    __table_args__ = (UniqueConstraint("source_id", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    external_id: Mapped[str] = mapped_column(String(256))  # row number, chunk number, line number
    kind: Mapped[str] = mapped_column(String(16))  # qa | chunk | chat
    title: Mapped[str] = mapped_column(String(512), default="")
    # Retrieval text (what the model reads as context), anonymized.
    text: Mapped[str] = mapped_column(Text)
    # Chat messages for qa/chat records: [{"role": ..., "content": ...}], anonymized.
    messages: Mapped[list[Any] | None] = mapped_column(JSON)
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary)
    embedding_model: Mapped[str | None] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A link back to the original (Slack permalink, ticket URL) and its upstream timestamps.
    url: Mapped[str] = mapped_column(String(1024), default="")
    source_created_at: Mapped[datetime | None]
    source_updated_at: Mapped[datetime | None]
    # RawRecord.change_key() when it was stored: an equal key means unchanged, not even re-anonymized.
    change_key: Mapped[str | None] = mapped_column(String(128))
    # The source's sync_generation when a sync last saw this record.
    sync_generation: Mapped[int] = mapped_column(Integer, default=0)

    source: Mapped[Source] = relationship(back_populates="records")


class TrainingRun(Base):
    """One fine-tuning run and its lifecycle: queued → running → succeeded | failed | cancelled."""

    __tablename__ = "training_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    trigger: Mapped[str] = mapped_column(String(32), default="cli")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    dataset_hash: Mapped[str | None] = mapped_column(String(64))
    base_model: Mapped[str | None] = mapped_column(String(512))
    config: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    metrics: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    step: Mapped[int] = mapped_column(Integer, default=0)
    total_steps: Mapped[int] = mapped_column(Integer, default=0)
    loss: Mapped[float | None] = mapped_column(Float)  # the latest training loss, for /finetune status
    # A hashed Slack user id (or "cli", "schedule"): who asked for the run.
    requested_by: Mapped[str | None] = mapped_column(String(64))
    # Set for scheduled runs ("schedule:2026-11-23T03:00"): one run per tick even with several schedulers.
    trigger_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    # True while queued or running, NULL afterwards. Unique, so the database itself refuses a second
    # run while one is pending (NULLs never collide), across every replica.
    pending: Mapped[bool | None] = mapped_column(unique=True)
    worker_id: Mapped[str | None] = mapped_column(String(128))
    heartbeat_at: Mapped[datetime | None]
    cancel_requested: Mapped[bool] = mapped_column(default=False)

    events: Mapped[list[TrainingRunEvent]] = relationship(
        back_populates="run", cascade="all, delete-orphan", order_by="TrainingRunEvent.id"
    )


class TrainingRunEvent(Base):
    """A timestamped step in a run's lifecycle (queued, started, cancel requested, succeeded, ...)."""

    __tablename__ = "training_run_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("training_runs.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text, default="")

    run: Mapped[TrainingRun] = relationship(back_populates="events")


class TrainingExample(Base):
    """One chat-format example a run trained or validated on (lineage: which run used what)."""

    __tablename__ = "training_examples"
    __table_args__ = (Index("ix_training_examples_run_split", "run_id", "split"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("training_runs.id", ondelete="CASCADE"))
    record_id: Mapped[int | None] = mapped_column(ForeignKey("records.id", ondelete="SET NULL"))
    origin: Mapped[str] = mapped_column(String(16))  # qa | document | chat | refusal | feedback
    split: Mapped[str] = mapped_column(String(8))  # train | val
    messages: Mapped[list[Any]] = mapped_column(JSON)
    weight: Mapped[float] = mapped_column(Float, default=1.0)


class ModelVersion(Base):
    """A trained adapter. At most one version is active; the bot answers with it."""

    __tablename__ = "model_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)  # never reused
    run_id: Mapped[int | None] = mapped_column(ForeignKey("training_runs.id", ondelete="SET NULL"))
    base_model: Mapped[str] = mapped_column(String(512))
    adapter_path: Mapped[str] = mapped_column(String(1024))
    dataset_hash: Mapped[str] = mapped_column(String(64))
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    is_active: Mapped[bool] = mapped_column(default=False, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    promoted_at: Mapped[datetime | None]
    # When an erasure deleted data this version was trained on: it is never promoted or rolled back to again,
    # and its adapter is deleted once a version trained without that data has finished (ftbot/storage/erasure.py).
    trained_on_erased_at: Mapped[datetime | None]
    adapter_deleted_at: Mapped[datetime | None]


class Answer(Base):
    """A question the bot answered (both anonymized), with its sources and the version that answered."""

    __tablename__ = "answers"

    id: Mapped[int] = mapped_column(primary_key=True)
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    sources: Mapped[list[Any]] = mapped_column(JSON, default=list)
    model_version: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(32), default="cli")
    latency_ms: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Where the answer was posted in Slack, so reactions and button clicks find it.
    slack_channel: Mapped[str | None] = mapped_column(String(32))
    slack_ts: Mapped[str | None] = mapped_column(String(32))

    __table_args__ = (Index("ix_answers_slack_message", "slack_channel", "slack_ts"),)


class Feedback(Base):
    """One user's vote on one answer (the latest wins), with an optional reason or correction."""

    __tablename__ = "feedback"
    __table_args__ = (UniqueConstraint("answer_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    answer_id: Mapped[int] = mapped_column(ForeignKey("answers.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(String(64))  # hashed Slack user id (ftbot.privacy.user_ref)
    vote: Mapped[int] = mapped_column(Integer)  # +1 or -1
    via: Mapped[str] = mapped_column(String(16), default="button")  # button | reaction | modal | cli
    reason: Mapped[str | None] = mapped_column(Text)
    correction: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PersonalDataKey(Base):
    """A keyed hash (HMAC) of one piece of personal data a row contained, so an erasure finds the row.

    The value itself is never stored: only HMAC(secret, kind + canonical form), and the secret lives outside
    the database (ftbot/personal_keys.py). Exactly one of the row columns is set; deleting the row deletes its
    keys.
    """

    __tablename__ = "personal_data_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), index=True)
    record_id: Mapped[int | None] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"), index=True)
    answer_id: Mapped[int | None] = mapped_column(ForeignKey("answers.id", ondelete="CASCADE"), index=True)
    feedback_id: Mapped[int | None] = mapped_column(ForeignKey("feedback.id", ondelete="CASCADE"), index=True)


class ErasureLogEntry(Base):
    """One erasure (a person's request, or retention): append-only; the database refuses updates and deletes.

    What kind of value was erased, never the value; who asked (a hashed Slack user id, or "cli"); what went.
    """

    __tablename__ = "erasure_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    reason: Mapped[str] = mapped_column(String(16))  # request | retention
    requested_by: Mapped[str] = mapped_column(String(64))
    value_kinds: Mapped[str] = mapped_column(String(128))  # e.g. "email address", "person name"
    counts: Mapped[dict[str, Any]] = mapped_column(JSON)


class SlackEvent(Base):
    """Event ids already handled: Slack retries deliveries, and one event must give one answer."""

    __tablename__ = "slack_events"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class Lease(Base):
    """A named lease with an expiry: which process runs the scheduler when several replicas run."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime]


class AdminSetting(Base):
    """A value an admin changed at run time (e.g. the retraining cron); it wins over the environment until reset."""

    __tablename__ = "admin_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(64))


# APScheduler's job table, exactly as its SQLAlchemyJobStore (trainer/schedule.py) defines it; declared here
# so that migrations create it and a schema comparison finds nothing unexpected. Rows are APScheduler's own.
apscheduler_jobs = Table(
    "apscheduler_jobs",
    Base.metadata,
    Column("id", Unicode(191), primary_key=True),
    Column("next_run_time", Float(25), index=True),
    Column("job_state", LargeBinary, nullable=False),
)
