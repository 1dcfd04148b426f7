"""Slack's v0 request signature: the headers that prove a request to the bot came from Slack."""

from __future__ import annotations

import hashlib
import hmac
import time


def signature(body: bytes, secret: str, timestamp: int) -> str:
    """`v0=` + hex HMAC-SHA256 of `v0:{timestamp}:{body}`, keyed with the app's signing secret."""
    base = b"v0:" + str(timestamp).encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def sign(body: bytes, secret: str, timestamp: int | None = None) -> dict[str, str]:
    """The X-Slack-Signature and X-Slack-Request-Timestamp headers Slack sends with `body` (now, unless told)."""
    when = int(time.time()) if timestamp is None else timestamp
    return {"X-Slack-Request-Timestamp": str(when), "X-Slack-Signature": signature(body, secret, when)}
