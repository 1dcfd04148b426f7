"""chat.* and reactions.*: the bot writing, changing and reacting to messages."""

from __future__ import annotations

from collections.abc import Callable

from bot.standins.slack.model import JSON, Channel, Message, SlackError
from bot.standins.slack.web_api.common import Call


def post_message(call: Call) -> JSON:
    ws = call.workspace
    channel = _target(call)
    call.bot_in(channel)
    text, blocks, attachments = call.text("text") or "", call.blocks(), call.json("attachments")
    if not (text or blocks or attachments):
        raise SlackError("no_text")
    message = ws.post(
        channel.id,
        ws.identity.bot_user_id,
        text,
        thread_ts=call.text("thread_ts"),
        blocks=blocks,
        attachments=attachments,
        reply_broadcast=call.flag("reply_broadcast"),
    )
    return {"channel": channel.id, "ts": message.ts, "message": ws.message_json(message)}


def update(call: Call) -> JSON:
    ws = call.workspace
    channel, ts = call.channel(), call.required("ts", "message_not_found")
    old = _own_message(call, channel, ts, "cant_update_message")
    # Slack keeps the old text/blocks/attachments when an update leaves them out.
    text = call.text("text") if "text" in call.args else old.text
    blocks, attachments = call.blocks(), call.json("attachments")
    message = ws.edit(channel.id, ts, ws.identity.bot_user_id, text or "", blocks=blocks, attachments=attachments)
    return {"channel": channel.id, "ts": ts, "text": message.text, "message": ws.message_json(message)}


def delete(call: Call) -> JSON:
    channel, ts = call.channel(), call.required("ts", "message_not_found")
    _own_message(call, channel, ts, "cant_delete_message")
    call.workspace.delete(channel.id, ts)
    return {"channel": channel.id, "ts": ts}


def post_ephemeral(call: Call) -> JSON:
    channel = call.channel()
    call.bot_in(channel)
    user = call.required("user", "user_not_found")
    text, blocks = call.text("text") or "", call.blocks()
    if not (text or blocks):
        raise SlackError("no_text")
    ephemeral = call.workspace.post_ephemeral(channel.id, user, text, blocks=blocks, thread_ts=call.text("thread_ts"))
    return {"message_ts": ephemeral.ts}


def get_permalink(call: Call) -> JSON:
    channel, ts = call.channel(), call.required("message_ts", "message_not_found")
    if call.workspace.message(channel.id, ts) is None:
        raise SlackError("message_not_found")
    link = f"{call.workspace.base_url}archives/{channel.id}/p{ts.replace('.', '')}"
    return {"channel": channel.id, "permalink": link}


def add_reaction(call: Call) -> JSON:
    channel, ts, name = _reaction_target(call)
    call.workspace.react(channel.id, ts, name, call.workspace.identity.bot_user_id)
    return {}


def remove_reaction(call: Call) -> JSON:
    channel, ts, name = _reaction_target(call)
    call.workspace.unreact(channel.id, ts, name, call.workspace.identity.bot_user_id)
    return {}


def get_reactions(call: Call) -> JSON:
    channel, ts = call.channel(), call.required("timestamp", "message_not_found")
    message = call.workspace.message(channel.id, ts)
    if message is None:
        raise SlackError("message_not_found")
    return {"type": "message", "channel": channel.id, "message": call.workspace.message_json(message)}


def _target(call: Call) -> Channel:
    # chat.postMessage also takes a user id and posts into that user's DM with the bot.
    ref = call.required("channel", "channel_not_found")
    if call.workspace.user(ref) is not None and ref != call.workspace.identity.bot_user_id:
        return call.workspace.open_im(ref)
    return call.channel()


def _own_message(call: Call, channel: Channel, ts: str, error: str) -> Message:
    message = call.workspace.message(channel.id, ts)
    if message is None:
        raise SlackError("message_not_found")
    if message.user != call.workspace.identity.bot_user_id:
        raise SlackError(error)  # a bot token may only change the bot's own messages
    return message


def _reaction_target(call: Call) -> tuple[Channel, str, str]:
    channel = call.channel()
    ts = call.required("timestamp", "message_not_found")
    name = call.required("name", "invalid_name").strip(":")
    return channel, ts, name


METHODS: dict[str, Callable[[Call], JSON]] = {
    "chat.postMessage": post_message,
    "chat.update": update,
    "chat.delete": delete,
    "chat.postEphemeral": post_ephemeral,
    "chat.getPermalink": get_permalink,
    "reactions.add": add_reaction,
    "reactions.remove": remove_reaction,
    "reactions.get": get_reactions,
}
