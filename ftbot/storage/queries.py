"""Read-only queries shared by the bot and the trainer (the caller owns the session)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ftbot.storage.models import Answer, Feedback


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
