"""views.*: modals the bot opens for a person, spending the trigger_id an interaction gave it."""

from __future__ import annotations

from collections.abc import Callable

from bot.standins.slack.ids import short_id
from bot.standins.slack.model import JSON, SlackError
from bot.standins.slack.web_api.common import Call

_MAX_STACK = 3  # Slack's limit on views pushed over one another


def views_open(call: Call) -> JSON:
    modals = call.workspace.modals
    user_id = modals.redeem_trigger(call.required("trigger_id", "invalid_trigger_id"))
    view = modals.open(user_id, _definition(call))
    return {"view": view.to_api(call.workspace.identity)}


def views_push(call: Call) -> JSON:
    modals = call.workspace.modals
    user_id = modals.redeem_trigger(call.required("trigger_id", "invalid_trigger_id"))
    stack = modals.views(user_id)
    if len(stack) >= _MAX_STACK:
        raise SlackError("push_limit_reached")
    view = modals.open(user_id, _definition(call), previous=stack[-1] if stack else None)
    return {"view": view.to_api(call.workspace.identity)}


def views_update(call: Call) -> JSON:
    view_id, external_id = call.text("view_id"), call.text("external_id")
    if view_id is None and external_id is None:
        raise SlackError("invalid_arguments")
    found = call.workspace.modals.find(view_id=view_id, external_id=external_id)
    if found is None:
        raise SlackError("not_found")
    view = call.workspace.modals.update(found.id, _definition(call), call.text("hash"))
    return {"view": view.to_api(call.workspace.identity)}


def _definition(call: Call) -> JSON:
    view = call.json("view", "invalid_arguments")
    if not isinstance(view, dict) or view.get("type") != "modal" or not view.get("title"):
        raise SlackError("invalid_arguments")
    return _with_ids(view)


def _with_ids(view: JSON) -> JSON:
    """Slack names every block and input element the app left unnamed; state values are keyed by these ids."""
    blocks: list[JSON] = []
    for given in view.get("blocks", []):
        block: JSON = {"block_id": short_id()} | dict(given)
        if isinstance(block.get("element"), dict):
            block["element"] = {"action_id": short_id()} | block["element"]
        blocks.append(block)
    return view | {"blocks": blocks}


METHODS: dict[str, Callable[[Call], JSON]] = {
    "views.open": views_open,
    "views.push": views_push,
    "views.update": views_update,
}
