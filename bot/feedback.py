"""Votes and corrections on the bot's answers: one vote per user per answer, the latest wins.

Data functions: each takes the caller's session and never commits. Text that people type (a reason, a
correction) arrives here already anonymized.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from connectors.store import replace_record, source_for
from ftbot.records import Message, RawRecord
from ftbot.storage.erasure import CORRECTIONS_SOURCE
from ftbot.storage.keys import add_keys, keys_of, set_keys
from ftbot.storage.models import Answer, Feedback, utcnow
from ftbot.storage.queries import count_records

# Reactions that count as votes on the bot's answers.
REACTION_VOTES = {"+1": 1, "thumbsup": 1, "white_check_mark": 1, "-1": -1, "thumbsdown": -1}


def reaction_vote(reaction: str) -> int | None:
    """+1/-1 for a voting reaction (skin tones ignored: `+1::skin-tone-3`), None for any other."""
    return REACTION_VOTES.get(reaction.split("::")[0])


def answer_for_message(session: Session, channel: str, ts: str) -> Answer | None:
    """The answer the bot posted as Slack message (channel, ts), if it is one of its answers."""
    return session.scalar(select(Answer).where(Answer.slack_channel == channel, Answer.slack_ts == ts))


def record_vote(session: Session, answer_id: int, user: str, vote: int, via: str) -> Feedback:
    """Set `user`'s vote on an answer; a second vote replaces the first (reason and correction kept)."""
    row = session.scalar(select(Feedback).where(Feedback.answer_id == answer_id, Feedback.user_id == user))
    if row is None:
        row = Feedback(answer_id=answer_id, user_id=user, vote=vote, via=via)
        session.add(row)
    else:
        if row.vote != vote:  # a reason given for the old vote no longer applies
            row.reason = None
        row.vote, row.via, row.created_at = vote, via, utcnow()
    session.flush()
    return row


def remove_vote(session: Session, answer_id: int, user: str, vote: int) -> bool:
    """A removed reaction takes back the vote it cast; a vote cast since (other sign) stays. True if removed."""
    result = session.execute(
        delete(Feedback).where(Feedback.answer_id == answer_id, Feedback.user_id == user, Feedback.vote == vote)
    )
    return bool(getattr(result, "rowcount", 0))


def record_reason(
    session: Session, answer_id: int, user: str, reason: str, correction: str, digests: Iterable[str] = ()
) -> Feedback:
    """A 👎's reason and (from an admin) the correct answer, which also becomes a retrievable record.

    `digests`: the keyed hashes of the personal data the anonymizer took out of the reason and correction.
    """
    row = record_vote(session, answer_id, user, -1, via="modal")
    row.reason = reason or row.reason
    digests = set(digests)
    add_keys(session, digests - keys_of(session, feedback_id=row.id), feedback_id=row.id)  # keeps earlier reasons' keys
    if correction:
        row.correction = correction
        answer = session.get_one(Answer, answer_id)
        _store_correction(session, answer, correction, keys_of(session, answer_id=answer_id) | digests)
    return row


def _store_correction(session: Session, answer: Answer, correction: str, digests: set[str]) -> None:
    """The corrected Q&A pair, as a record of the corrections source (the latest correction per answer wins).

    It is embedded on the next index load and trained on by the next run; the previous version keeps
    answering until then, so a correction takes effect with the version that learned it.
    """
    source = source_for(session, CORRECTIONS_SOURCE, "feedback")
    pair = RawRecord(
        f"answer {answer.id}",
        "qa",
        "Correction",
        messages=(Message("user", answer.question), Message("assistant", correction)),
    )
    # Stored as an ingested Q&A pair is: the same columns, "Q: … A: …" text and content hash.
    record = replace_record(session, source.id, pair)
    set_keys(session, digests, record_id=record.id)  # the question's personal data and the correction's
    source.record_count = count_records(session, source.id)
    source.last_synced_at = utcnow()
    session.flush()
