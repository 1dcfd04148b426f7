"""Slack channel history as records, synced from a cursor; what each thread becomes: connectors.slack_threads.

How syncing moves (the cursor, per channel, as JSON):
- `done`: every top-level message up to this ts has been read; a sync reads the channel's history above it.
  `done` moves only when a pass over (done, now] ends, so a sync that dies half way loses nothing: the next
  one reads that window again. Slack pages history newest→oldest, though, so what the dead pass had read is
  the newest part of its window, and reading it all again can take hours (a backfill of years of history at
  Slack's rate limits for history). So while a pass runs, `resume` (the oldest ts it reached) and `top`
  (the newest ts it started from) mark that part; the next sync reads (done, resume) first, then done = top,
  then what is newer. That leaves at most one gap per channel, however often syncs die.
- `seen`: the newest change (root, `latest_reply`, root edit) observed when the channel was last fully
  synced. Threads whose root lies within `thread_lookback_days` below `done` and whose latest change is newer
  are read again, which picks up late replies and edited questions. Older changes wait for a full sync, as
  do edits of replies and reactions (Slack's history shows neither). A reply landing while a sync reads
  the same channel can be missed when a newer change is observed later in that sync; the next full sync
  picks it up.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field, replace
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from connectors.base import SourceUnavailable, SyncBatch
from connectors.slack_threads import JSON, is_content, is_root, latest_change, thread_item
from ftbot.records import RawRecord, Skipped
from ftbot.source_config import SlackSourceConfig

if TYPE_CHECKING:
    from ftbot.config import Settings
    from ftbot.source_config import AnySourceConfig

log = logging.getLogger(__name__)

# Slack answers a burst of history calls with 429 and Retry-After; a sync waits that long this many times
# before it gives up (and the next sync resumes from the last batch).
RATE_LIMIT_RETRIES = 5
# The token `SlackStandIn` issues by default, for syncing from a running stand-in (`make serve`).
STANDIN_BOT_TOKEN = "xoxb-standin-bot-token"
CURSOR_VERSION = 1


def slack_client(settings: Settings) -> WebClient:
    """A WebClient for the configured workspace: SLACK_BOT_TOKEN, and SLACK_API_URL for the local stand-in."""
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    if token is None and not settings.slack_api_url:
        raise SourceUnavailable(
            "reading Slack history needs the bot's token: set SLACK_BOT_TOKEN "
            "(scopes channels:read, channels:history, and groups:read, groups:history for private channels)"
        )
    base_url = (settings.slack_api_url or WebClient.BASE_URL).rstrip("/") + "/"  # slack_sdk needs the slash
    return WebClient(token=token or STANDIN_BOT_TOKEN, base_url=base_url)


@dataclass(frozen=True)
class Channel:
    id: str
    name: str
    private: bool
    is_member: bool

    @property
    def label(self) -> str:
        return f"#{self.name} ({self.id})"


@dataclass(frozen=True)
class ChannelState:
    """How far one channel has been read; see the module docstring. Timestamps are Slack ts strings."""

    done: str | None = None
    seen: str | None = None
    resume: str | None = None
    top: str | None = None


@dataclass
class _ChannelRun:
    """One sync of one channel: the cursor states of every channel, and the threads read so far."""

    channel: Channel
    states: dict[str, ChannelState]
    workspace_url: str  # auth.test's url: permalinks are built from it, not fetched one call per thread
    read: dict[str, Decimal] = field(default_factory=dict)  # thread ts -> its latest change when read

    @property
    def state(self) -> ChannelState:
        return self.states[self.channel.id]

    def advance(self, items: list[RawRecord | Skipped], **changes: str | None) -> SyncBatch:
        """The batch of `items`, with the cursor that counts them read."""
        self.states[self.channel.id] = replace(self.state, **changes)
        return SyncBatch(items, encode_cursor(self.states))


class SlackHistoryConnector:
    """Reads the configured channels' threads, one batch per page of conversations.history."""

    kind = "slack"

    def __init__(self, config: SlackSourceConfig, client: WebClient) -> None:
        self.config = config
        self.client = client
        if not any(isinstance(handler, RateLimitErrorRetryHandler) for handler in client.retry_handlers):
            client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES))
        self._experts = frozenset(config.experts)
        self._lookback = Decimal(str(config.thread_lookback_days * 86_400))

    @classmethod
    def from_config(cls, config: AnySourceConfig, settings: Settings) -> SlackHistoryConnector:
        """The connector for a `type = "slack"` source, with a client for the configured workspace."""
        if not isinstance(config, SlackSourceConfig):
            raise TypeError(f"a {config.type} source is no Slack workspace")
        return cls(config, slack_client(settings))

    def sync(self, cursor: str | None) -> Iterator[SyncBatch]:
        """Every channel's new threads (all of them for `cursor` None), then recent threads that changed."""
        previous = decode_cursor(cursor)
        workspace_url = str(self._call("auth.test", None)["url"]).rstrip("/") + "/"
        channels = self._channels()
        # Channels no longer synced drop out of the cursor; one listed again later is read from scratch.
        states = {channel.id: previous.get(channel.id, ChannelState()) for channel in channels}
        for channel in channels:
            run = _ChannelRun(channel, states, workspace_url)
            start = run.state
            if start.resume is not None:  # a pass stopped half way: finish it before reading anything newer
                yield from self._walk(run, below=start.resume, top=start.top)
            yield from self._walk(run, below=None, top=None)
            yield from self._look_back(run, start)

    # --- one channel --------------------------------------------------------------------------------------

    def _walk(self, run: _ChannelRun, below: str | None, top: str | None) -> Iterator[SyncBatch]:
        """Read the threads between `done` and `below` (None: now), newest first, one batch per page."""
        for page in self._pages("conversations.history", run.channel, oldest=run.state.done, latest=below):
            messages = page.get("messages", [])
            top = top or (messages[0]["ts"] if messages else None)
            items = self._threads(run, messages)
            if _next_cursor(page) and messages:
                yield run.advance(items, resume=messages[-1]["ts"], top=top)
            else:
                yield run.advance(items, done=top or run.state.done, resume=None, top=None)

    def _look_back(self, run: _ChannelRun, start: ChannelState) -> Iterator[SyncBatch]:
        """Read again the recent threads that changed since `seen`: late replies, edited questions."""
        done = run.state.done
        if done is None:
            return  # an empty channel
        lowest = min(Decimal(start.done or done), Decimal(done)) - self._lookback
        seen = Decimal(start.seen) if start.seen else Decimal(-1)
        newest = seen
        pages = self._pages("conversations.history", run.channel, oldest=_ts(lowest), latest=done, inclusive=True)
        for page in pages:
            messages = page.get("messages", [])
            changes = {m["ts"]: latest_change(m) for m in messages}
            # A thread this sync has read already is read again only if it changed meanwhile.
            changed = [m for m in messages if changes[m["ts"]] > seen and changes[m["ts"]] != run.read.get(m["ts"])]
            items = self._threads(run, changed)
            newest = max([newest, *changes.values()])
            if _next_cursor(page):
                yield run.advance(items)
            else:
                yield run.advance(items, seen=_ts(newest) if newest >= 0 else None)

    def _threads(self, run: _ChannelRun, messages: Iterable[JSON]) -> list[RawRecord | Skipped]:
        """The record (or skip) for each thread started by one of `messages`; noise yields nothing."""
        items: list[RawRecord | Skipped] = []
        for root in messages:
            if not is_root(root):
                continue
            run.read[root["ts"]] = latest_change(root)
            replies = self._replies(run.channel, root["ts"]) if root.get("reply_count") else []
            channel = run.channel
            items.append(thread_item(root, replies, channel.id, channel.name, run.workspace_url, self._experts))
        return items

    def _replies(self, channel: Channel, thread_ts: str) -> list[JSON]:
        """A thread's replies that people wrote, oldest first (the parent left out)."""
        replies: list[JSON] = []
        for page in self._pages("conversations.replies", channel, ts=thread_ts):
            replies += [m for m in page.get("messages", []) if m["ts"] != thread_ts and is_content(m)]
        return replies

    # --- channels -----------------------------------------------------------------------------------------

    def _channels(self) -> list[Channel]:
        """Listed public channels (or every public channel ftbot is in), then listed private ones.

        A listed channel that can't be read stops the sync (SourceUnavailable) rather than being skipped: a full
        sync that went on without it would delete every record it gave before, for what is usually a typo or
        a missing /invite.
        """
        listed = self._list_channels()
        if self.config.channels:
            public = [self._resolve(ref, listed, private=False) for ref in self.config.channels]
        else:
            public = [c for c in listed if not c.private and c.is_member]
        private = [self._resolve(ref, listed, private=True) for ref in self.config.private_channels]
        return list({channel.id: channel for channel in public + private}.values())

    def _list_channels(self) -> list[Channel]:
        # Private channels only when some are listed: groups:read is then the one extra scope needed. Archived
        # channels are read too: their answers often still hold, and as they no longer change, syncing them
        # again costs a history call or two.
        types = "public_channel,private_channel" if self.config.private_channels else "public_channel"
        channels: list[Channel] = []
        for page in self._pages("conversations.list", None, types=types):
            channels += [
                Channel(c["id"], c.get("name", c["id"]), bool(c.get("is_private")), bool(c.get("is_member")))
                for c in page.get("channels", [])
            ]
        return channels

    def _resolve(self, ref: str, listed: list[Channel], *, private: bool) -> Channel:
        name = ref.removeprefix("#")
        found = next((c for c in listed if c.id == ref or c.name == name), None)
        if found is None and private:
            raise SourceUnavailable(f"Slack private channel {ref} not found, or ftbot is not in it: /invite @ftbot")
        if found is None:
            raise SourceUnavailable(f"Slack channel {ref} not found (a private channel goes under private_channels)")
        if found.private != private:
            kind, key = ("private", "private_channels") if found.private else ("public", "channels")
            raise SourceUnavailable(f"Slack channel {found.label} is {kind}: list it under {key}")
        if not found.is_member:  # joining would announce ftbot in the channel: a person should invite it
            raise SourceUnavailable(f"ftbot is not in Slack channel {found.label}: /invite @ftbot there")
        return found

    # --- the Web API --------------------------------------------------------------------------------------

    def _pages(self, method: str, channel: Channel | None, **params: Any) -> Iterator[JSON]:
        """Every page of a cursor-paginated read."""
        cursor = None
        while True:
            page = self._call(method, channel, limit=self.config.page_size, cursor=cursor, **params)
            yield page
            cursor = _next_cursor(page)
            if not cursor:
                return

    def _call(self, method: str, channel: Channel | None, **params: Any) -> JSON:
        """One Web API call (429s waited out by the retry handler); any failure stops the sync with a reason."""
        where = f" on {channel.label}" if channel else ""
        args = {name: value for name, value in params.items() if value is not None}
        if channel is not None:
            args["channel"] = channel.id
        try:
            return self.client.api_call(method, http_verb="GET", params=args).data  # type: ignore[return-value]
        except SlackApiError as error:
            raise SourceUnavailable(_explain(method, where, error.response)) from error
        except OSError as error:  # urllib's URLError, timeouts, refused connections
            raise SourceUnavailable(f"can't reach Slack at {self.client.base_url} ({error})") from error


# --- the cursor -----------------------------------------------------------------------------------------------


def encode_cursor(states: Mapping[str, ChannelState]) -> str:
    """{"v": 1, "channels": {"C…": {"done": ts, "seen": ts, ("resume": ts, "top": ts)}}}."""
    channels = {cid: {k: v for k, v in asdict(state).items() if v is not None} for cid, state in states.items()}
    return json.dumps({"v": CURSOR_VERSION, "channels": channels}, separators=(",", ":"), sort_keys=True)


def decode_cursor(cursor: str | None) -> dict[str, ChannelState]:
    """The per-channel states in a cursor; one this version can't read starts over (a slower, complete sync)."""
    if cursor is None:
        return {}
    try:
        data = json.loads(cursor)
        if data.get("v") != CURSOR_VERSION:
            raise ValueError(f"cursor version {data.get('v')!r}")
        return {cid: ChannelState(**_checked_ts(state)) for cid, state in data["channels"].items()}
    except (ValueError, TypeError, KeyError, AttributeError, InvalidOperation) as error:
        log.warning("unreadable Slack cursor (%s): reading every channel from the start", error)
        return {}


def _checked_ts(state: JSON) -> JSON:
    for value in state.values():
        Decimal(value)  # a ts, or InvalidOperation
    return {k: state[k] for k in ("done", "seen", "resume", "top") if k in state}


# --- pages, timestamps and errors -----------------------------------------------------------------------------


def _next_cursor(page: JSON) -> str:
    return str((page.get("response_metadata") or {}).get("next_cursor") or "")


def _ts(value: Decimal) -> str:
    return f"{max(value, Decimal(0)):.6f}"


def _explain(method: str, where: str, response: Any) -> str:
    code = response.get("error") if response is not None else None
    if code in ("invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired"):
        return f"Slack refused the bot token ({code}): check SLACK_BOT_TOKEN"
    if code == "missing_scope":
        return f"the Slack app lacks the scope {response.get('needed')} for {method}: add it and reinstall the app"
    if code == "ratelimited":
        return f"Slack kept rate-limiting {method}{where}; the next sync resumes from here"
    if code in ("not_in_channel", "channel_not_found"):
        return f"Slack {method}{where} failed ({code}): /invite @ftbot there, or remove the channel from the source"
    return f"Slack {method}{where} failed: {code or response}"
