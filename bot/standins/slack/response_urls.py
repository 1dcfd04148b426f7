"""Slack's response_url: where the bot answers an interaction later, in the channel, to one person, or by
replacing or deleting the message that was clicked."""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass

from bot.standins.slack.model import JSON
from bot.standins.slack.workspace import Workspace


@dataclass(frozen=True)
class ResponseTarget:
    channel_id: str
    user_id: str
    message_ts: str | None = None  # the message a button was clicked on; slash commands have none
    ephemeral: bool = False


class ResponseUrls:
    """Issues response URLs on the stand-in and applies what the bot POSTs to them."""

    def __init__(self, workspace: Workspace) -> None:
        self._workspace = workspace
        self._lock = threading.Lock()
        self._targets: dict[str, ResponseTarget] = {}

    def issue(self, target: ResponseTarget) -> str:
        key = secrets.token_urlsafe(12)
        with self._lock:
            self._targets[key] = target
        return f"{self._workspace.base_url}_standin/respond/{key}"

    def respond(self, key: str, body: JSON) -> bool:
        """Apply one response; False when the URL was never issued."""
        with self._lock:
            target = self._targets.get(key)
        if target is None:
            return False
        ws, bot = self._workspace, self._workspace.identity.bot_user_id
        text, blocks, thread_ts = str(body.get("text") or ""), body.get("blocks"), body.get("thread_ts")
        original = target.message_ts
        if original and body.get("delete_original"):
            if target.ephemeral:
                ws.delete_ephemeral(target.user_id, original)
            else:
                ws.delete(target.channel_id, original)
        elif original and body.get("replace_original"):
            if target.ephemeral:
                ws.replace_ephemeral(target.user_id, original, text, blocks)
            else:
                ws.edit(target.channel_id, original, bot, text, blocks=blocks or [])
        elif body.get("response_type") == "in_channel":
            ws.post(target.channel_id, bot, text, blocks=blocks, thread_ts=thread_ts)
        else:
            # Slack's default response_type is ephemeral: only the person who acted sees it.
            ws.post_ephemeral(target.channel_id, target.user_id, text, blocks=blocks, thread_ts=thread_ts)
        return True
