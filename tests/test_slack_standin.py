"""The Slack stand-in, checked with Slack's own clients: slack_sdk's WebClient against its Web API, and a real
slack_bolt App (served over HTTP) receiving what it delivers."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from slack_bolt import Ack, App, Respond, Say
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier

from bot.standins.slack import SlackStandIn, sign
from bot.standins.slack.seed import ADMIN, ALICE, ALICE_DM, GENERAL

REPO = Path(__file__).resolve().parent.parent
BOT = "U0FTBOT"


# --- fixtures: the stand-in, a WebClient, a recording receiver, a real Bolt app ---------------------------


@pytest.fixture
def standin() -> Iterator[SlackStandIn]:
    with SlackStandIn(delivery_timeout=2.0) as running:
        yield running


@pytest.fixture
def client(standin: SlackStandIn) -> WebClient:
    return WebClient(token=standin.bot_token, base_url=standin.api_url)


@dataclass
class Receiver:
    """A stand-in for the bot that records each request; `delays`/`statuses` script its first answers."""

    url: str = ""
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    delays: list[float] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.requests]


@pytest.fixture
def receiver(standin: SlackStandIn) -> Iterator[Receiver]:
    recording = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            recording.requests.append((dict(self.headers.items()), body))
            time.sleep(recording.delays.pop(0) if recording.delays else 0)
            self.send_response(recording.statuses.pop(0) if recording.statuses else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    recording.url = f"http://127.0.0.1:{server.server_address[1]}/slack/events"
    standin.request_url = recording.url
    yield recording
    server.shutdown()
    server.server_close()


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def bolt_app(standin: SlackStandIn) -> Iterator[App]:
    """A real Bolt App, talking to the stand-in's Web API and served over HTTP as the bot would be."""
    app = App(
        client=WebClient(token=standin.bot_token, base_url=standin.api_url),
        signing_secret=standin.signing_secret,
    )
    server = make_server(
        "127.0.0.1", 0, SlackRequestHandler(app), server_class=_ThreadingWSGIServer, handler_class=_QuietHandler
    )
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    standin.request_url = f"http://127.0.0.1:{server.server_address[1]}/slack/events"
    yield app
    server.shutdown()
    server.server_close()


# --- Web API, through slack_sdk's WebClient ---------------------------------------------------------------


def test_when_auth_test_is_called_then_it_names_the_bot_and_the_team(client: WebClient) -> None:
    answer = client.auth_test()
    assert (answer["user_id"], answer["bot_id"], answer["team_id"]) == (BOT, "B0FTBOT", "T0STANDIN")


@pytest.mark.parametrize(
    ("token", "error"), [("xoxb-wrong", "invalid_auth"), (None, "not_authed")], ids=["wrong", "missing"]
)
def test_when_the_token_is_wrong_or_missing_then_the_api_refuses(
    standin: SlackStandIn, token: str | None, error: str
) -> None:
    with pytest.raises(SlackApiError) as refused:
        WebClient(token=token, base_url=standin.api_url).conversations_list()
    assert refused.value.response["error"] == error


def test_when_a_method_is_unknown_then_the_api_answers_unknown_method(client: WebClient) -> None:
    with pytest.raises(SlackApiError) as refused:
        client.api_call("chat.sendCarrierPigeon")
    assert refused.value.response["error"] == "unknown_method"


def test_when_the_bot_posts_updates_and_deletes_then_the_channel_shows_each_step(
    standin: SlackStandIn, client: WebClient
) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "_thinking…_"}}]
    posted = client.chat_postMessage(channel=GENERAL, text="thinking…", blocks=blocks)
    assert posted["message"]["bot_id"] == "B0FTBOT" and posted["message"]["blocks"] == blocks

    client.chat_update(channel=GENERAL, ts=posted["ts"], text="The answer is 42.", blocks=[])
    (message,) = standin.messages(GENERAL)
    assert (message["text"], message["blocks"], message["edited"]["user"]) == ("The answer is 42.", [], BOT)

    client.chat_delete(channel=GENERAL, ts=posted["ts"])
    assert standin.messages(GENERAL) == []


def test_when_the_bot_posts_to_a_user_id_then_it_lands_in_their_dm(standin: SlackStandIn, client: WebClient) -> None:
    posted = client.chat_postMessage(channel=ALICE, text="hello Alice")
    assert posted["channel"] == ALICE_DM and standin.messages(ALICE_DM)[0]["text"] == "hello Alice"


def test_when_the_bot_is_not_in_a_channel_then_it_cannot_post_or_read_there(
    standin: SlackStandIn, client: WebClient
) -> None:
    secret = standin.workspace.add_channel("secret", private=True, members=[ALICE])
    for call in (
        lambda: client.chat_postMessage(channel=secret.id, text="hi"),
        lambda: client.conversations_history(channel=secret.id),
    ):
        with pytest.raises(SlackApiError) as refused:
            call()
        assert refused.value.response["error"] == "not_in_channel"


def test_when_the_bot_posts_an_ephemeral_then_only_that_user_sees_it(standin: SlackStandIn, client: WebClient) -> None:
    answer = client.chat_postEphemeral(channel=GENERAL, user=ALICE, text="only for you")
    assert [e.text for e in standin.ephemerals(ALICE)] == ["only for you"]
    assert standin.ephemerals(ADMIN) == [] and standin.messages(GENERAL) == []
    assert standin.ephemerals(ALICE)[0].ts == answer["message_ts"]


def test_when_the_bot_reacts_then_reactions_get_lists_it_and_a_second_add_is_refused(client: WebClient) -> None:
    ts = client.chat_postMessage(channel=GENERAL, text="answer")["ts"]
    client.reactions_add(channel=GENERAL, timestamp=ts, name="eyes")
    assert client.reactions_get(channel=GENERAL, timestamp=ts)["message"]["reactions"] == [
        {"name": "eyes", "users": [BOT], "count": 1}
    ]
    with pytest.raises(SlackApiError) as refused:
        client.reactions_add(channel=GENERAL, timestamp=ts, name="eyes")
    assert refused.value.response["error"] == "already_reacted"
    client.reactions_remove(channel=GENERAL, timestamp=ts, name="eyes")
    assert "reactions" not in client.reactions_get(channel=GENERAL, timestamp=ts)["message"]


@pytest.mark.parametrize(("user", "is_admin"), [(ALICE, False), (ADMIN, True), (BOT, False)])
def test_when_users_info_is_asked_then_is_admin_tells_the_workspace_admin_apart(
    client: WebClient, user: str, is_admin: bool
) -> None:
    info = client.users_info(user=user)["user"]
    assert info["is_admin"] is is_admin and info["profile"]["real_name"]
    assert info["is_bot"] is (user == BOT)


def test_when_history_is_read_page_by_page_then_every_message_comes_once_newest_first(
    standin: SlackStandIn, client: WebClient
) -> None:
    posted = [standin.post_message(ALICE, GENERAL, f"message {i}").ts for i in range(7)]
    seen, cursor, pages = [], None, 0
    while True:
        page = client.conversations_history(channel=GENERAL, limit=3, cursor=cursor)
        seen += [m["ts"] for m in page["messages"]]
        pages += 1
        cursor = page["response_metadata"]["next_cursor"]
        assert page["has_more"] is bool(cursor)
        if not cursor:
            break
    assert (seen, pages) == (posted[::-1], 3)


def test_when_history_is_windowed_then_oldest_and_latest_bound_it(standin: SlackStandIn, client: WebClient) -> None:
    ts = [standin.post_message(ALICE, GENERAL, f"message {i}").ts for i in range(5)]
    window = client.conversations_history(channel=GENERAL, oldest=ts[1], latest=ts[3])["messages"]
    inclusive = client.conversations_history(channel=GENERAL, oldest=ts[1], latest=ts[3], inclusive=True)["messages"]
    assert [m["ts"] for m in window] == [ts[2]]
    assert [m["ts"] for m in inclusive] == [ts[3], ts[2], ts[1]]


def test_when_replies_are_read_page_by_page_then_the_parent_comes_first_then_replies_in_order(
    standin: SlackStandIn, client: WebClient
) -> None:
    parent = standin.post_message(ALICE, GENERAL, "question").ts
    replies = [client.chat_postMessage(channel=GENERAL, thread_ts=parent, text=f"r{i}")["ts"] for i in range(5)]
    seen, cursor = [], None
    while True:
        page = client.conversations_replies(channel=GENERAL, ts=parent, limit=2, cursor=cursor)
        seen += [m["ts"] for m in page["messages"]]
        if not (cursor := page["response_metadata"]["next_cursor"]):
            break
    assert seen == [parent, *replies]
    (top,) = client.conversations_history(channel=GENERAL)["messages"]
    assert (top["reply_count"], top["reply_users"], top["latest_reply"]) == (5, [BOT], replies[-1])


def test_when_conversations_are_listed_then_types_filter_them_and_pages_cover_all(
    standin: SlackStandIn, client: WebClient
) -> None:
    for i in range(3):
        standin.workspace.add_channel(f"team-{i}", members=[ALICE])
    publics = client.conversations_list(limit=2)
    assert len(publics["channels"]) == 2 and publics["response_metadata"]["next_cursor"]
    everything = [
        c["id"] for page in client.conversations_list(types="public_channel,im", limit=2) for c in page["channels"]
    ]
    assert {GENERAL, ALICE_DM} <= set(everything) and len(everything) == len(set(everything)) == 6


def test_when_a_method_is_rate_limited_then_it_answers_429_with_retry_after_then_recovers(
    standin: SlackStandIn, client: WebClient
) -> None:
    standin.rate_limit("conversations.history", times=1, retry_after=7)
    with pytest.raises(SlackApiError) as limited:
        client.conversations_history(channel=GENERAL)
    assert limited.value.response.status_code == 429
    assert limited.value.response.headers["Retry-After"] == "7"
    assert limited.value.response["error"] == "ratelimited"
    assert client.conversations_history(channel=GENERAL)["ok"]


def test_when_a_file_is_uploaded_with_files_upload_v2_then_it_is_shared_into_the_thread(
    standin: SlackStandIn, client: WebClient
) -> None:
    parent = standin.post_message(ALICE, GENERAL, "export please").ts
    uploaded = client.files_upload_v2(
        channel=GENERAL,
        thread_ts=parent,
        content=b"q,a\nwho,ada\n",
        filename="qa.csv",
        title="Q&A",
        initial_comment="Here it is",
    )
    (file,) = standin.files()
    assert (file.data, file.title, file.channels, file.thread_ts) == (b"q,a\nwho,ada\n", "Q&A", [GENERAL], parent)
    (reply,) = standin.replies(GENERAL, parent)
    assert reply["text"] == "Here it is" and reply["files"][0]["id"] == uploaded["file"]["id"]
    info = client.files_info(file=file.id)["file"]
    with urllib.request.urlopen(info["url_private"]) as download:
        assert download.read() == b"q,a\nwho,ada\n"


def test_when_blocks_and_token_come_form_encoded_then_the_blocks_string_is_decoded(standin: SlackStandIn) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*hi*"}}]
    form = {"token": standin.bot_token, "channel": GENERAL, "blocks": json.dumps(blocks)}
    request = urllib.request.Request(standin.api_url + "chat.postMessage", urllib.parse.urlencode(form).encode())
    with urllib.request.urlopen(request) as response:
        assert json.load(response)["ok"]
    assert standin.messages(GENERAL)[0]["blocks"] == blocks


def test_when_a_trigger_is_spent_then_views_open_refuses_it_the_second_time(
    standin: SlackStandIn, client: WebClient
) -> None:
    trigger = standin.workspace.modals.issue_trigger(ADMIN)
    view = {"type": "modal", "title": {"type": "plain_text", "text": "Retrain"}, "blocks": []}
    opened = client.views_open(trigger_id=trigger, view=view)["view"]
    assert [v["id"] for v in standin.views(ADMIN)] == [opened["id"]]
    with pytest.raises(SlackApiError) as refused:
        client.views_open(trigger_id=trigger, view=view)
    assert refused.value.response["error"] == "invalid_trigger_id"


# --- signing and delivery, seen by a recording receiver ---------------------------------------------------


def test_when_a_body_is_signed_then_slack_sdks_verifier_accepts_it_and_rejects_other_bodies() -> None:
    verifier = SignatureVerifier("s3cret")
    headers = sign(b'{"a": 1}', "s3cret")
    assert verifier.is_valid_request(b'{"a": 1}', headers)
    assert not verifier.is_valid_request(b'{"a": 2}', headers)


def test_when_a_person_mentions_the_bot_then_a_message_and_an_app_mention_arrive_signed(
    standin: SlackStandIn, receiver: Receiver
) -> None:
    ts = standin.post_message(ALICE, GENERAL, f"<@{BOT}> how many vacation days?").ts
    verifier = SignatureVerifier(standin.signing_secret)
    assert all(verifier.is_valid_request(body, headers) for headers, body in receiver.requests)
    assert all(headers["Content-Type"] == "application/json" for headers, _ in receiver.requests)
    message, mention = receiver.events()
    assert message["type"] == "event_callback" and message["event_id"] != mention["event_id"]
    assert message["event"]["channel_type"] == "channel" and "channel_type" not in mention["event"]
    assert (message["event"]["type"], mention["event"]["type"]) == ("message", "app_mention")
    assert mention["event"]["ts"] == ts and mention["authorizations"][0]["user_id"] == BOT
    assert {"token", "team_id", "api_app_id", "event_time", "is_ext_shared_channel", "event_context"} <= set(mention)


def test_when_a_person_writes_in_their_dm_then_only_a_message_im_event_arrives(
    standin: SlackStandIn, receiver: Receiver
) -> None:
    standin.post_message(ALICE, ALICE_DM, f"<@{BOT}> hi")
    (event,) = [e["event"] for e in receiver.events()]
    assert (event["type"], event["channel_type"], event["channel"]) == ("message", "im", ALICE_DM)


def test_when_the_bot_is_not_in_the_channel_then_nothing_is_delivered(
    standin: SlackStandIn, receiver: Receiver
) -> None:
    random = standin.workspace.add_channel("random", members=[ALICE])
    standin.post_message(ALICE, random.id, f"<@{BOT}> are you there?")
    assert receiver.requests == []


def test_when_the_bot_answers_too_slowly_then_slack_retries_with_the_same_event_id(
    standin: SlackStandIn, receiver: Receiver
) -> None:
    standin.deliverer.timeout = 0.5
    receiver.delays = [1.5]
    deliveries = standin.post_message(ALICE, GENERAL, "hello").deliveries
    assert [(d.retry_num, d.error) for d in deliveries] == [(0, "http_timeout"), (1, None)]
    first, retry = receiver.requests
    assert retry[0]["X-Slack-Retry-Num"] == "1" and retry[0]["X-Slack-Retry-Reason"] == "http_timeout"
    assert json.loads(first[1])["event_id"] == json.loads(retry[1])["event_id"]


def test_when_the_bot_keeps_failing_then_slack_stops_after_three_retries(
    standin: SlackStandIn, receiver: Receiver
) -> None:
    receiver.statuses = [500] * 4
    deliveries = standin.post_message(ALICE, GENERAL, "hello").deliveries
    assert [d.retry_num for d in deliveries] == [0, 1, 2, 3]
    assert {h.get("X-Slack-Retry-Reason") for h, _ in receiver.requests[1:]} == {"http_error"}


def test_when_an_event_is_delivered_three_times_on_purpose_then_each_has_the_same_event_id(
    standin: SlackStandIn, receiver: Receiver
) -> None:
    event = {"type": "app_mention", "user": ALICE, "text": f"<@{BOT}> hi", "ts": "1.000001", "channel": GENERAL}
    standin.deliver_event(event, times=3)
    assert len({e["event_id"] for e in receiver.events()}) == 1 and len(receiver.requests) == 3


def test_when_people_react_and_edit_then_reaction_and_message_changed_events_arrive(
    standin: SlackStandIn, receiver: Receiver, client: WebClient
) -> None:
    answer = client.chat_postMessage(channel=GENERAL, text="42")["ts"]
    standin.add_reaction(ALICE, GENERAL, answer, "+1")
    standin.remove_reaction(ALICE, GENERAL, answer, "+1")
    mine = standin.post_message(ALICE, GENERAL, "typo").ts
    standin.edit_message(ALICE, GENERAL, mine, "fixed")
    added, removed, _, changed = (e["event"] for e in receiver.events())
    assert (added["type"], added["reaction"], added["item_user"], added["item"]["ts"]) == (
        "reaction_added",
        "+1",
        BOT,
        answer,
    )
    assert removed["type"] == "reaction_removed"
    assert (changed["subtype"], changed["message"]["text"], changed["previous_message"]["text"]) == (
        "message_changed",
        "fixed",
        "typo",
    )


# --- a real Bolt App on the other end -------------------------------------------------------------------


@pytest.mark.parametrize(
    "tamper", [{"bad_signature": True}, {"timestamp": int(time.time()) - 600}], ids=["forged", "stale"]
)
def test_when_a_delivery_is_forged_or_stale_then_bolt_answers_401(
    standin: SlackStandIn, bolt_app: App, tamper: dict[str, Any]
) -> None:
    heard: list[dict[str, Any]] = []
    bolt_app.event("app_mention")(lambda event: heard.append(event))
    event = {"type": "app_mention", "user": ALICE, "text": f"<@{BOT}> hi", "ts": "1.000001", "channel": GENERAL}
    (delivery,) = standin.deliver_event(event, **tamper)
    assert delivery.status == 401 and heard == []


def test_when_the_request_url_is_saved_then_bolt_echoes_the_challenge(standin: SlackStandIn, bolt_app: App) -> None:
    assert standin.verify_request_url()


def test_when_mentioned_then_a_bolt_app_answers_in_the_thread_and_wait_for_sees_the_final_text(
    standin: SlackStandIn, bolt_app: App
) -> None:
    @bolt_app.event("app_mention")
    def answer(event: dict[str, Any], say: Say, client: WebClient) -> None:
        placeholder = say(text="thinking…", thread_ts=event["ts"])
        client.chat_update(channel=event["channel"], ts=placeholder["ts"], text="You have 25 vacation days.")

    bolt_app.event("message")(lambda: None)
    ts = standin.post_message(ALICE, GENERAL, f"<@{BOT}> how many vacation days?").ts
    final = standin.wait_for(lambda: [r for r in standin.replies(GENERAL, ts) if "thinking" not in r["text"]])
    assert final[0]["text"] == "You have 25 vacation days." and final[0]["bot_id"] == "B0FTBOT"
    assert all(d.status == 200 for d in standin.deliveries)


def test_when_a_button_is_clicked_then_bolts_action_listener_fires_and_respond_replaces_the_message(
    standin: SlackStandIn, bolt_app: App, client: WebClient
) -> None:
    clicks: list[dict[str, Any]] = []

    @bolt_app.action("feedback_up")
    def on_click(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        clicks.append(body)
        respond(replace_original=True, text="Thanks for the feedback!")

    button = {"type": "button", "action_id": "feedback_up", "text": {"type": "plain_text", "text": "👍"}, "value": "7"}
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": "42"}},
        {"type": "actions", "block_id": "fb", "elements": [button]},
    ]
    ts = client.chat_postMessage(channel=GENERAL, text="42", blocks=blocks)["ts"]

    result = standin.click_button(ALICE, GENERAL, ts, "feedback_up")
    assert result.deliveries[0].status == 200
    standin.wait_for(lambda: standin.messages(GENERAL)[0]["text"] == "Thanks for the feedback!")
    (body,) = clicks
    assert body["type"] == "block_actions" and body["actions"][0]["type"] == "button"
    assert (body["actions"][0]["value"], body["actions"][0]["block_id"], body["container"]["message_ts"]) == (
        "7",
        "fb",
        ts,
    )
    assert body["user"]["id"] == ALICE and body["trigger_id"] and body["response_url"].startswith(standin.base_url)


def test_when_a_slash_command_is_run_then_the_ack_text_is_returned_and_a_later_respond_is_ephemeral(
    standin: SlackStandIn, bolt_app: App
) -> None:
    @bolt_app.command("/finetune")
    def finetune(ack: Ack, command: dict[str, Any], respond: Respond) -> None:
        ack(f"Queued: {command['text']}")
        respond(text="Run 3 finished.")

    assert standin.slash_command(ADMIN, GENERAL, "/finetune", "status") == "Queued: status"
    standin.wait_for(lambda: len(standin.ephemerals(ADMIN)) == 2)
    # The respond() may land before Slack shows the ack: both arrive, in either order.
    assert sorted(e.text for e in standin.ephemerals(ADMIN)) == ["Queued: status", "Run 3 finished."]
    (delivery,) = standin.deliveries
    assert delivery.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert {"response_url", "trigger_id", "team_domain", "channel_name", "user_name"} <= set(delivery.payload)


def test_when_a_modal_is_submitted_then_bolts_view_listener_gets_the_typed_values(
    standin: SlackStandIn, bolt_app: App
) -> None:
    submitted: list[dict[str, Any]] = []
    view = {
        "type": "modal",
        "callback_id": "retrain",
        "private_metadata": "run-7",
        "title": {"type": "plain_text", "text": "Retrain"},
        "submit": {"type": "plain_text", "text": "Start"},
        "blocks": [
            {
                "type": "input",
                "block_id": "epochs",
                "label": {"type": "plain_text", "text": "Epochs"},
                "element": {"type": "plain_text_input", "action_id": "value"},
            }
        ],
    }

    @bolt_app.command("/finetune")
    def open_modal(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        client.views_open(trigger_id=body["trigger_id"], view=view)

    @bolt_app.view("retrain")
    def on_submit(ack: Ack, view: dict[str, Any]) -> None:
        epochs = view["state"]["values"]["epochs"]["value"]["value"]
        if not str(epochs).isdigit():
            ack(response_action="errors", errors={"epochs": "A whole number, please"})
            return
        ack()
        submitted.append(view)

    standin.slash_command(ADMIN, GENERAL, "/finetune", "")
    (opened,) = standin.wait_for(lambda: standin.views(ADMIN))
    refused = standin.submit_view(ADMIN, opened["id"], {"epochs": {"value": "lots"}})
    assert refused.response == {"response_action": "errors", "errors": {"epochs": "A whole number, please"}}
    assert len(standin.views(ADMIN)) == 1

    standin.submit_view(ADMIN, opened["id"], {"epochs": {"value": "3"}})
    (view_json,) = submitted
    assert view_json["state"]["values"] == {"epochs": {"value": {"type": "plain_text_input", "value": "3"}}}
    assert (view_json["private_metadata"], view_json["callback_id"]) == ("run-7", "retrain")
    assert standin.views(ADMIN) == []


# --- the web chat page ------------------------------------------------------------------------------------


def test_when_the_page_is_fetched_then_it_is_one_self_contained_html_file(standin: SlackStandIn) -> None:
    with urllib.request.urlopen(standin.base_url) as response:
        page = response.read().decode()
    assert page.startswith("<!doctype html>") and "<script>" in page and "src=" not in page


def test_when_someone_types_at_ftbot_in_the_chat_then_the_bot_is_mentioned(
    standin: SlackStandIn, receiver: Receiver
) -> None:
    request = {"user": ALICE, "channel": GENERAL, "text": "@ftbot what is our VPN?"}
    post = urllib.request.Request(standin.base_url + "_standin/post", json.dumps(request).encode())
    with urllib.request.urlopen(post) as response:
        assert json.load(response)["ok"]
    with urllib.request.urlopen(f"{standin.base_url}_standin/state?user={ALICE}&channel={GENERAL}") as response:
        state = json.load(response)
    assert state["messages"][0]["text"] == f"<@{BOT}> what is our VPN?"
    assert [e["event"]["type"] for e in receiver.events()] == ["message", "app_mention"]


# --- the code itself ---------------------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("ruff", path=str(Path(sys.executable).parent)) is None, reason="ruff not installed")
def test_when_ruff_checks_the_stand_in_then_lint_and_format_are_clean() -> None:
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent))
    paths = ["bot/standins/slack", "tests/test_slack_standin.py"]
    for command in (["check", *paths], ["format", "--check", *paths]):
        result = subprocess.run([str(ruff), *command], cwd=REPO, capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr
