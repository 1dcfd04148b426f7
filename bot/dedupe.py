"""One event, one answer: Slack redelivers events it thinks were missed (and Socket Mode hides the retry
headers), so each event id is claimed once in the database, which every replica shares."""

from __future__ import annotations

import itertools
from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from ftbot.storage.db import Database
from ftbot.storage.models import SlackEvent, utcnow

# Slack retries within minutes; a day of ids is plenty and keeps the table small.
KEEP = timedelta(days=1)
PRUNE_EVERY = 1000
_claims = itertools.count()


def claim_event(db: Database, event_id: str) -> bool:
    """True the first time an event id is seen, False for every redelivery."""
    if next(_claims) % PRUNE_EVERY == 0:  # the first claim of a process, then every PRUNE_EVERY-th
        forget_old_events(db)
    try:
        with db.session() as session:
            session.add(SlackEvent(event_id=event_id))
    except IntegrityError:
        return False
    return True


def forget_old_events(db: Database) -> int:
    """Drop event ids older than KEEP; returns how many."""
    with db.session() as session:
        result = session.execute(delete(SlackEvent).where(SlackEvent.received_at < utcnow() - KEEP))
        return int(getattr(result, "rowcount", 0) or 0)
