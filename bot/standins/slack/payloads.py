"""What Slack sends to an app, built as plain data: Events API envelopes, slash-command forms, interactivity."""

from __future__ import annotations

import base64
import json
import re
import time
import uuid

from bot.standins.slack.ids import new_id, short_id
from bot.standins.slack.model import JSON, Channel, Identity, User

_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
# Fields the Web API adds to a stored message that an event about a new message doesn't carry.
_STORED_ONLY = {"reply_count", "reply_users", "reply_users_count", "latest_reply", "is_locked", "reactions"}


def event_envelope(identity: Identity, event: JSON, event_id: str | None = None) -> JSON:
    """The `event_callback` wrapper every Events API delivery has; a retry re-sends it with the same event_id."""
    authorization = {
        "enterprise_id": None,
        "team_id": identity.team_id,
        "user_id": identity.bot_user_id,
        "is_bot": True,
        "is_enterprise_install": False,
    }
    return {
        "token": identity.verification_token,
        "team_id": identity.team_id,
        "context_team_id": identity.team_id,
        "context_enterprise_id": None,
        "api_app_id": identity.app_id,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or new_id("Ev"),
        "event_time": int(time.time()),
        "authorizations": [authorization],
        "is_ext_shared_channel": False,
        "event_context": _event_context(identity, event),
    }


def url_verification(identity: Identity, challenge: str) -> JSON:
    """The handshake Slack sends when a Request URL is saved; the app must echo `challenge`."""
    return {"token": identity.verification_token, "challenge": challenge, "type": "url_verification"}


def rich_text_blocks(text: str) -> list[JSON]:
    """The rich_text block Slack's clients attach to what a person types, mentions as `user` elements."""
    elements: list[JSON] = []
    position = 0
    for match in _MENTION.finditer(text):
        if match.start() > position:
            elements.append({"type": "text", "text": text[position : match.start()]})
        elements.append({"type": "user", "user_id": match.group(1)})
        position = match.end()
    if position < len(text):
        elements.append({"type": "text", "text": text[position:]})
    section = {"type": "rich_text_section", "elements": elements}
    return [{"type": "rich_text", "block_id": short_id(), "elements": [section]}]


def mentions(text: str) -> list[str]:
    """User ids mentioned as `<@U…>` in message text."""
    return _MENTION.findall(text)


def message_event(message: JSON, channel: Channel) -> JSON:
    """A `message` event (message.channels / .groups / .im) for a message someone just posted."""
    event = {k: v for k, v in message.items() if k not in _STORED_ONLY}
    event |= {"channel": channel.id, "event_ts": message["ts"], "channel_type": channel.channel_type}
    if "bot_id" not in message:
        event.setdefault("client_msg_id", str(uuid.uuid4()))
    return event


def app_mention_event(message_event_: JSON) -> JSON:
    """The `app_mention` event Slack sends alongside the `message` event when a message names the bot."""
    event = {k: v for k, v in message_event_.items() if k != "channel_type"}
    return event | {"type": "app_mention"}


def message_changed_event(before: JSON, after: JSON, channel: Channel, event_ts: str) -> JSON:
    """The `message` event with subtype `message_changed` sent when someone edits a message."""
    message = {k: v for k, v in after.items() if k not in _STORED_ONLY}
    previous = {k: v for k, v in before.items() if k not in _STORED_ONLY}
    return {
        "type": "message",
        "subtype": "message_changed",
        "message": message,
        "previous_message": previous,
        "channel": channel.id,
        "hidden": True,
        "ts": event_ts,
        "event_ts": event_ts,
        "channel_type": channel.channel_type,
    }


def reaction_event(added: bool, user_id: str, name: str, channel_id: str, item_ts: str, item_user: str) -> JSON:
    """`reaction_added` or `reaction_removed` on a message."""
    return {
        "type": "reaction_added" if added else "reaction_removed",
        "user": user_id,
        "reaction": name,
        "item": {"type": "message", "channel": channel_id, "ts": item_ts},
        "item_user": item_user,
        "event_ts": f"{time.time():.6f}",
    }


def slash_command_form(
    identity: Identity, user: User, channel: Channel, command: str, text: str, response_url: str, trigger_id: str
) -> dict[str, str]:
    """The form fields of a slash-command request, in Slack's order."""
    return {
        "token": identity.verification_token,
        "team_id": identity.team_id,
        "team_domain": identity.team_domain,
        "channel_id": channel.id,
        "channel_name": "directmessage" if channel.kind == "im" else channel.name,
        "user_id": user.id,
        "user_name": user.name,
        "command": command,
        "text": text,
        "api_app_id": identity.app_id,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id,
    }


def block_actions_payload(
    identity: Identity,
    user: User,
    channel: Channel,
    message: JSON,
    action: JSON,
    *,
    ephemeral: bool,
    trigger_id: str,
    response_url: str,
) -> JSON:
    """The `block_actions` payload for a click on a message's button; ephemeral messages carry no `message`."""
    container: JSON = {"type": "message", "message_ts": message["ts"], "channel_id": channel.id}
    container |= {"is_ephemeral": ephemeral}
    if message.get("thread_ts"):
        container["thread_ts"] = message["thread_ts"]
    payload: JSON = {
        "type": "block_actions",
        "user": _user_ref(identity, user),
        "api_app_id": identity.app_id,
        "token": identity.verification_token,
        "container": container,
        "trigger_id": trigger_id,
        "team": {"id": identity.team_id, "domain": identity.team_domain},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel.id, "name": "directmessage" if channel.kind == "im" else channel.name},
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [action | {"action_ts": f"{time.time():.6f}"}],
    }
    if not ephemeral:
        payload["message"] = message
    return payload


def view_submission_payload(identity: Identity, user: User, view: JSON, trigger_id: str) -> JSON:
    """The `view_submission` payload for a modal; `view.state.values` holds what the person typed."""
    return {
        "type": "view_submission",
        "team": {"id": identity.team_id, "domain": identity.team_domain},
        "user": _user_ref(identity, user),
        "api_app_id": identity.app_id,
        "token": identity.verification_token,
        "trigger_id": trigger_id,
        "view": view,
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }


def state_values(blocks: list[JSON], typed: dict[str, dict[str, object]]) -> JSON:
    """Slack's `view.state.values` for a modal's input blocks: block_id -> action_id -> typed element value.

    A plain string is a plain_text_input's value; a dict (e.g. {"selected_option": ...}) is passed as is.
    Inputs left empty are `null`, as Slack sends them.
    """
    values: JSON = {}
    for block in blocks:
        element = block.get("element")
        if block.get("type") != "input" or not isinstance(element, dict):
            continue
        block_id, action_id = block.get("block_id", ""), element.get("action_id", "")
        given = typed.get(block_id, {}).get(action_id)
        entry: JSON = {"type": element.get("type", "plain_text_input")}
        entry |= given if isinstance(given, dict) else {"value": given}
        values.setdefault(block_id, {})[action_id] = entry
    return values


def _user_ref(identity: Identity, user: User) -> JSON:
    return {"id": user.id, "username": user.name, "name": user.name, "team_id": identity.team_id}


def _event_context(identity: Identity, event: JSON) -> str:
    # Opaque to apps (only apps.event.authorizations.list reads it); shaped like Slack's "4-eyJ…" string.
    context = {"et": event.get("type"), "tid": identity.team_id, "aid": identity.app_id, "cid": event.get("channel")}
    return "4-" + base64.urlsafe_b64encode(json.dumps(context).encode()).decode().rstrip("=")
