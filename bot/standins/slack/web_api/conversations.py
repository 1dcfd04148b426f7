"""conversations.*, users.* and auth.test: the bot reading who and what is in the workspace."""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal, InvalidOperation

from bot.standins.slack.model import JSON, Channel, SlackError
from bot.standins.slack.web_api.common import Call, paginate

_TYPES = {"public_channel": "public", "private_channel": "private", "im": "im"}


def auth_test(call: Call) -> JSON:
    identity = call.workspace.identity
    return {
        "url": call.workspace.base_url,
        "team": identity.team_name,
        "user": identity.bot_name,
        "team_id": identity.team_id,
        "user_id": identity.bot_user_id,
        "bot_id": identity.bot_id,
        "is_enterprise_install": False,
    }


def users_info(call: Call) -> JSON:
    user = call.workspace.user(call.required("user", "user_not_found"))
    if user is None:
        raise SlackError("user_not_found")
    return {"user": user.to_api(call.workspace.identity)}


def users_list(call: Call) -> JSON:
    identity = call.workspace.identity
    members = [user.to_api(identity) for user in call.workspace.users()]
    page, meta = paginate(call, members, lambda user: user["id"], default_limit=1000)
    meta.pop("has_more")
    return {"members": page, "cache_ts": int(time.time())} | meta


def conversations_list(call: Call) -> JSON:
    kinds = {_TYPES.get(t.strip(), t.strip()) for t in (call.text("types") or "public_channel").split(",")}
    bot = call.workspace.identity.bot_user_id
    # A bot sees every public channel, but private channels and DMs only where it is a member.
    visible = [c for c in call.workspace.channels() if c.kind in kinds and (c.kind == "public" or bot in c.members)]
    page, meta = paginate(call, [c.to_api(bot) for c in visible], lambda c: c["id"], default_limit=100)
    meta.pop("has_more")
    return {"channels": page} | meta


def conversations_info(call: Call) -> JSON:
    channel = _visible_channel(call)
    return {"channel": channel.to_api(call.workspace.identity.bot_user_id)}


def conversations_members(call: Call) -> JSON:
    channel = _visible_channel(call)
    page, meta = paginate(call, channel.members, lambda member: member, default_limit=100)
    meta.pop("has_more")
    return {"members": page} | meta


def conversations_history(call: Call) -> JSON:
    channel = call.channel()
    call.bot_in(channel)
    # Paged by ts, and only the page is turned into JSON: a channel may hold 100,000 messages.
    newest_first = call.workspace.history_ts(channel.id)[::-1]
    page, meta = paginate(call, _in_window(call, newest_first), lambda ts: ts, default_limit=100)
    return {"messages": call.workspace.messages_json(channel.id, page), "pin_count": 0} | meta


def conversations_replies(call: Call) -> JSON:
    channel = call.channel()
    call.bot_in(channel)
    thread_ts = call.required("ts", "thread_not_found")
    try:
        thread = call.workspace.thread_ts(channel.id, thread_ts)
    except SlackError as error:
        raise SlackError("thread_not_found") from error
    # The parent comes first, on the first page only; later pages continue with replies.
    page, meta = paginate(call, thread[:1] + _in_window(call, thread[1:]), lambda ts: ts, default_limit=1000)
    return {"messages": call.workspace.messages_json(channel.id, page)} | meta


def conversations_open(call: Call) -> JSON:
    users = [u for u in (call.required("users", "users_list_not_supplied")).split(",") if u]
    if len(users) != 1:
        raise SlackError("not_implemented")  # group DMs are beyond this stand-in
    return {"channel": {"id": call.workspace.open_im(users[0]).id}}


def conversations_join(call: Call) -> JSON:
    channel = call.channel()
    if channel.kind != "public":
        raise SlackError("method_not_supported_for_channel_type")
    call.workspace.join(channel.id, call.workspace.identity.bot_user_id)
    return {"channel": channel.to_api(call.workspace.identity.bot_user_id)}


def _visible_channel(call: Call) -> Channel:
    channel = call.channel()
    if channel.kind != "public" and call.workspace.identity.bot_user_id not in channel.members:
        raise SlackError("channel_not_found")  # Slack hides private conversations the bot isn't in
    return channel


def _in_window(call: Call, timestamps: list[str]) -> list[str]:
    """Message ts between `oldest` and `latest`, both exclusive unless `inclusive` is set."""
    # Decimal, not float: a ts has 16 significant digits, one more than a float keeps.
    try:
        oldest, latest = Decimal(call.text("oldest") or 0), Decimal(call.text("latest") or time.time() + 1)
    except InvalidOperation as error:
        raise SlackError("invalid_ts_oldest") from error
    if call.flag("inclusive"):
        return [ts for ts in timestamps if oldest <= Decimal(ts) <= latest]
    return [ts for ts in timestamps if oldest < Decimal(ts) < latest]


METHODS: dict[str, Callable[[Call], JSON]] = {
    "auth.test": auth_test,
    "users.info": users_info,
    "users.list": users_list,
    "conversations.list": conversations_list,
    "conversations.info": conversations_info,
    "conversations.members": conversations_members,
    "conversations.history": conversations_history,
    "conversations.replies": conversations_replies,
    "conversations.open": conversations_open,
    "conversations.join": conversations_join,
}
