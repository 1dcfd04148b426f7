"""The keyed hashes stored beside a row (ftbot/personal_keys.py), by which `ftbot forget` finds it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ftbot.storage.models import PersonalDataKey


def set_keys(
    session: Session,
    digests: Iterable[str],
    *,
    record_id: int | None = None,
    answer_id: int | None = None,
    feedback_id: int | None = None,
) -> None:
    """Make `digests` the row's keys (replacing what it had): exactly one row id is given."""
    column, row_id = _owner(record_id, answer_id, feedback_id)
    session.execute(delete(PersonalDataKey).where(column == row_id))
    add_keys(session, digests, **{column.key: row_id})


def add_keys(
    session: Session,
    digests: Iterable[str],
    *,
    record_id: int | None = None,
    answer_id: int | None = None,
    feedback_id: int | None = None,
) -> None:
    """Keys for a row that has none yet (just inserted): exactly one row id is given."""
    column, row_id = _owner(record_id, answer_id, feedback_id)
    session.add_all(PersonalDataKey(digest=digest, **{column.key: row_id}) for digest in sorted(set(digests)))


def keys_of(
    session: Session, *, record_id: int | None = None, answer_id: int | None = None, feedback_id: int | None = None
) -> set[str]:
    """The keys stored beside one row (exactly one row id is given)."""
    column, row_id = _owner(record_id, answer_id, feedback_id)
    return set(session.scalars(select(PersonalDataKey.digest).where(column == row_id)))


def _owner(record_id: int | None, answer_id: int | None, feedback_id: int | None) -> tuple[Any, int]:
    owners = [
        (column, row_id)
        for column, row_id in (
            (PersonalDataKey.record_id, record_id),
            (PersonalDataKey.answer_id, answer_id),
            (PersonalDataKey.feedback_id, feedback_id),
        )
        if row_id is not None
    ]
    if len(owners) != 1:
        raise ValueError("give exactly one of record_id, answer_id, feedback_id")
    return owners[0]
