"""The web chat's endpoints under /_standin/: a state snapshot to poll, and one endpoint per thing a person does."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from bot.standins.slack.model import JSON, SlackError

if TYPE_CHECKING:
    from bot.standins.slack.surface import StandInSurface

_AT_NAME = re.compile(r"@([\w.-]+)")


def handle(standin: StandInSurface, name: str, query: dict[str, str], body: bytes) -> tuple[int, JSON]:
    """Answer /_standin/<name>: `state` for the page to poll, the rest act as the chosen person."""
    try:
        if name == "state":
            return 200, state(standin, query.get("user", ""), query.get("channel", ""))
        request: dict[str, Any] = json.loads(body or b"{}")
        action = _ACTIONS.get(name)
        if action is None:
            return 404, {"ok": False, "error": "unknown_action"}
        return 200, {"ok": True} | action(standin, request)
    except (SlackError, ValueError, KeyError) as error:
        return 400, {"ok": False, "error": str(error)}


def state(standin: StandInSurface, user_id: str, channel_id: str) -> JSON:
    """What the page shows one person: people, their channels, one channel with threads, their modals."""
    ws = standin.workspace
    channels = [c for c in ws.channels() if user_id in c.members]
    label = {c.id: f"DM with {ws.identity.bot_name}" if c.kind == "im" else f"#{c.name}" for c in channels}
    messages: list[JSON] = []
    if channel_id in label:
        messages = [m | {"replies": standin.replies(channel_id, m["ts"])} for m in ws.history(channel_id)]
    users = [{"id": u.id, "name": u.name, "real_name": u.real_name, "is_admin": u.is_admin} for u in ws.users()]
    return {
        "bot_user_id": ws.identity.bot_user_id,
        "users": users,
        "channels": [{"id": c.id, "label": label[c.id]} for c in channels],
        "messages": messages,
        "ephemerals": [e.to_api() for e in ws.ephemerals(user_id) if e.channel == channel_id],
        "views": standin.views(user_id),
    }


def _post(standin: StandInSurface, request: dict[str, Any]) -> JSON:
    # A message starting with "/" is a slash command, as in Slack's composer.
    text, user, channel = str(request["text"]).strip(), request["user"], request["channel"]
    if text.startswith("/"):
        command, _, rest = text.partition(" ")
        return {"ack": standin.slash_command(user, channel, command, rest)}
    names = {u.name: u.id for u in standin.workspace.users()}
    text = _AT_NAME.sub(lambda m: f"<@{names[m.group(1)]}>" if m.group(1) in names else m.group(0), text)
    return {"ts": standin.post_message(user, channel, text, request.get("thread_ts") or None).ts}


def _click(standin: StandInSurface, request: dict[str, Any]) -> JSON:
    result = standin.click_button(
        request["user"], request["channel"], request["ts"], request["action_id"], block_id=request.get("block_id")
    )
    return {"status": result.deliveries[-1].status}


def _react(standin: StandInSurface, request: dict[str, Any]) -> JSON:
    user, channel, ts, name = request["user"], request["channel"], request["ts"], request["name"]
    message = standin.workspace.message(channel, ts)
    if message is None:
        raise SlackError("message_not_found")
    # Clicking a reaction you already gave takes it back, as in Slack.
    toggle = standin.remove_reaction if user in message.reactions.get(name, []) else standin.add_reaction
    toggle(user, channel, ts, name)
    return {}


def _submit(standin: StandInSurface, request: dict[str, Any]) -> JSON:
    result = standin.submit_view(request["user"], request["view_id"], request.get("values", {}))
    return {"response": result.response}


def _close(standin: StandInSurface, request: dict[str, Any]) -> JSON:
    standin.workspace.modals.close(request["view_id"])
    return {}


_ACTIONS = {"post": _post, "click": _click, "react": _react, "submit": _submit, "close": _close}
