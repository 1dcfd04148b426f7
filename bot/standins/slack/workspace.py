"""The in-memory, thread-safe state of one stand-in Slack workspace: people, channels, messages, files, modals."""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Iterable
from typing import TypeVar

from bot.standins.slack.ids import new_id
from bot.standins.slack.modals import Modals
from bot.standins.slack.model import (
    JSON,
    Channel,
    ChannelKind,
    Ephemeral,
    File,
    Identity,
    Message,
    SlackError,
    User,
)

T = TypeVar("T")


class Workspace:
    """Everything one workspace knows. Every method takes the lock; readers get copies, never live records,
    so the HTTP threads, the test thread and the delivery threads can't see a half-written message.
    Modals live apart, in `modals`."""

    def __init__(self, identity: Identity, base_url: str) -> None:
        self.identity = identity
        self.base_url = base_url
        self.modals = Modals()
        self._lock = threading.RLock()
        self._users: dict[str, User] = {}
        self._channels: dict[str, Channel] = {}
        self._messages: dict[str, dict[str, Message]] = {}  # channel -> ts -> message, in ts order
        # channel -> thread parent ts -> its replies' ts, oldest first: a thread is read without scanning
        # the channel, which matters for history of 100,000 messages (bench/ingest_scale.py).
        self._replies: dict[str, dict[str, list[str]]] = {}
        self._ephemerals: list[Ephemeral] = []
        self._files: dict[str, File] = {}
        self._last_ts_us = 0
        self._clock_offset_us = 0
        bot = User(identity.bot_user_id, identity.bot_name, identity.bot_name, is_bot=True, bot_id=identity.bot_id)
        self._users[bot.id] = bot

    # --- people and channels ---------------------------------------------------------------------------

    def add_user(self, name: str, real_name: str, *, user_id: str | None = None, is_admin: bool = False) -> User:
        """Add a person; admins are workspace admins (`users.info` says `is_admin: true`)."""
        with self._lock:
            user = User(user_id or new_id("U"), name, real_name, is_admin=is_admin)
            self._users[user.id] = user
            return copy.deepcopy(user)

    def add_channel(
        self, name: str, *, channel_id: str | None = None, private: bool = False, members: list[str] | None = None
    ) -> Channel:
        """Add a public or private channel; list the bot's user id in `members` for it to see the channel."""
        kind: ChannelKind = "private" if private else "public"
        prefix = "G" if private else "C"
        return self._add_channel(Channel(channel_id or new_id(prefix), name, kind, list(members or []), _now()))

    def add_bot(self, name: str, *, user_id: str | None = None, bot_id: str | None = None) -> User:
        """Add another app's bot user; its messages carry its `bot_id`, as other integrations' posts do."""
        with self._lock:
            user = User(user_id or new_id("U"), name, name, is_bot=True, bot_id=bot_id or new_id("B"))
            self._users[user.id] = user
            return copy.deepcopy(user)

    def open_im(self, user_id: str, *, channel_id: str | None = None) -> Channel:
        """The DM between a person and the bot, created on first use like Slack's `conversations.open`."""
        with self._lock:
            self._require_user(user_id)
            for channel in self._channels.values():
                if channel.kind == "im" and channel.im_user == user_id:
                    return copy.deepcopy(channel)
            members = [user_id, self.identity.bot_user_id]
            return self._add_channel(Channel(channel_id or new_id("D"), user_id, "im", members, _now()))

    def join(self, channel_id: str, user_id: str) -> None:
        with self._lock:
            channel = self._require_channel(channel_id)
            if user_id not in channel.members:
                channel.members.append(user_id)

    def user(self, user_id: str) -> User | None:
        with self._lock:
            return copy.deepcopy(self._users.get(user_id))

    def users(self) -> list[User]:
        with self._lock:
            return copy.deepcopy(list(self._users.values()))

    def channel(self, ref: str) -> Channel | None:
        """A channel by id, `#name` or plain name."""
        with self._lock:
            name = ref.removeprefix("#")
            found = self._channels.get(ref) or next(
                (c for c in self._channels.values() if c.kind != "im" and c.name == name), None
            )
            return copy.deepcopy(found)

    def channels(self) -> list[Channel]:
        with self._lock:
            return copy.deepcopy(list(self._channels.values()))

    # --- messages ---------------------------------------------------------------------------------------

    def post(
        self,
        channel_id: str,
        user_id: str,
        text: str,
        *,
        thread_ts: str | None = None,
        blocks: list[JSON] | None = None,
        attachments: list[JSON] | None = None,
        file_ids: list[str] | None = None,
        reply_broadcast: bool = False,
        subtype: str | None = None,
    ) -> Message:
        """Store a message from a person, or from a bot when `user_id` is a bot's; a reply names `thread_ts`."""
        with self._lock:
            self._require_channel(channel_id)
            sender = self._require_user(user_id)
            if thread_ts is not None:
                parent = self._messages[channel_id].get(thread_ts)
                if parent is None:
                    raise SlackError("thread_not_found")
                # Replying to a reply threads under the parent, as Slack does.
                thread_ts = parent.thread_ts or parent.ts
                self._messages[channel_id][thread_ts].thread_ts = thread_ts
            message = Message(channel_id, self.next_ts(), text, user_id, sender.bot_id, thread_ts)
            message.blocks, message.attachments = list(blocks or []), list(attachments or [])
            message.file_ids, message.reply_broadcast = list(file_ids or []), reply_broadcast
            message.subtype = subtype
            self._messages[channel_id][message.ts] = message
            if thread_ts is not None:
                self._replies[channel_id].setdefault(thread_ts, []).append(message.ts)
            return copy.deepcopy(message)

    def edit(
        self,
        channel_id: str,
        ts: str,
        editor: str,
        text: str,
        *,
        blocks: list[JSON] | None = None,
        attachments: list[JSON] | None = None,
    ) -> Message:
        """Change a message's text (and blocks/attachments when given), marking it edited by `editor`."""
        with self._lock:
            message = self._require_message(channel_id, ts)
            message.text = text
            message.blocks = message.blocks if blocks is None else list(blocks)
            message.attachments = message.attachments if attachments is None else list(attachments)
            message.edited = {"user": editor, "ts": self.next_ts()}
            return copy.deepcopy(message)

    def delete(self, channel_id: str, ts: str) -> Message:
        with self._lock:
            message = self._require_message(channel_id, ts)
            del self._messages[channel_id][ts]
            if message.is_reply:
                self._replies[channel_id][str(message.thread_ts)].remove(ts)
            return message

    def message(self, channel_id: str, ts: str) -> Message | None:
        with self._lock:
            return copy.deepcopy(self._messages.get(channel_id, {}).get(ts))

    def message_json(self, message: Message) -> JSON:
        """A message as the Web API returns it: thread counters on parents, reactions, files, bot profile."""
        with self._lock:
            out: JSON = {"type": "message", "user": message.user, "text": message.text, "ts": message.ts}
            out |= {"team": self.identity.team_id, "blocks": message.blocks}
            if message.subtype:
                out["subtype"] = message.subtype
            if message.bot_id == self.identity.bot_id:
                out |= {"bot_id": message.bot_id, "app_id": self.identity.app_id, "bot_profile": self._bot_profile()}
            elif message.bot_id:  # another app's bot
                out["bot_id"] = message.bot_id
            if message.attachments:
                out["attachments"] = message.attachments
            if message.edited:
                out["edited"] = message.edited
            if message.thread_ts:
                out |= self._thread_fields(message)
            if message.reactions:
                out["reactions"] = [{"name": n, "users": u, "count": len(u)} for n, u in message.reactions.items()]
            if message.file_ids:
                out |= {"files": [self._files[f].to_api(self.base_url) for f in message.file_ids], "upload": True}
            return out

    def messages_json(self, channel_id: str, timestamps: Iterable[str]) -> list[JSON]:
        """The messages with these ts, as the Web API returns them; one deleted meanwhile is left out."""
        with self._lock:
            messages = self._messages.get(channel_id, {})
            return [self.message_json(messages[ts]) for ts in timestamps if ts in messages]

    def history(self, channel_id: str) -> list[JSON]:
        """A channel's top-level messages (thread parents included, replies not), oldest first."""
        with self._lock:
            return self.messages_json(channel_id, self.history_ts(channel_id))

    def history_ts(self, channel_id: str) -> list[str]:
        """The ts of `history`'s messages: a page of them is turned into JSON, not the whole channel."""
        with self._lock:
            self._require_channel(channel_id)
            messages = self._messages[channel_id].values()
            return [m.ts for m in messages if not m.is_reply or m.reply_broadcast]

    def thread(self, channel_id: str, thread_ts: str) -> list[JSON]:
        """A thread, parent first then replies oldest first; a message with no replies is a thread of one."""
        with self._lock:
            return self.messages_json(channel_id, self.thread_ts(channel_id, thread_ts))

    def thread_ts(self, channel_id: str, thread_ts: str) -> list[str]:
        """The ts of `thread`'s messages (a reply's ts reads its whole thread)."""
        with self._lock:
            parent = self._require_message(channel_id, thread_ts)
            root = parent.thread_ts or parent.ts
            head = [root] if root in self._messages[channel_id] else []  # a reply's parent may be deleted
            return head + self._replies[channel_id].get(root, [])

    def react(self, channel_id: str, ts: str, name: str, user_id: str) -> Message:
        with self._lock:
            message = self._require_message(channel_id, ts)
            users = message.reactions.setdefault(name, [])
            if user_id in users:
                raise SlackError("already_reacted")
            users.append(user_id)
            return copy.deepcopy(message)

    def unreact(self, channel_id: str, ts: str, name: str, user_id: str) -> Message:
        with self._lock:
            message = self._require_message(channel_id, ts)
            users = message.reactions.get(name, [])
            if user_id not in users:
                raise SlackError("no_reaction")
            users.remove(user_id)
            if not users:
                del message.reactions[name]
            return copy.deepcopy(message)

    def post_ephemeral(
        self,
        channel_id: str,
        user_id: str,
        text: str,
        *,
        blocks: list[JSON] | None = None,
        thread_ts: str | None = None,
        from_bot: bool = True,
    ) -> Ephemeral:
        """Show a message to one member of a channel; it is kept per user, never in the channel's history."""
        with self._lock:
            channel = self._require_channel(channel_id)
            self._require_user(user_id)
            if user_id not in channel.members:
                raise SlackError("user_not_in_channel")
            ephemeral = Ephemeral(channel_id, user_id, self.next_ts(), text, list(blocks or []), thread_ts, from_bot)
            self._ephemerals.append(ephemeral)
            return copy.deepcopy(ephemeral)

    def replace_ephemeral(self, user_id: str, ts: str, text: str, blocks: list[JSON] | None) -> None:
        with self._lock:
            ephemeral = self._require_ephemeral(user_id, ts)
            ephemeral.text, ephemeral.blocks = text, list(blocks or [])

    def delete_ephemeral(self, user_id: str, ts: str) -> None:
        with self._lock:
            self._ephemerals.remove(self._require_ephemeral(user_id, ts))

    def ephemerals(self, user_id: str) -> list[Ephemeral]:
        with self._lock:
            return copy.deepcopy([e for e in self._ephemerals if e.user == user_id])

    # --- files ------------------------------------------------------------------------------------------

    def reserve_file(self, name: str, length: int, user_id: str) -> File:
        """Step one of an external upload: a file id, waiting for its bytes."""
        with self._lock:
            file = File(new_id("F"), name, name, user_id, _now(), length)
            self._files[file.id] = file
            return copy.deepcopy(file)

    def upload(self, file_id: str, data: bytes) -> None:
        with self._lock:
            self._require_file(file_id).data = data

    def share_files(
        self,
        titles: dict[str, str],
        channel_id: str | None = None,
        *,
        thread_ts: str | None = None,
        initial_comment: str | None = None,
    ) -> list[File]:
        """Complete an upload: title the files and, given a channel, post them there as one message."""
        with self._lock:
            files = [self._require_file(file_id) for file_id in titles]
            if any(f.data is None for f in files):
                raise SlackError("file_not_found")  # completeUploadExternal before the bytes arrived
            for file in files:
                file.title = titles[file.id] or file.name
            if channel_id and files:
                comment = initial_comment or ""
                self.post(channel_id, files[0].user, comment, thread_ts=thread_ts, file_ids=[f.id for f in files])
                for file in files:
                    file.channels.append(channel_id)
                    file.initial_comment, file.thread_ts = initial_comment, thread_ts
            return copy.deepcopy(files)

    def file(self, file_id: str) -> File | None:
        with self._lock:
            return copy.deepcopy(self._files.get(file_id))

    def files(self) -> list[File]:
        with self._lock:
            return copy.deepcopy(list(self._files.values()))

    # --- helpers ----------------------------------------------------------------------------------------

    def shift_clock(self, seconds: float) -> None:
        """Stamp what happens from now on `seconds` away from the wall clock (negative: in the past), so tests
        can post history that is weeks old. Timestamps still only increase, as the history order relies on."""
        with self._lock:
            self._clock_offset_us = int(seconds * 1_000_000)

    def next_ts(self) -> str:
        """A message timestamp like Slack's "1732190000.000100": wall-clock microseconds, strictly increasing."""
        with self._lock:
            self._last_ts_us = max(self._last_ts_us + 1, time.time_ns() // 1000 + self._clock_offset_us)
            seconds, micros = divmod(self._last_ts_us, 1_000_000)
            return f"{seconds}.{micros:06d}"

    def _add_channel(self, channel: Channel) -> Channel:
        with self._lock:
            self._channels[channel.id] = channel
            self._messages[channel.id] = {}
            self._replies[channel.id] = {}
            return copy.deepcopy(channel)

    def _thread_fields(self, message: Message) -> JSON:
        assert message.thread_ts is not None
        if message.is_reply:
            parent = self._messages[message.channel].get(message.thread_ts)
            return {"thread_ts": message.thread_ts, "parent_user_id": parent.user if parent else None}
        messages = self._messages[message.channel]
        replies = [messages[ts] for ts in self._replies[message.channel].get(message.ts, [])]
        reply_users = list(dict.fromkeys(m.user for m in replies))
        latest = replies[-1].ts if replies else message.ts
        fields: JSON = {"thread_ts": message.ts, "reply_count": len(replies), "latest_reply": latest}
        return fields | {"reply_users": reply_users, "reply_users_count": len(reply_users), "is_locked": False}

    def _bot_profile(self) -> JSON:
        identity = self.identity
        profile: JSON = {"id": identity.bot_id, "app_id": identity.app_id, "name": identity.bot_name}
        return profile | {"deleted": False, "team_id": identity.team_id, "icons": {}, "updated": 1700000000}

    def _require_user(self, user_id: str) -> User:
        return _found(self._users.get(user_id), "user_not_found")

    def _require_channel(self, channel_id: str) -> Channel:
        return _found(self._channels.get(channel_id), "channel_not_found")

    def _require_message(self, channel_id: str, ts: str) -> Message:
        self._require_channel(channel_id)
        return _found(self._messages[channel_id].get(ts), "message_not_found")

    def _require_ephemeral(self, user_id: str, ts: str) -> Ephemeral:
        found = (e for e in self._ephemerals if e.user == user_id and e.ts == ts)
        return _found(next(found, None), "message_not_found")

    def _require_file(self, file_id: str) -> File:
        return _found(self._files.get(file_id), "file_not_found")


def _found(value: T | None, error: str) -> T:
    if value is None:
        raise SlackError(error)
    return value


def _now() -> int:
    return int(time.time())
