"""Pseudonymous references to Slack users: what the database stores instead of their ids."""

from __future__ import annotations

import hashlib

_PREFIX = b"ftbot-slack-user:"


def user_ref(slack_user_id: str) -> str:
    """A stable, non-reversible stand-in for a Slack user id (votes stay one per user without the id)."""
    return "u_" + hashlib.sha256(_PREFIX + slack_user_id.encode()).hexdigest()[:20]
