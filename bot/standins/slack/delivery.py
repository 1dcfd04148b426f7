"""Delivering to the bot: signed POSTs to its Request URL, with Slack's Events API retry rules, all recorded."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

from bot.standins.slack.model import JSON
from bot.standins.slack.signing import sign

log = logging.getLogger(__name__)

FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class Delivery:
    """One HTTP request the stand-in made to the bot, and what came back (`status` None: no HTTP answer)."""

    url: str
    kind: str  # "event", "command", "interactivity" or "url_verification"
    headers: dict[str, str]
    body: bytes
    status: int | None
    response_body: bytes = b""
    response_headers: dict[str, str] = field(default_factory=dict)
    elapsed: float = 0.0
    error: str | None = None  # Slack's retry reason when the attempt failed: http_timeout, http_error, ...

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def retry_num(self) -> int:
        return int(self.headers.get("X-Slack-Retry-Num", "0"))

    @property
    def payload(self) -> JSON:
        """The request body as the bot reads it: the event envelope, the form fields, or the `payload` JSON."""
        if self.headers.get("Content-Type", "").startswith("application/json"):
            parsed: JSON = json.loads(self.body)
            return parsed
        fields = dict(urllib.parse.parse_qsl(self.body.decode()))
        return json.loads(fields["payload"]) if "payload" in fields else dict(fields)

    def response_json(self) -> JSON:
        """The bot's answer parsed as JSON (e.g. a `response_action` or slash-command reply); {} when not JSON."""
        try:
            parsed = json.loads(self.response_body or b"{}")
        except ValueError:
            return {}
        return parsed if isinstance(parsed, dict) else {}


class Deliverer:
    """Posts signed requests to the bot; `timeout`, `max_retries` and `retry_delay` are knobs for tests."""

    def __init__(
        self,
        signing_secret: str,
        request_url: str | None = None,
        *,
        timeout: float = 3.0,
        max_retries: int = 3,
        retry_delay: float = 0.0,
    ) -> None:
        self.signing_secret = signing_secret
        self.request_url = request_url
        # Slack waits 3 s for an HTTP 2xx, then retries up to 3 times (after ~0 s, 1 min, 5 min; we don't wait).
        self.timeout = timeout
        self.max_retries = max_retries
        self.retry_delay = retry_delay
        self._lock = threading.Lock()
        self._records: list[Delivery] = []

    def event(self, envelope: JSON, *, bad_signature: bool = False, timestamp: int | None = None) -> list[Delivery]:
        """Deliver an Events API envelope, retrying as Slack does until the bot answers 2xx in time.

        A tampered delivery (forged signature, stale timestamp) is sent once: the point is to see it rejected.
        """
        if not self.request_url:
            return []  # no Request URL configured: Slack has nowhere to send events, so it sends none
        body = json.dumps(envelope).encode()
        attempts = [self.send("event", body, "application/json", bad_signature=bad_signature, timestamp=timestamp)]
        tampered = bad_signature or timestamp is not None
        while not tampered and attempts[-1].error and len(attempts) <= self.max_retries:
            time.sleep(self.retry_delay)
            retry = {"X-Slack-Retry-Num": str(len(attempts)), "X-Slack-Retry-Reason": attempts[-1].error}
            attempts.append(self.send("event", body, "application/json", extra_headers=retry))
        return attempts

    def form(self, kind: str, fields: dict[str, str]) -> Delivery:
        """Deliver a slash command (the form fields) or an interaction (`payload=` JSON). Slack never retries these:
        a late answer just shows the person an error."""
        return self.send(kind, urllib.parse.urlencode(fields).encode(), FORM)

    def send(
        self,
        kind: str,
        body: bytes,
        content_type: str,
        *,
        bad_signature: bool = False,
        timestamp: int | None = None,
        extra_headers: dict[str, str] | None = None,
    ) -> Delivery:
        """One signed POST to the Request URL, recorded whatever happens."""
        secret = "forged-" + self.signing_secret if bad_signature else self.signing_secret
        headers = {"Content-Type": content_type, "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)"}
        headers |= sign(body, secret, timestamp) | (extra_headers or {})
        delivery = self._post(self.request_url, kind, headers, body)
        log.info("delivered %s: status=%s error=%s %.3fs", kind, delivery.status, delivery.error, delivery.elapsed)
        with self._lock:
            self._records.append(delivery)
        return delivery

    def records(self) -> list[Delivery]:
        """Every delivery so far, oldest first."""
        with self._lock:
            return list(self._records)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()

    def _post(self, url: str | None, kind: str, headers: dict[str, str], body: bytes) -> Delivery:
        if not url:
            return Delivery("", kind, headers, body, None, error="connection_failed")
        started = time.monotonic()
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                status, answer, answer_headers = response.status, response.read(), dict(response.headers)
        except urllib.error.HTTPError as error:
            status, answer, answer_headers = error.code, error.read(), dict(error.headers)
        except (urllib.error.URLError, OSError) as error:
            cause = error.reason if isinstance(error, urllib.error.URLError) else error
            reason = "http_timeout" if isinstance(cause, TimeoutError | socket.timeout) else "connection_failed"
            return Delivery(url, kind, headers, body, None, elapsed=time.monotonic() - started, error=reason)
        elapsed = time.monotonic() - started
        failed = None if 200 <= status < 300 else "http_error"
        return Delivery(url, kind, headers, body, status, answer, answer_headers, elapsed, failed)
