"""Rate limiting on demand: chosen Web API methods answer HTTP 429 with Retry-After, as Slack does when pushed."""

from __future__ import annotations

import threading


class RateLimits:
    """Counts down the calls still to be refused, per method."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[str, tuple[int, int]] = {}  # method -> (calls left to refuse, Retry-After seconds)

    def limit(self, method: str, times: int = 1, retry_after: int = 1) -> None:
        """Refuse the next `times` calls to `method`, asking the client to wait `retry_after` seconds."""
        with self._lock:
            self._pending[method] = (times, retry_after)

    def take(self, method: str) -> int | None:
        """For a call that must be refused, the Retry-After to send; None lets the call through."""
        with self._lock:
            times, retry_after = self._pending.get(method, (0, 0))
            if times <= 0:
                return None
            self._pending[method] = (times - 1, retry_after)
            return retry_after
