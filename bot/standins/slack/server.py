"""SlackStandIn: a local Slack for one workspace. The bot calls its Web API; people's actions reach the bot as
signed Events API, slash-command and interactivity requests, exactly as Slack would send them."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from bot.standins.http import BackgroundServer
from bot.standins.slack import payloads
from bot.standins.slack.delivery import Deliverer, Delivery
from bot.standins.slack.model import JSON, Channel, Ephemeral, File, Identity, SlackError, User
from bot.standins.slack.ratelimit import RateLimits
from bot.standins.slack.response_urls import ResponseTarget, ResponseUrls
from bot.standins.slack.routes import StandInHTTPServer
from bot.standins.slack.seed import seed_demo_workspace
from bot.standins.slack.workspace import Workspace

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class ActionResult:
    """What a person's action led to: the message it created or acted on ("" for a modal), and every request
    sent to the bot because of it."""

    ts: str
    deliveries: list[Delivery] = field(default_factory=list)

    @property
    def response(self) -> JSON:
        """The bot's JSON answer to the last request (a view_submission's `response_action`, say); {} if none."""
        return self.deliveries[-1].response_json() if self.deliveries else {}


class SlackStandIn(BackgroundServer):
    """A running stand-in: construct it and it serves on 127.0.0.1 (port 0 picks a free port) until `close()`."""

    def __init__(
        self,
        *,
        port: int = 0,
        request_url: str | None = None,
        signing_secret: str = "standin-signing-secret",
        bot_token: str = "xoxb-standin-bot-token",
        identity: Identity | None = None,
        seed: bool = True,
        delivery_timeout: float = 3.0,
    ) -> None:
        http = StandInHTTPServer(("127.0.0.1", port))
        self.base_url = f"http://127.0.0.1:{http.server_address[1]}/"
        self.bot_token = bot_token
        self.signing_secret = signing_secret
        self.workspace = Workspace(identity or Identity(), self.base_url)
        self.deliverer = Deliverer(signing_secret, request_url, timeout=delivery_timeout)
        self.rate_limits = RateLimits()
        self.response_urls = ResponseUrls(self.workspace)
        if seed:
            seed_demo_workspace(self.workspace)
        http.standin = self  # set last: the handler only runs once serving starts below
        self._serve_in_background(http, "slack-standin")

    # --- addresses ------------------------------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        """The WebClient base_url; slack_sdk needs the trailing slash."""
        return self.base_url + "api/"

    @property
    def bot_user_id(self) -> str:
        return self.workspace.identity.bot_user_id

    @property
    def request_url(self) -> str | None:
        """The bot's Events/commands/interactivity URL, e.g. http://127.0.0.1:3000/slack/events."""
        return self.deliverer.request_url

    @request_url.setter
    def request_url(self, url: str | None) -> None:
        self.deliverer.request_url = url

    def rate_limit(self, method: str, times: int = 1, retry_after: int = 1) -> None:
        """Answer the next `times` calls to Web API `method` with HTTP 429 and `Retry-After: retry_after`."""
        self.rate_limits.limit(method, times, retry_after)

    # --- what people do -----------------------------------------------------------------------------------

    def post_message(
        self, user_id: str, channel_id: str, text: str, thread_ts: str | None = None, *, subtype: str | None = None
    ) -> ActionResult:
        """Post as a person (or another app's bot user); the bot gets a `message` event, plus `app_mention` when
        named outside a DM. A `subtype` posts one of Slack's notices instead: `channel_join`, `channel_topic`..."""
        channel = self._member_channel(user_id, channel_id)
        message = self.workspace.post(
            channel.id, user_id, text, thread_ts=thread_ts, blocks=payloads.rich_text_blocks(text), subtype=subtype
        )
        event = payloads.message_event(self.workspace.message_json(message), channel)
        deliveries = self._deliver_if_bot_sees(channel, event)
        if channel.kind != "im" and self.bot_user_id in payloads.mentions(text):
            deliveries += self._deliver_if_bot_sees(channel, payloads.app_mention_event(event))
        return ActionResult(message.ts, deliveries)

    def edit_message(self, user_id: str, channel_id: str, ts: str, text: str) -> ActionResult:
        """Edit one's own message; the bot gets a `message_changed` event."""
        channel = self._member_channel(user_id, channel_id)
        before = self._message(channel.id, ts)
        if before["user"] != user_id:
            raise SlackError("cant_update_message")
        after = self.workspace.edit(channel.id, ts, user_id, text, blocks=payloads.rich_text_blocks(text))
        assert after.edited is not None
        event = payloads.message_changed_event(before, self.workspace.message_json(after), channel, after.edited["ts"])
        return ActionResult(ts, self._deliver_if_bot_sees(channel, event))

    def add_reaction(self, user_id: str, channel_id: str, ts: str, name: str) -> ActionResult:
        """React to a message (name without colons: "thumbsup"); the bot gets `reaction_added`."""
        message = self.workspace.react(channel_id, ts, name, user_id)
        event = payloads.reaction_event(True, user_id, name, channel_id, ts, message.user)
        return ActionResult(ts, self._deliver_if_bot_sees(self._channel(channel_id), event))

    def remove_reaction(self, user_id: str, channel_id: str, ts: str, name: str) -> ActionResult:
        message = self.workspace.unreact(channel_id, ts, name, user_id)
        event = payloads.reaction_event(False, user_id, name, channel_id, ts, message.user)
        return ActionResult(ts, self._deliver_if_bot_sees(self._channel(channel_id), event))

    def click_button(
        self,
        user_id: str,
        channel_id: str,
        message_ts: str,
        action_id: str,
        value: str | None = None,
        block_id: str | None = None,
    ) -> ActionResult:
        """Click a button on a message (or on an ephemeral message this user sees); the bot gets `block_actions`."""
        user, channel = self._user(user_id), self._channel(channel_id)
        ephemeral = self._ephemeral(user_id, message_ts)
        message = ephemeral.to_api() if ephemeral else self._message(channel.id, message_ts)
        action = _button_action(message.get("blocks") or [], action_id, block_id)
        if value is not None:
            action["value"] = value
        target = ResponseTarget(channel.id, user.id, message_ts, ephemeral=ephemeral is not None)
        payload = payloads.block_actions_payload(
            self.workspace.identity,
            user,
            channel,
            message,
            action,
            ephemeral=ephemeral is not None,
            trigger_id=self.workspace.modals.issue_trigger(user.id),
            response_url=self.response_urls.issue(target),
        )
        return ActionResult(message_ts, [self.deliverer.form("interactivity", {"payload": json.dumps(payload)})])

    def slash_command(self, user_id: str, channel_id: str, command: str, text: str = "") -> str:
        """Run `/command text`; returns what the person sees at once: the text of the bot's ack, or ""."""
        user, channel = self._user(user_id), self._member_channel(user_id, channel_id)
        form = payloads.slash_command_form(
            self.workspace.identity,
            user,
            channel,
            command,
            text,
            response_url=self.response_urls.issue(ResponseTarget(channel.id, user.id)),
            trigger_id=self.workspace.modals.issue_trigger(user.id),
        )
        delivery = self.deliverer.form("command", form)
        if not delivery.ok:
            # What Slack shows when an app doesn't answer a command in time (or answers with an error).
            reason = "operation_timeout" if delivery.error == "http_timeout" else "dispatch_failed"
            notice = f'{command} failed with the error "{reason}"'
            self.workspace.post_ephemeral(channel.id, user.id, notice, from_bot=False)
            return ""
        return self._show_command_ack(delivery, channel.id, user.id)

    def submit_view(self, user_id: str, view_id: str, values: dict[str, dict[str, object]]) -> ActionResult:
        """Submit a modal the bot opened, `values` as block_id -> action_id -> typed value; the bot gets
        `view_submission`. An empty ack closes the view; `response_action` errors/update/push/clear apply."""
        user, view = self._user(user_id), self.workspace.modals.find(view_id=view_id)
        if view is None or view.user != user_id:
            raise SlackError("not_found")
        state = payloads.state_values(view.definition.get("blocks", []), values)
        view_json = view.to_api(self.workspace.identity, state)
        trigger = self.workspace.modals.issue_trigger(user.id)
        payload = payloads.view_submission_payload(self.workspace.identity, user, view_json, trigger)
        delivery = self.deliverer.form("interactivity", {"payload": json.dumps(payload)})
        if delivery.ok:
            self._apply_response_action(user_id, view_id, delivery.response_json())
        return ActionResult("", [delivery])

    # --- test hooks ---------------------------------------------------------------------------------------

    def deliver_event(
        self,
        event: JSON,
        *,
        times: int = 1,
        event_id: str | None = None,
        bad_signature: bool = False,
        timestamp: int | None = None,
    ) -> list[Delivery]:
        """Deliver any event, wrapped in an envelope; `times` > 1 re-sends the same event_id (as Slack's duplicates
        do); `bad_signature` or an old `timestamp` make a delivery a signed request should reject with 401."""
        envelope = payloads.event_envelope(self.workspace.identity, event, event_id)
        deliveries: list[Delivery] = []
        for _ in range(times):
            deliveries += self.deliverer.event(envelope, bad_signature=bad_signature, timestamp=timestamp)
        return deliveries

    def verify_request_url(self) -> bool:
        """Slack's url_verification handshake: does the Request URL echo the challenge?"""
        challenge = f"challenge-{time.time_ns()}"
        body = json.dumps(payloads.url_verification(self.workspace.identity, challenge)).encode()
        delivery = self.deliverer.send("url_verification", body, "application/json")
        return delivery.ok and challenge in delivery.response_body.decode(errors="replace")

    # --- what tests and demos look at -------------------------------------------------------------------

    def messages(self, channel_id: str) -> list[JSON]:
        """A channel's top-level messages, oldest first, as conversations.history shows them."""
        return self.workspace.history(channel_id)

    def replies(self, channel_id: str, thread_ts: str) -> list[JSON]:
        """The replies in a thread, oldest first, without the parent."""
        return self.workspace.thread(channel_id, thread_ts)[1:]

    def ephemerals(self, user_id: str) -> list[Ephemeral]:
        return self.workspace.ephemerals(user_id)

    def files(self) -> list[File]:
        return self.workspace.files()

    def views(self, user_id: str) -> list[JSON]:
        """The modals open for a person, bottom of the stack first, as views.open returned them."""
        return [view.to_api(self.workspace.identity) for view in self.workspace.modals.views(user_id)]

    @property
    def deliveries(self) -> list[Delivery]:
        """Every request sent to the bot so far (url, headers, body, status, elapsed), oldest first."""
        return self.deliverer.records()

    def wait_for(self, predicate: Callable[[], T], timeout: float = 5.0, interval: float = 0.05) -> T:
        """Poll `predicate` until it returns something truthy, and return that; TimeoutError after `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            result = predicate()
            if result:
                return result
            if time.monotonic() > deadline:
                raise TimeoutError(f"condition not met within {timeout} s")
            time.sleep(interval)

    # --- helpers ----------------------------------------------------------------------------------------

    def _deliver_if_bot_sees(self, channel: Channel, event: JSON) -> list[Delivery]:
        # Slack sends channel events only for conversations the app is a member of.
        if self.bot_user_id not in channel.members:
            return []
        return self.deliver_event(event)

    def _show_command_ack(self, delivery: Delivery, channel_id: str, user_id: str) -> str:
        answer = delivery.response_json()
        text = str(answer.get("text") or "") if answer else delivery.response_body.decode(errors="replace")
        blocks = answer.get("blocks")
        if not (text or blocks):
            return ""
        if answer.get("response_type") == "in_channel":
            self.workspace.post(channel_id, self.bot_user_id, text, blocks=blocks)
        else:
            self.workspace.post_ephemeral(channel_id, user_id, text, blocks=blocks)
        return text

    def _apply_response_action(self, user_id: str, view_id: str, answer: JSON) -> None:
        modals, action = self.workspace.modals, answer.get("response_action")
        if action == "errors":
            return  # the modal stays open, showing the errors next to the inputs
        if action == "update":
            modals.update(view_id, answer["view"])
        elif action == "push":
            modals.open(user_id, answer["view"], previous=modals.find(view_id=view_id))
        elif action == "clear":
            for view in modals.views(user_id):
                modals.close(view.id)
        else:
            modals.close(view_id)

    def _user(self, user_id: str) -> User:
        user = self.workspace.user(user_id)
        if user is None:
            raise SlackError("user_not_found")
        return user

    def _channel(self, channel_id: str) -> Channel:
        channel = self.workspace.channel(channel_id)
        if channel is None:
            raise SlackError("channel_not_found")
        return channel

    def _member_channel(self, user_id: str, channel_id: str) -> Channel:
        channel = self._channel(channel_id)
        if user_id not in channel.members:
            raise SlackError("not_in_channel")
        return channel

    def _message(self, channel_id: str, ts: str) -> JSON:
        message = self.workspace.message(channel_id, ts)
        if message is None:
            raise SlackError("message_not_found")
        return self.workspace.message_json(message)

    def _ephemeral(self, user_id: str, ts: str) -> Ephemeral | None:
        return next((e for e in self.workspace.ephemerals(user_id) if e.ts == ts), None)


def _button_action(blocks: list[JSON], action_id: str, block_id: str | None) -> JSON:
    """The `actions[0]` entry for a click on the button `action_id`, which must be on the message."""
    for block in blocks:
        elements = list(block.get("elements", [])) if block.get("type") == "actions" else []
        elements += [block["accessory"]] if isinstance(block.get("accessory"), dict) else []
        if block_id is not None and block.get("block_id") != block_id:
            continue
        for element in elements:
            if element.get("type") == "button" and element.get("action_id") == action_id:
                action: JSON = {"type": "button", "action_id": action_id, "block_id": block.get("block_id", "")}
                action |= {"text": element.get("text"), "value": element.get("value")}
                return action | ({"style": element["style"]} if "style" in element else {})
    raise ValueError(f"no button with action_id {action_id!r} on that message")
