"""Erasure in the database: find every row that held a value, delete it and what was made from it, mark models.

Two ways in, one way out. `find_values` selects the rows whose keyed hashes (ftbot/personal_keys.py) match a
value, plus rows where the value stands in plain text (the anonymizer missed it); `find_expired` selects the
rows past their source's retention. `erase` deletes a selection and everything made from it: the training
examples that quoted it (as gold answer or as a distractor in a context), the dataset files' lines, answers'
votes and admins' corrections; marks every model version trained on it; and appends one entry to the
erasure log. Data functions: each takes the caller's session and never commits.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Select, delete, func, or_, select, update
from sqlalchemy.orm import Session

from ftbot.personal_keys import SLACK_USER_ID, TYPE_NAMES, PersonalDataKeys
from ftbot.privacy import user_ref
from ftbot.retrieval import split_units
from ftbot.storage.models import (
    AdminSetting,
    Answer,
    ErasureLogEntry,
    Feedback,
    ModelVersion,
    PersonalDataKey,
    Record,
    Source,
    TrainingExample,
    TrainingRun,
    utcnow,
)
from ftbot.storage.queries import count_records
from ftbot.storage.runs import RUNNING, ask_to_stop

# Admins' corrections become knowledge: records of this source, one per corrected answer ("answer 12"),
# retrieved and trained on like a Q&A file (bot/feedback.py).
CORRECTIONS_SOURCE = "feedback:corrections"
# Shorter text than this is never looked for in plain text ("Al" would match half the handbook).
MIN_PLAIN_TEXT = 3
# How much of an erased record's sentence is looked for in training examples (contexts may cut the rest).
NEEDLE_CHARS = 60
ERASED = "erased"


@dataclass
class Selection:
    """Rows to erase, by id, and what kinds of value led to them (for the log: never the value itself)."""

    record_ids: set[int] = field(default_factory=set)
    answer_ids: set[int] = field(default_factory=set)
    feedback_ids: set[int] = field(default_factory=set)
    kinds: set[str] = field(default_factory=set)
    # Plain-text needles: the values themselves, kept only in memory while the erasure runs.
    plain: list[str] = field(default_factory=list, repr=False)
    # Hashed Slack user ids whose votes and requests go too.
    user_refs: set[str] = field(default_factory=set, repr=False)

    def __bool__(self) -> bool:
        return bool(self.record_ids or self.answer_ids or self.feedback_ids or self.user_refs)


@dataclass
class ErasureReport:
    """What one erasure removed and marked. `stored_records` says which vault entries to drop."""

    records: int = 0
    answers: int = 0
    feedback: int = 0
    training_examples: int = 0
    dataset_lines: int = 0
    runs_cancelled: list[int] = field(default_factory=list)
    versions_marked: list[str] = field(default_factory=list)
    adapters_to_delete: list[Path] = field(default_factory=list)
    stored_records: list[tuple[str, str]] = field(default_factory=list, repr=False)  # (source uri, external id)

    def counts(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "answers": self.answers,
            "feedback": self.feedback,
            "training_examples": self.training_examples,
            "dataset_lines": self.dataset_lines,
            "runs_cancelled": self.runs_cancelled,
            "versions_marked": self.versions_marked,
        }


# Selecting ---------------------------------------------------------------------------------------------------


def find_values(
    session: Session, keys: PersonalDataKeys, values: Iterable[str], *, name_parts: bool = True
) -> Selection:
    """Every row that held any of `values`: by its keyed hashes, and by plain text where the anonymizer missed it."""
    selection = Selection()
    for value in values:
        _find(session, keys, value.strip(), name_parts, selection)
    return selection


def _find(session: Session, keys: PersonalDataKeys, value: str, name_parts: bool, selection: Selection) -> None:
    wanted = keys.to_find(value, name_parts=name_parts)
    key = PersonalDataKey
    rows = session.execute(
        select(key.digest, key.record_id, key.answer_id, key.feedback_id).where(key.digest.in_(list(wanted)))
    ).all()
    for digest, record_id, answer_id, feedback_id in rows:
        selection.kinds.add(TYPE_NAMES.get(wanted[digest], wanted[digest].lower()))
        _add(selection.record_ids, record_id)
        _add(selection.answer_ids, answer_id)
        _add(selection.feedback_ids, feedback_id)
    if len(value) >= MIN_PLAIN_TEXT:
        records = _plain(session, value, Record.id, (Record.text, Record.title))
        answers = _plain(session, value, Answer.id, (Answer.question, Answer.answer))
        feedback = _plain(session, value, Feedback.id, (Feedback.reason, Feedback.correction))
        if records or answers or feedback:
            selection.kinds.add("unmasked text")
        selection.record_ids |= records
        selection.answer_ids |= answers
        selection.feedback_ids |= feedback
        selection.plain.append(value)
    if (user := SLACK_USER_ID.match(value)) is not None:
        selection.user_refs.add(user_ref(user.group(1)))
        selection.kinds.add(TYPE_NAMES["SLACK_MENTION"])


def _add(ids: set[int], row_id: int | None) -> None:
    if row_id is not None:
        ids.add(row_id)


def _plain(session: Session, value: str, id_column: Any, columns: tuple[Any, ...]) -> set[int]:
    """Ids of the rows whose columns hold `value` as a whole word, case-insensitively."""
    needle = value.lower()
    query = select(id_column, *columns).where(
        or_(*(func.lower(column).contains(needle, autoescape=True) for column in columns))
    )
    pattern = _whole(value)
    return {row[0] for row in session.execute(query) if any(text and pattern.search(text) for text in row[1:])}


def _whole(value: str) -> re.Pattern[str]:
    return re.compile(rf"(?<!\w){re.escape(value)}(?!\w)", re.IGNORECASE)


def find_expired(session: Session, retention_days: dict[str, float], default_days: float | None) -> Selection:
    """Records (and, with a default, answers) older than their source's retention.

    `retention_days` maps a source's uri to its days; other sources (files ingested by path, corrections)
    and the stored answers keep `default_days` (None: forever). A record's age is its upstream date when the
    source gave one, else when it was stored.
    """
    now = utcnow()
    selection = Selection(kinds={"retention"})
    sources = session.execute(select(Source.id, Source.uri)).all()
    for source_id, uri in sources:
        days = retention_days.get(uri, default_days)
        if days is None:
            continue
        born = func.coalesce(Record.source_created_at, Record.created_at)
        expired = select(Record.id).where(Record.source_id == source_id, born < now - timedelta(days=days))
        selection.record_ids |= set(session.scalars(expired))
    if default_days is not None:
        cutoff = now - timedelta(days=default_days)
        selection.answer_ids |= set(session.scalars(select(Answer.id).where(Answer.created_at < cutoff)))
    return selection


# Erasing -----------------------------------------------------------------------------------------------------


def erase(
    session: Session,
    selection: Selection,
    *,
    reason: str,
    requested_by: str,
    datasets_dir: Path,
    reach_models: bool = True,
) -> ErasureReport:
    """Delete the selection and everything made from it; log the erasure.

    With `reach_models` (a person's request) the versions trained on it are marked and a run training now is
    cancelled, so a retrain replaces them at once. Retention leaves models to the next scheduled run: records
    expire every day, and a retrain for each would never let a run finish.
    """
    report = ErasureReport()
    _with_corrections(session, selection)
    records = session.execute(
        select(Record.id, Record.kind, Record.text, Source.uri, Record.external_id, Record.source_id)
        .join(Source, Source.id == Record.source_id)
        .where(Record.id.in_(selection.record_ids))
    ).all()
    answers = session.execute(select(Answer.question, Answer.answer).where(Answer.id.in_(selection.answer_ids))).all()
    needles = _needles([(kind, text) for _, kind, text, *_ in records], [t for pair in answers for t in pair])
    needles = [needle.lower() for needle in needles + selection.plain]  # matched against lowercased text
    touched = _erase_examples(session, selection.record_ids, needles, report)
    report.dataset_lines = _rewrite_datasets(session, datasets_dir, touched, needles)

    if selection.feedback_ids or selection.user_refs:
        feedback = delete(Feedback).where(
            or_(Feedback.id.in_(selection.feedback_ids), Feedback.user_id.in_(selection.user_refs))
        )
        report.feedback = _rowcount(session.execute(feedback))
    if selection.user_refs:  # who asked for a run or changed a setting: pseudonymous, but theirs
        session.execute(
            update(TrainingRun).where(TrainingRun.requested_by.in_(selection.user_refs)).values(requested_by=ERASED)
        )
        session.execute(
            update(AdminSetting).where(AdminSetting.updated_by.in_(selection.user_refs)).values(updated_by=ERASED)
        )
    if selection.answer_ids:
        report.answers = _rowcount(session.execute(delete(Answer).where(Answer.id.in_(selection.answer_ids))))
    if selection.record_ids:
        report.records = _rowcount(session.execute(delete(Record).where(Record.id.in_(selection.record_ids))))
        for source_id in {row.source_id for row in records}:
            source = session.get_one(Source, source_id)
            source.record_count = count_records(session, source_id)
    report.stored_records = [(row.uri, row.external_id) for row in records]
    # Only what was there to erase reaches the models: a Slack id or a value that matched nothing cancels no run.
    if reach_models and (touched or report.records or report.answers or report.feedback):
        _mark_versions(session, touched, report)
        _cancel_running(session, report)
    session.add(
        ErasureLogEntry(
            reason=reason,
            requested_by=requested_by,
            value_kinds=", ".join(sorted(selection.kinds))[:128] or "nothing found",
            counts=report.counts(),
        )
    )
    session.flush()
    return report


def _with_corrections(session: Session, selection: Selection) -> None:
    """An admin's correction of an erased answer repeats its question: it goes with it."""
    if not selection.answer_ids:
        return
    names = [f"answer {answer_id}" for answer_id in selection.answer_ids]
    corrections = select(Record.id).join(Source).where(Source.uri == CORRECTIONS_SOURCE, Record.external_id.in_(names))
    selection.record_ids |= set(session.scalars(corrections))


def _needles(records: list[tuple[str, str]], answer_texts: list[str]) -> list[str]:
    """Pieces of erased text that a training example quoting them contains (contexts are built from units)."""
    pieces = [unit for kind, text in records for unit in split_units(text, kind)] + answer_texts
    return sorted({piece[:NEEDLE_CHARS] for piece in pieces if len(piece) >= 20})


def _erase_examples(session: Session, record_ids: set[int], needles: list[str], report: ErasureReport) -> set[int]:
    """Delete the training examples made from or quoting erased rows; the ids of the runs that had them."""
    doomed: list[int] = []
    touched: set[int] = set()
    example = TrainingExample
    query: Select[Any] = select(example.id, example.run_id, example.record_id, example.messages)
    for example_id, run_id, record_id, messages in session.execute(query.execution_options(yield_per=1000)):
        if record_id in record_ids or _quotes(messages, needles):
            doomed.append(example_id)
            touched.add(run_id)
    for start in range(0, len(doomed), 500):
        session.execute(delete(TrainingExample).where(TrainingExample.id.in_(doomed[start : start + 500])))
    report.training_examples = len(doomed)
    return touched


def _quotes(messages: list[dict[str, str]], needles: list[str]) -> bool:
    """Whether the example's text holds any of the (lowercase) needles."""
    if not needles:
        return False
    text = "\n".join(str(m.get("content", "")) for m in messages).lower()
    return any(needle in text for needle in needles)


def _rewrite_datasets(session: Session, datasets_dir: Path, run_ids: set[int], needles: list[str]) -> int:
    """Drop the erased examples' lines from the JSONL files of the runs that trained on them."""
    hashes = session.scalars(select(TrainingRun.dataset_hash).where(TrainingRun.id.in_(run_ids))).all()
    removed = 0
    for dataset_hash in {h for h in hashes if h}:
        path = datasets_dir / f"{dataset_hash}.jsonl"
        if not path.exists():
            continue
        lines = path.read_text().splitlines(keepends=True)
        kept = [line for line in lines if not _quotes(json.loads(line)["messages"], needles)]
        if len(kept) != len(lines):
            tmp = path.with_suffix(".jsonl.tmp")
            tmp.write_text("".join(kept))
            tmp.replace(path)
            removed += len(lines) - len(kept)
    return removed


def _mark_versions(session: Session, run_ids: set[int], report: ErasureReport) -> None:
    """Versions trained on erased rows are marked; those not serving lose their adapter now, the active one
    keeps answering until a version trained without the rows has finished (retire_erased)."""
    now = utcnow()
    for version in session.scalars(select(ModelVersion).where(ModelVersion.run_id.in_(run_ids))):
        if version.trained_on_erased_at is None:
            version.trained_on_erased_at = now
            report.versions_marked.append(version.name)
        if not version.is_active and version.adapter_deleted_at is None:
            version.adapter_deleted_at = now
            report.adapters_to_delete.append(Path(version.adapter_path))


def _cancel_running(session: Session, report: ErasureReport) -> None:
    """A run training now may have read the erased rows: it is stopped, and never becomes a version."""
    for run_id in session.scalars(select(TrainingRun.id).where(TrainingRun.status == RUNNING)).all():
        if ask_to_stop(session, run_id, "data it read was erased"):
            report.runs_cancelled.append(run_id)


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


# After the retrain -------------------------------------------------------------------------------------------


def is_erased(version: ModelVersion) -> bool:
    return version.trained_on_erased_at is not None


def erased_versions(session: Session) -> set[str]:
    """Names of the versions trained on erased data."""
    return set(session.scalars(select(ModelVersion.name).where(ModelVersion.trained_on_erased_at.is_not(None))))


def retrain_needed(session: Session) -> bool:
    """The active version was trained on erased data: a run without it must replace it."""
    marked_active = ModelVersion.is_active.is_(True) & ModelVersion.trained_on_erased_at.is_not(None)
    return session.scalar(select(ModelVersion.id).where(marked_active)) is not None


def last_erasure_at(session: Session) -> datetime | None:
    return session.scalar(select(func.max(ErasureLogEntry.at)))


def retire_erased(session: Session) -> list[Path]:
    """After a run trained without erased data: no marked version stays active, and every marked adapter goes.

    Returns the adapter folders to delete once the caller's transaction has committed.
    """
    now = utcnow()
    gone: list[Path] = []
    marked = ModelVersion.trained_on_erased_at.is_not(None) & ModelVersion.adapter_deleted_at.is_(None)
    for version in session.scalars(select(ModelVersion).where(marked)):
        version.is_active = False  # the base model with retrieval answers until a clean version is promoted
        version.adapter_deleted_at = now
        gone.append(Path(version.adapter_path))
    return gone
