"""Who may run /finetune: the user ids in FTBOT_ADMINS, or the workspace's admins and owners."""

from __future__ import annotations

import logging
import time

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

log = logging.getLogger(__name__)


class AdminCheck:
    """Answers "is this user an admin?", asking Slack (users.info) at most every `ttl_s` per user."""

    def __init__(self, admins: tuple[str, ...], client: WebClient, ttl_s: float = 300.0) -> None:
        self.admins, self.client, self.ttl_s = frozenset(admins), client, ttl_s
        self._cache: dict[str, tuple[float, bool]] = {}

    def __call__(self, user_id: str) -> bool:
        if user_id in self.admins:
            return True
        cached = self._cache.get(user_id)
        if cached and time.monotonic() - cached[0] < self.ttl_s:
            return cached[1]
        try:
            user = self.client.users_info(user=user_id)["user"]
        except SlackApiError as error:  # can't tell: refuse, the safe side
            log.warning("users.info failed for an admin check: %s", error.response.get("error"))
            return False
        is_admin = bool(user.get("is_admin") or user.get("is_owner"))
        self._cache[user_id] = (time.monotonic(), is_admin)
        return is_admin
