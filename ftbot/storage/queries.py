"""Read-only queries shared by the bot and the trainer (the caller owns the session)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ftbot.storage.models import Answer, Feedback, Record, Source, TrainingRun


@dataclass(frozen=True)
class AnswerVotes:
    answer_id: int
    question: str
    answer: str
    model_version: str
    score: int  # sum of votes
    reasons: list[str]
    corrected: bool
    created_at: datetime


def voted_answers(session: Session) -> list[AnswerVotes]:
    """Every answer with at least one vote, newest first."""
    rows = session.execute(
        select(Answer, Feedback).join(Feedback, Feedback.answer_id == Answer.id).order_by(Answer.id.desc())
    ).all()
    by_answer: dict[int, tuple[Answer, list[Feedback]]] = {}
    for answer, feedback in rows:
        by_answer.setdefault(answer.id, (answer, []))[1].append(feedback)
    return [
        AnswerVotes(
            answer.id,
            answer.question,
            answer.answer,
            answer.model_version,
            sum(f.vote for f in votes),
            [f.reason for f in votes if f.reason],
            any(f.correction for f in votes),
            answer.created_at,
        )
        for answer, votes in by_answer.values()
    ]


def upvoted(session: Session) -> list[AnswerVotes]:
    """Answers people found helpful (more 👍 than 👎) and nobody corrected: trained on, weighted."""
    return [v for v in voted_answers(session) if v.score > 0 and not v.corrected]


def needs_review(session: Session) -> list[AnswerVotes]:
    """Answers voted down that no admin has corrected yet: left out of training, listed for admins."""
    return [v for v in voted_answers(session) if v.score < 0 and not v.corrected]


@dataclass(frozen=True)
class StoreCounts:
    """What `ftbot status` shows: how much is stored, and the latest training run."""

    sources: int
    records_by_kind: dict[str, int]
    answers: int
    last_run: TrainingRun | None


def store_counts(session: Session) -> StoreCounts:
    by_kind = {kind: n for kind, n in session.execute(select(Record.kind, func.count()).group_by(Record.kind))}
    return StoreCounts(
        sources=session.scalar(select(func.count()).select_from(Source)) or 0,
        records_by_kind=by_kind,
        answers=session.scalar(select(func.count()).select_from(Answer)) or 0,
        last_run=session.scalar(select(TrainingRun).order_by(TrainingRun.id.desc()).limit(1)),
    )


def source_by_uri(session: Session, uri: str) -> Source | None:
    return session.scalar(select(Source).where(Source.uri == uri))


def count_records(session: Session, source_id: int) -> int:
    """How many records a source holds now (for `sources.record_count`)."""
    return session.scalar(select(func.count()).where(Record.source_id == source_id)) or 0
