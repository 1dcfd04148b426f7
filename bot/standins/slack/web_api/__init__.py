"""The stand-in's Web API: method name -> a small function over the workspace, answering in Slack's JSON."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.standins.slack.model import JSON, SlackError
from bot.standins.slack.web_api import chat, conversations, files, views
from bot.standins.slack.web_api.common import Call
from bot.standins.slack.workspace import Workspace

METHODS: dict[str, Callable[[Call], JSON]] = chat.METHODS | conversations.METHODS | views.METHODS | files.METHODS


def call_method(workspace: Workspace, method: str, args: dict[str, Any]) -> JSON:
    """Run one Web API method; failures come back as Slack's {"ok": false, "error": ...}, never as exceptions."""
    function = METHODS.get(method)
    if function is None:
        return {"ok": False, "error": "unknown_method", "req_method": method}
    try:
        return {"ok": True} | function(Call(workspace, args))
    except SlackError as error:
        return {"ok": False, "error": error.error}


__all__ = ["METHODS", "call_method"]
