"""What every Web API method needs: typed access to its arguments, and Slack's cursor pagination."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from bot.standins.slack.model import JSON, Channel, SlackError
from bot.standins.slack.workspace import Workspace

T = TypeVar("T")


@dataclass(frozen=True)
class Call:
    """One Web API call: the workspace it acts on and its arguments, merged from query, form and JSON body."""

    workspace: Workspace
    args: dict[str, Any]

    def text(self, name: str) -> str | None:
        value = self.args.get(name)
        return None if value is None or value == "" else str(value)

    def required(self, name: str, error: str = "invalid_arguments") -> str:
        value = self.text(name)
        if value is None:
            raise SlackError(error)
        return value

    def number(self, name: str, default: int) -> int:
        try:
            return int(self.args.get(name) or default)
        except (TypeError, ValueError) as error:
            raise SlackError("invalid_arguments") from error

    def flag(self, name: str) -> bool:
        return str(self.args.get(name, "")).lower() in ("1", "true")

    def json(self, name: str, error: str = "invalid_arguments") -> Any:
        """An argument that is JSON: a list/dict in JSON bodies, a JSON string in form bodies (blocks, view, files)."""
        value = self.args.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError as decode_error:
                raise SlackError(error) from decode_error
        return value  # an empty list stays empty: chat.update(blocks=[]) removes the blocks

    def blocks(self, name: str = "blocks") -> list[JSON] | None:
        value = self.json(name, "invalid_blocks")
        if value is not None and not isinstance(value, list):
            raise SlackError("invalid_blocks")
        return value

    def channel(self, name: str = "channel") -> Channel:
        channel = self.workspace.channel(self.required(name, "channel_not_found"))
        if channel is None:
            raise SlackError("channel_not_found")
        return channel

    def bot_in(self, channel: Channel) -> None:
        """Bots read and write only where they are members, as Slack's not_in_channel enforces."""
        if self.workspace.identity.bot_user_id not in channel.members:
            raise SlackError("not_in_channel")


def paginate(call: Call, items: Sequence[T], key: Callable[[T], str], default_limit: int) -> tuple[list[T], JSON]:
    """One page of `items` by `limit` and `cursor`; returns the page and `has_more` + `response_metadata`.

    The cursor names the first item of the next page (as Slack's `next_ts:…` cursors do), so a message
    posted between two calls doesn't shift the pages.
    """
    limit = max(1, call.number("limit", default_limit))
    start = 0
    if cursor := call.text("cursor"):
        wanted = _decode_cursor(cursor)
        start = next((i for i, item in enumerate(items) if key(item) == wanted), -1)
        if start < 0:
            raise SlackError("invalid_cursor")
    page = list(items[start : start + limit])
    more = start + limit < len(items)
    next_cursor = _encode_cursor(key(items[start + limit])) if more else ""
    return page, {"has_more": more, "response_metadata": {"next_cursor": next_cursor}}


def _encode_cursor(key: str) -> str:
    return base64.b64encode(f"next:{key}".encode()).decode()


def _decode_cursor(cursor: str) -> str:
    try:
        return base64.b64decode(cursor, validate=True).decode().removeprefix("next:")
    except (binascii.Error, UnicodeDecodeError) as error:
        raise SlackError("invalid_cursor") from error
