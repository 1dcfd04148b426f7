"""The Slack history connector against the local Slack stand-in, over HTTP with slack_sdk's WebClient: which
threads become Q&A pairs, context or nothing, which channels are read, and how syncs resume and catch up."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from slack_sdk import WebClient

from bot.standins.slack import SlackStandIn
from bot.standins.slack.seed import ALICE, GENERAL
from connectors.base import SourceUnavailable, SyncBatch
from connectors.slack_history import SlackHistoryConnector, slack_client
from ftbot.config import load_settings
from ftbot.records import RawRecord, Skipped
from ftbot.source_config import SlackSourceConfig

BOT = "U0FTBOT"
BOB = "U0BOB"  # the expert
CAROL = "U0CAROL"
DEPLOYBOT = "U0DEPLOY"  # another app's bot user
RANDOM = "C0RANDOM"  # public, ftbot is in it
LOUNGE = "C0LOUNGE"  # public, ftbot is not in it
HR = "G0HR"  # private, ftbot is in it
SECRET = "G0SECRET"  # private, ftbot is in it, never listed
DAY = 86_400


# --- fixtures and helpers ---------------------------------------------------------------------------------


@pytest.fixture
def standin() -> Iterator[SlackStandIn]:
    with SlackStandIn() as running:
        workspace = running.workspace
        workspace.add_user("bob", "Bob Ferreira", user_id=BOB)
        workspace.add_user("carol", "Carol Jensen", user_id=CAROL)
        workspace.add_bot("deploybot", user_id=DEPLOYBOT)
        for person in (BOB, CAROL, DEPLOYBOT):
            workspace.join(GENERAL, person)
        people = [ALICE, BOB, CAROL]
        workspace.add_channel("random", channel_id=RANDOM, members=[*people, BOT])
        workspace.add_channel("lounge", channel_id=LOUNGE, members=people)
        workspace.add_channel("hr", channel_id=HR, private=True, members=[*people, BOT])
        workspace.add_channel("secret", channel_id=SECRET, private=True, members=[*people, BOT])
        yield running


def connector(standin: SlackStandIn, **config: object) -> SlackHistoryConnector:
    client = WebClient(token=standin.bot_token, base_url=standin.api_url)
    return SlackHistoryConnector(SlackSourceConfig(name="slack", **config), client)  # type: ignore[arg-type]


@dataclass
class Synced:
    batches: list[SyncBatch]
    records: dict[str, RawRecord] = field(default_factory=dict)
    skipped: list[Skipped] = field(default_factory=list)

    @property
    def cursor(self) -> str | None:
        return self.batches[-1].cursor if self.batches else None


def collect(batches: Iterable[SyncBatch]) -> Synced:
    """What the engine would store from these batches: the latest record per external id, and the skips."""
    synced = Synced(list(batches))
    for batch in synced.batches:
        for item in batch.items:
            if isinstance(item, Skipped):
                synced.skipped.append(item)
            else:
                synced.records[item.external_id] = item
    return synced


def thread(standin: SlackStandIn, channel: str, question: str, *replies: tuple[str, str], asker: str = ALICE) -> str:
    """Post a question and its replies (person, text); returns the record id the thread should get."""
    root = standin.post_message(asker, channel, question).ts
    for person, text in replies:
        standin.post_message(person, channel, text, thread_ts=root)
    return f"{channel}:{root}"


def reply_ts(standin: SlackStandIn, record_id: str) -> list[str]:
    channel, root = record_id.split(":")
    return [reply["ts"] for reply in standin.replies(channel, root)]


# --- what threads become ----------------------------------------------------------------------------------

REPLIES = [(CAROL, "Restart the VPN client."), (BOB, "Use the VPN portal instead."), (CAROL, "Or call IT.")]


@pytest.mark.parametrize(
    ("reactions", "answer"),
    [
        pytest.param([(0, "+1", ALICE), (0, "+1", BOB), (2, "white_check_mark", ALICE)], 2, id="check-beats-upvotes"),
        pytest.param([(0, "heavy_check_mark", ALICE)], 0, id="heavy-check-counts"),
        pytest.param([(0, "+1", BOB), (2, "thumbsup", ALICE), (2, "+1::skin-tone-3", BOB)], 2, id="most-upvotes"),
        pytest.param([], 1, id="expert-without-reactions"),
    ],
)
def test_when_a_thread_has_an_accepted_answer_then_it_becomes_a_qa_pair_with_that_answer(
    standin: SlackStandIn, reactions: list[tuple[int, str, str]], answer: int
) -> None:
    record_id = thread(standin, GENERAL, f"<@{CAROL}> how do I reach the VPN?", *REPLIES)
    replies = reply_ts(standin, record_id)
    for index, name, person in reactions:
        standin.add_reaction(person, GENERAL, replies[index], name)

    record = collect(connector(standin, experts=(BOB,)).sync(None)).records[record_id]

    assert record.kind == "qa"
    assert [(m.role, m.content) for m in record.messages] == [
        ("user", f"<@{CAROL}> how do I reach the VPN?"),  # mentions stay: the anonymizer pseudonymizes them
        ("assistant", REPLIES[answer][1]),
    ]
    root = record_id.split(":")[1]
    assert record.url == f"{standin.base_url}archives/{GENERAL}/p{root.replace('.', '')}"
    assert record.created_at is not None and record.updated_at is not None
    assert record.created_at < record.updated_at  # the last reply came after the question


def test_when_no_reply_is_accepted_then_the_thread_is_context_and_a_lone_question_too_and_chatter_is_skipped(
    standin: SlackStandIn,
) -> None:
    discussed = thread(standin, GENERAL, "Is the office open on Friday?", (CAROL, "Not sure."), (ALICE, "Thanks!"))
    lonely = thread(standin, GENERAL, "Who owns the printer?")
    chatter = thread(standin, GENERAL, "Good morning, everyone")

    synced = collect(connector(standin, experts=(BOB,)).sync(None))

    assert set(synced.records) == {discussed, lonely}
    assert {r.kind for r in synced.records.values()} == {"chunk"}  # never "qa", never a trainable "chat"
    assert synced.records[discussed].text == "Is the office open on Friday?\nReply: Not sure.\nAsker: Thanks!"
    assert synced.records[lonely].text == "Who owns the printer?"
    assert [s.where for s in synced.skipped] == [f"#general message {chatter.split(':')[1]}"]


def test_when_bots_and_slack_notices_post_then_they_are_no_records_and_no_part_of_a_thread(
    standin: SlackStandIn,
) -> None:
    standin.post_message(CAROL, GENERAL, f"<@{CAROL}> has joined the channel", subtype="channel_join")
    standin.post_message(ALICE, GENERAL, "set the channel topic: questions?", subtype="channel_topic")
    standin.post_message(DEPLOYBOT, GENERAL, "Deploy finished. Any problems?")
    answered_by_bot = thread(standin, GENERAL, f"<@{BOT}> how many vacation days?")
    client = WebClient(token=standin.bot_token, base_url=standin.api_url)
    client.chat_postMessage(channel=GENERAL, thread_ts=answered_by_bot.split(":")[1], text="28 days, says ftbot.")

    synced = collect(connector(standin).sync(None))

    assert (list(synced.records), synced.skipped) == ([answered_by_bot], [])
    assert synced.records[answered_by_bot].text == f"<@{BOT}> how many vacation days?"  # ftbot's reply left out


# --- which channels --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "channels"),
    [
        pytest.param({}, {GENERAL, RANDOM}, id="every-public-channel-ftbot-is-in"),
        pytest.param({"channels": ("random",)}, {RANDOM}, id="listed-by-name"),
        pytest.param({"channels": (GENERAL,), "private_channels": ("hr",)}, {GENERAL, HR}, id="listed-private"),
        pytest.param({"private_channels": (HR,)}, {GENERAL, RANDOM, HR}, id="private-by-id-plus-every-public"),
    ],
)
def test_when_channels_are_listed_or_not_then_those_are_read_and_private_ones_only_when_listed(
    standin: SlackStandIn, config: dict[str, object], channels: set[str]
) -> None:
    for channel in (GENERAL, RANDOM, LOUNGE, HR, SECRET):
        standin.workspace.post(channel, ALICE, f"A question in {channel}?")

    synced = collect(connector(standin, **config).sync(None))

    assert {record_id.split(":")[0] for record_id in synced.records} == channels


@pytest.mark.parametrize(
    ("config", "message"),
    [
        pytest.param({"channels": ("nope",)}, "Slack channel nope not found", id="unknown-channel"),
        pytest.param({"channels": ("lounge",)}, f"ftbot is not in Slack channel #lounge ({LOUNGE})", id="not-invited"),
        pytest.param(
            {"channels": ("hr",)}, "Slack channel hr not found (a private channel goes", id="private-as-public"
        ),
        pytest.param({"private_channels": ("G0GONE",)}, "private channel G0GONE not found", id="unknown-private"),
    ],
)
def test_when_a_listed_channel_cannot_be_read_then_the_sync_stops_before_any_batch_naming_it(
    standin: SlackStandIn, config: dict[str, object], message: str
) -> None:
    with pytest.raises(SourceUnavailable, match=message.replace("(", r"\(").replace(")", r"\)")):
        next(iter(connector(standin, **config).sync(None)))


def test_when_the_token_is_refused_then_the_sync_stops_and_says_which_setting_to_fix(standin: SlackStandIn) -> None:
    config = SlackSourceConfig(name="slack")
    client = WebClient(token="xoxb-wrong", base_url=standin.api_url)
    with pytest.raises(SourceUnavailable, match="invalid_auth.*SLACK_BOT_TOKEN"):
        list(SlackHistoryConnector(config, client).sync(None))


def test_when_slack_answers_429_then_the_sync_waits_retry_after_and_completes(standin: SlackStandIn) -> None:
    expected = {thread(standin, GENERAL, f"Question {i}?") for i in range(3)}
    standin.rate_limit("conversations.history", times=1, retry_after=1)

    started = time.monotonic()
    synced = collect(connector(standin).sync(None))

    assert time.monotonic() - started >= 1.0
    assert set(synced.records) == expected


# --- pages, cursors, resuming ----------------------------------------------------------------------------


def test_when_history_spans_several_pages_then_each_page_is_one_batch_and_every_thread_comes_once(
    standin: SlackStandIn,
) -> None:
    expected = [thread(standin, GENERAL, f"Question {i}?", (BOB, f"Answer {i}")) for i in range(5)]

    batches = list(connector(standin, channels=(GENERAL,), page_size=2, experts=(BOB,)).sync(None))

    walked = batches[:3]  # 5 threads in pages of 2; then the look-back pages re-read nothing
    assert [len(batch.items) for batch in walked] == [2, 2, 1]
    assert all(not batch.items for batch in batches[3:])
    ids = [item.external_id for batch in batches for item in batch.items if isinstance(item, RawRecord)]
    assert ids == expected[::-1]  # newest first, each once
    assert all(batch.cursor for batch in batches)


@pytest.mark.parametrize("crash_after", [1, 2, 4, 5])
def test_when_a_backfill_stops_after_some_batches_then_resuming_from_their_cursor_ends_like_one_full_sync(
    standin: SlackStandIn, crash_after: int
) -> None:
    for i in range(5):
        thread(standin, GENERAL, f"General question {i}?", (BOB, f"Answer {i}"))
    for i in range(3):
        thread(standin, RANDOM, f"Random question {i}?")
    # No look-back: it would re-read these threads (all from today) and hide a gap in what resuming reads.
    source = connector(standin, page_size=2, experts=(BOB,), thread_lookback_days=0)
    uninterrupted = collect(source.sync(None))

    crashed = collect(itertools.islice(source.sync(None), crash_after))  # the engine kept these batches
    posted_meanwhile = thread(standin, GENERAL, "Asked while the sync was down?")
    resumed = collect(source.sync(crashed.cursor))

    assert set(crashed.records) | set(resumed.records) == set(uninterrupted.records) | {posted_meanwhile}
    assert not collect(source.sync(resumed.cursor)).records  # and it is caught up


def test_when_a_backfill_resumes_then_older_history_it_had_read_is_not_read_again(standin: SlackStandIn) -> None:
    standin.workspace.shift_clock(-60 * DAY)
    older = [thread(standin, GENERAL, f"Old question {i}?") for i in range(6)]
    standin.workspace.shift_clock(0)
    recent = [thread(standin, GENERAL, f"Recent question {i}?") for i in range(2)]
    source = connector(standin, channels=(GENERAL,), page_size=2, thread_lookback_days=7)

    crashed = collect(itertools.islice(source.sync(None), 2))  # read the 2 recent and the 2 newest old threads
    resumed = collect(source.sync(crashed.cursor))

    assert set(crashed.records) == {*recent, *older[-2:]}
    assert set(resumed.records) == {*older[:-2], *recent}  # the recent ones: the look-back's late-reply check


def test_when_nothing_changed_then_an_incremental_sync_yields_nothing(standin: SlackStandIn) -> None:
    thread(standin, GENERAL, "Question?", (BOB, "Answer"))
    thread(standin, GENERAL, "Unanswered?")
    source = connector(standin, experts=(BOB,))

    full = collect(source.sync(None))
    again = collect(source.sync(full.cursor))

    assert len(full.records) == 2 and again.records == {} and again.skipped == []
    assert again.cursor == full.cursor


def test_when_syncing_incrementally_then_new_threads_and_late_replies_to_recent_ones_come_but_old_ones_wait(
    standin: SlackStandIn,
) -> None:
    standin.workspace.shift_clock(-30 * DAY)
    old = thread(standin, GENERAL, "A question from last month?", (CAROL, "Maybe."))
    standin.workspace.shift_clock(0)
    recent = thread(standin, GENERAL, "A question from today?", (CAROL, "No idea."))
    thread(standin, GENERAL, "Another question from today?", (BOB, "Answered."))
    source = connector(standin, experts=(BOB,), thread_lookback_days=7)
    full = collect(source.sync(None))

    standin.post_message(BOB, GENERAL, "Late answer.", thread_ts=recent.split(":")[1])
    standin.post_message(BOB, GENERAL, "Late answer to an old thread.", thread_ts=old.split(":")[1])
    new = thread(standin, GENERAL, "A new question?")
    incremental = collect(source.sync(full.cursor))

    assert set(incremental.records) == {recent, new}
    late = incremental.records[recent]
    assert (late.kind, late.messages[-1].content) == ("qa", "Late answer.")
    assert late.updated_at is not None and late.updated_at > full.records[recent].updated_at  # type: ignore[operator]


def test_when_a_question_is_edited_then_the_next_sync_yields_the_same_id_with_the_new_text_and_a_later_update(
    standin: SlackStandIn,
) -> None:
    record_id = thread(standin, GENERAL, "How many vacation days?", (BOB, "28."))
    source = connector(standin, experts=(BOB,))
    before = collect(source.sync(None)).records[record_id]
    cursor = collect(source.sync(None)).cursor

    standin.edit_message(ALICE, GENERAL, record_id.split(":")[1], "How many vacation days do part-timers get?")
    after = collect(source.sync(cursor)).records[record_id]

    assert after.messages[0].content == "How many vacation days do part-timers get?"
    assert after.created_at == before.created_at
    assert after.updated_at is not None and before.updated_at is not None and after.updated_at > before.updated_at


def test_when_the_cursor_is_unreadable_then_the_sync_starts_over_and_reads_everything(standin: SlackStandIn) -> None:
    record_id = thread(standin, GENERAL, "Question?")
    assert set(collect(connector(standin).sync('{"v": 99}')).records) == {record_id}
    assert set(collect(connector(standin).sync("not json")).records) == {record_id}


# --- the client ------------------------------------------------------------------------------------------


def test_when_no_token_and_no_api_url_are_set_then_slack_client_says_to_set_slack_bot_token(home: Path) -> None:
    with pytest.raises(SourceUnavailable, match="set SLACK_BOT_TOKEN"):
        slack_client(load_settings())


def test_when_a_token_or_a_stand_in_url_is_set_then_slack_client_targets_it(
    standin: SlackStandIn, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-real")
    real = slack_client(load_settings())
    assert (real.base_url, real.token) == ("https://slack.com/api/", "xoxb-real")
    monkeypatch.delenv("SLACK_BOT_TOKEN")
    monkeypatch.setenv("SLACK_API_URL", standin.api_url.rstrip("/"))  # the slash is added back
    local = slack_client(load_settings())
    assert local.base_url == standin.api_url and local.auth_test()["ok"]


# --- with the sync engine -------------------------------------------------------------------------------


def test_when_the_engine_syncs_slack_then_edits_replace_and_a_full_sync_removes_deleted_threads(
    standin: SlackStandIn, db, anonymizer, embedder
) -> None:
    from sqlalchemy import select

    from connectors.sync import SourceSync
    from ftbot.storage.models import Record

    vacation = thread(standin, GENERAL, "How many vacation days do we get?", (BOB, "Twenty-eight per year."))
    laptop = thread(standin, GENERAL, "Where do I order a laptop?", (BOB, "In the IT portal."))
    engine, source = SourceSync(db, anonymizer, embedder), connector(standin, experts=(BOB,))

    first = engine.run("slack", source, full=True)
    again = engine.run("slack", source)
    standin.edit_message(ALICE, GENERAL, vacation.split(":")[1], "How many vacation days do interns get?")
    edited = engine.run("slack", source)
    standin.workspace.delete(GENERAL, laptop.split(":")[1])
    cleaned = engine.run("slack", source, full=True)

    assert (first.error, first.records_stored) == (None, 2)
    assert (again.records_seen, again.records_stored) == (0, 0)
    assert (edited.records_seen, edited.records_stored) == (1, 1)
    assert (cleaned.records_unchanged, cleaned.records_deleted) == (1, 1)
    assert all(report.reconciles for report in (first, again, edited, cleaned))
    with db.session() as session:
        (stored,) = session.scalars(select(Record)).all()
        assert (stored.external_id, stored.kind) == (vacation, "qa")
        assert "interns" in stored.text and stored.url.endswith(vacation.split(":")[1].replace(".", ""))
