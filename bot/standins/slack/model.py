"""The records a stand-in workspace holds, and how each one looks in Slack's Web API JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

JSON = dict[str, Any]
ChannelKind = Literal["public", "private", "im"]


@dataclass(frozen=True)
class Identity:
    """Who the workspace and the installed app are; every payload the stand-in builds carries these ids."""

    team_id: str = "T0STANDIN"
    team_name: str = "FTBot Stand-in"
    team_domain: str = "ftbot-standin"
    app_id: str = "A0FTBOT"
    bot_user_id: str = "U0FTBOT"
    bot_id: str = "B0FTBOT"
    bot_name: str = "ftbot"
    # The legacy verification token Slack still puts in every payload; Bolt ignores it.
    verification_token: str = "standin-verification-token"


@dataclass
class User:
    id: str
    name: str
    real_name: str
    is_admin: bool = False
    is_owner: bool = False
    is_bot: bool = False
    bot_id: str | None = None

    def to_api(self, identity: Identity) -> JSON:
        profile: JSON = {
            "real_name": self.real_name,
            "real_name_normalized": self.real_name,
            "display_name": self.name,
            "display_name_normalized": self.name,
            "team": identity.team_id,
        }
        if self.bot_id:
            profile |= {"bot_id": self.bot_id, "api_app_id": identity.app_id, "always_active": True}
        return {
            "id": self.id,
            "team_id": identity.team_id,
            "name": self.name,
            "deleted": False,
            "real_name": self.real_name,
            "tz": "Etc/UTC",
            "tz_offset": 0,
            "profile": profile,
            "is_admin": self.is_admin,
            "is_owner": self.is_owner,
            "is_primary_owner": self.is_owner,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_bot": self.is_bot,
            "is_app_user": False,
            "updated": 1700000000,
        }


@dataclass
class Channel:
    id: str
    name: str
    kind: ChannelKind
    members: list[str]
    created: int
    creator: str | None = None

    @property
    def channel_type(self) -> str:
        """The `channel_type` Slack puts in message events: channel, group (private) or im."""
        return {"public": "channel", "private": "group", "im": "im"}[self.kind]

    @property
    def im_user(self) -> str | None:
        """For a DM with the bot, the person on the other side."""
        return self.members[0] if self.kind == "im" and self.members else None

    def to_api(self, bot_user_id: str) -> JSON:
        if self.kind == "im":
            return {
                "id": self.id,
                "created": self.created,
                "is_im": True,
                "is_org_shared": False,
                "user": self.im_user,
                "is_user_deleted": False,
                "priority": 0,
            }
        return {
            "id": self.id,
            "name": self.name,
            "name_normalized": self.name,
            "is_channel": self.kind == "public",
            "is_group": self.kind == "private",
            "is_im": False,
            "is_mpim": False,
            "is_private": self.kind == "private",
            "is_archived": False,
            "is_general": self.name == "general",
            "is_shared": False,
            "is_ext_shared": False,
            "is_org_shared": False,
            "is_member": bot_user_id in self.members,
            "created": self.created,
            "creator": self.creator or "",
            "topic": {"value": "", "creator": "", "last_set": 0},
            "purpose": {"value": "", "creator": "", "last_set": 0},
            "num_members": len(self.members),
        }


@dataclass
class Message:
    channel: str
    ts: str
    text: str
    user: str
    bot_id: str | None = None
    thread_ts: str | None = None
    blocks: list[JSON] = field(default_factory=list)
    attachments: list[JSON] = field(default_factory=list)
    file_ids: list[str] = field(default_factory=list)
    edited: JSON | None = None
    # Reaction name -> users who reacted, in the order they did.
    reactions: dict[str, list[str]] = field(default_factory=dict)
    reply_broadcast: bool = False
    # Slack's own notices and other apps' posts: channel_join, channel_topic, bot_message, ...
    subtype: str | None = None

    @property
    def is_reply(self) -> bool:
        return self.thread_ts is not None and self.thread_ts != self.ts


@dataclass
class Ephemeral:
    """A message only one user sees; Slack never stores it, so neither history nor replies return it."""

    channel: str
    user: str
    ts: str
    text: str
    blocks: list[JSON] = field(default_factory=list)
    thread_ts: str | None = None
    # Who sent it: the bot (chat.postEphemeral, response_url) or Slack itself (a failed slash command).
    from_bot: bool = True

    def to_api(self) -> JSON:
        message: JSON = {"channel": self.channel, "user": self.user, "ts": self.ts, "text": self.text}
        return message | {"blocks": self.blocks, "thread_ts": self.thread_ts, "from_bot": self.from_bot}


@dataclass
class File:
    id: str
    name: str
    title: str
    user: str
    created: int
    length: int
    data: bytes | None = None
    channels: list[str] = field(default_factory=list)
    thread_ts: str | None = None
    initial_comment: str | None = None

    def to_api(self, base_url: str) -> JSON:
        extension = self.name.rsplit(".", 1)[-1].lower() if "." in self.name else "text"
        url = f"{base_url}_standin/files/{self.id}/{self.name}"
        return {
            "id": self.id,
            "created": self.created,
            "timestamp": self.created,
            "name": self.name,
            "title": self.title,
            "mimetype": _MIMETYPES.get(extension, "application/octet-stream"),
            "filetype": extension,
            "pretty_type": extension.upper(),
            "user": self.user,
            "size": len(self.data) if self.data is not None else self.length,
            "mode": "hosted",
            "is_external": False,
            "is_public": True,
            "url_private": url,
            "url_private_download": url,
            "permalink": url,
            "channels": list(self.channels),
            "groups": [],
            "ims": [],
            "comments_count": 0,
        }


_MIMETYPES = {"txt": "text/plain", "csv": "text/csv", "json": "application/json", "md": "text/markdown"}


@dataclass
class View:
    """A modal the bot opened for a user; `definition` is the view JSON the bot sent."""

    id: str
    user: str
    definition: JSON
    hash: str
    root_view_id: str
    previous_view_id: str | None = None

    def to_api(self, identity: Identity, state_values: JSON | None = None) -> JSON:
        definition = self.definition
        return {
            "id": self.id,
            "team_id": identity.team_id,
            "type": definition.get("type", "modal"),
            "title": definition.get("title"),
            "submit": definition.get("submit"),
            "close": definition.get("close"),
            "blocks": definition.get("blocks", []),
            "private_metadata": definition.get("private_metadata", ""),
            "callback_id": definition.get("callback_id", ""),
            "external_id": definition.get("external_id", ""),
            "state": {"values": state_values or {}},
            "hash": self.hash,
            "clear_on_close": bool(definition.get("clear_on_close", False)),
            "notify_on_close": bool(definition.get("notify_on_close", False)),
            "root_view_id": self.root_view_id,
            "previous_view_id": self.previous_view_id,
            "app_id": identity.app_id,
            "app_installed_team_id": identity.team_id,
            "bot_id": identity.bot_id,
        }


class SlackError(Exception):
    """A Web API failure, carrying Slack's own error code (`channel_not_found`, `already_reacted`, ...)."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error
