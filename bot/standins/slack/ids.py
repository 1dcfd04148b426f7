"""Ids shaped like Slack's, so code that checks a prefix (C…, D…, U…, V…, F…, Ev…) sees familiar values."""

from __future__ import annotations

import secrets
import string
import time

_ALPHABET = string.ascii_uppercase + string.digits


def new_id(prefix: str) -> str:
    """A type prefix, then ten upper-case letters and digits."""
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(10))


def short_id() -> str:
    """The short lower-case ids Slack gives blocks and elements the app left unnamed."""
    return "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(5))


def trigger_id() -> str:
    """Like Slack's "1234567890.1234567890.0123456789abcdef…"."""
    return f"{int(time.time())}.{secrets.randbelow(10**12)}.{secrets.token_hex(16)}"
