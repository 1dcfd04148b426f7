"""Modals: the trigger_ids interactions hand out, and the views the bot opens, pushes and updates with them."""

from __future__ import annotations

import copy
import secrets
import threading
import time

from bot.standins.slack.ids import new_id, trigger_id
from bot.standins.slack.model import JSON, SlackError, View


class Modals:
    """Open views per person, and the triggers that may still open one. Thread-safe; readers get copies."""

    def __init__(self, trigger_ttl: float = 3.0) -> None:
        # Slack lets a trigger_id open a modal for 3 seconds only; a slow bot should learn that here, not in prod.
        self.trigger_ttl = trigger_ttl
        self._lock = threading.Lock()
        self._views: dict[str, View] = {}
        self._triggers: dict[str, tuple[str, float]] = {}

    def issue_trigger(self, user_id: str) -> str:
        """A trigger_id, as Slack attaches to every interaction; the bot spends it to open a modal."""
        trigger = trigger_id()
        with self._lock:
            self._triggers[trigger] = (user_id, time.monotonic())
        return trigger

    def redeem_trigger(self, trigger: str) -> str:
        """The user a trigger belongs to; each trigger works once, within `trigger_ttl` seconds."""
        with self._lock:
            if trigger not in self._triggers:
                raise SlackError("invalid_trigger_id")
            user_id, issued = self._triggers.pop(trigger)
        if time.monotonic() - issued > self.trigger_ttl:
            raise SlackError("expired_trigger_id")
        return user_id

    def open(self, user_id: str, definition: JSON, previous: View | None = None) -> View:
        """Open a view for a person; with `previous`, push it over that one (views.push)."""
        view_id = new_id("V")
        root = previous.root_view_id if previous else view_id
        view = View(view_id, user_id, definition, secrets.token_hex(8), root, previous.id if previous else None)
        with self._lock:
            self._views[view.id] = view
        return copy.deepcopy(view)

    def update(self, view_id: str, definition: JSON, expected_hash: str | None = None) -> View:
        with self._lock:
            view = self._views.get(view_id)
            if view is None:
                raise SlackError("not_found")
            if expected_hash and expected_hash != view.hash:
                raise SlackError("hash_conflict")
            view.definition, view.hash = definition, secrets.token_hex(8)
            return copy.deepcopy(view)

    def find(self, *, view_id: str | None = None, external_id: str | None = None) -> View | None:
        with self._lock:
            found = (
                v for v in self._views.values() if v.id == view_id or v.definition.get("external_id") == external_id
            )
            return copy.deepcopy(next(found, None))

    def close(self, view_id: str) -> None:
        with self._lock:
            self._views.pop(view_id, None)

    def views(self, user_id: str | None = None) -> list[View]:
        """Open views, oldest first; a pushed view comes after the view it was pushed over."""
        with self._lock:
            return copy.deepcopy([v for v in self._views.values() if user_id in (None, v.user)])
