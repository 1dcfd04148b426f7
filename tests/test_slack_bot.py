"""The Slack bot end to end over real HTTP: the local Slack stand-in delivers signed events to a real Bolt
app (tiny model), which answers through the stand-in's Web API."""

from __future__ import annotations

import contextlib
import json
import threading
import time

import pytest
from sqlalchemy import func, select

from bot.blocks import DOWNVOTE_ACTION, THINKING_TEXT, UPVOTE_ACTION
from bot.serve import ServeOptions, running_bot
from bot.standins.slack import SlackStandIn
from ftbot.answering.answer import Answerer
from ftbot.config import SlackConfig
from ftbot.privacy import user_ref
from ftbot.storage.models import Answer, Feedback, Record, TrainingRun

ALICE, ADA, GENERAL, ALICE_DM = "U0ALICE", "U0ADMIN", "C0GENERAL", "D0ALICE"
BOT = "U0FTBOT"


@pytest.fixture
def start_slack(tiny_settings, ingested, anonymizer):
    """Starts (stand-in, bot) with the given Slack settings, the bot listening over HTTP (FAQ ingested)."""
    db = ingested
    stack = contextlib.ExitStack()

    def start(**slack_settings):
        settings = tiny_settings.model_copy(update={"slack": SlackConfig(standin_port=0, **slack_settings)})
        answerer = Answerer(settings, db, anonymizer=anonymizer)
        options = ServeOptions()
        running = stack.enter_context(running_bot(settings, db, options, say=lambda _: None, answerer=answerer))
        running.transport.serve_in_background()
        return running.standin, running.bot

    with stack:
        yield start


@pytest.fixture
def slack(start_slack):
    """(stand-in, bot) with the default Slack settings."""
    return start_slack()


def _answer_in_thread(standin: SlackStandIn, channel: str, thread_ts: str) -> dict:
    """Wait until the bot's placeholder in the thread has become an answer."""

    def answered():
        replies = [m for m in standin.replies(channel, thread_ts) if m.get("user") == BOT or m.get("bot_id")]
        done = [m for m in replies if m.get("text") != THINKING_TEXT]
        return done[0] if done else None

    return standin.wait_for(answered, timeout=60)


def _count(db, model) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_when_someone_mentions_the_bot_then_it_answers_in_the_thread_with_sources_and_buttons(slack, db) -> None:
    standin, _ = slack
    asked = standin.post_message(ALICE, GENERAL, f"<@{BOT}> how many vacation days do I get?")
    reply = _answer_in_thread(standin, GENERAL, asked.ts)
    blocks = reply["blocks"]
    assert blocks[0]["type"] == "section" and reply["text"]
    assert "faq.csv row 2" in blocks[1]["elements"][0]["text"] and "model base" in blocks[1]["elements"][0]["text"]
    assert [e["action_id"] for e in blocks[2]["elements"]] == [UPVOTE_ACTION, DOWNVOTE_ACTION]
    # One message in the thread (the placeholder was updated in place), stored with its Slack address.
    assert len(standin.replies(GENERAL, asked.ts)) == 1
    with db.session() as session:
        answer = session.scalar(select(Answer))
        assert (answer.channel, answer.slack_channel, answer.slack_ts) == ("slack", GENERAL, reply["ts"])
    # The 👀 "working on it" reaction is gone once the answer is there.
    standin.wait_for(
        lambda: not any(r["name"] == "eyes" for r in _message(standin, GENERAL, asked.ts).get("reactions", []))
    )


def _message(standin: SlackStandIn, channel: str, ts: str) -> dict:
    return next(m for m in standin.messages(channel) if m["ts"] == ts)


def test_when_someone_writes_to_the_bot_directly_then_it_answers(slack) -> None:
    standin, _ = slack
    standin.post_message(ALICE, ALICE_DM, "Which Slack channel is the IT helpdesk?")
    reply = standin.wait_for(
        lambda: next(
            (m for m in standin.messages(ALICE_DM) if m.get("user") == BOT and m["text"] != THINKING_TEXT), None
        ),
        timeout=60,
    )
    assert "model base" in json.dumps(reply["blocks"])


def test_when_a_channel_message_does_not_mention_the_bot_then_it_stays_quiet(slack, db) -> None:
    standin, bot = slack
    standin.post_message(ALICE, GENERAL, "how many vacation days do I get?")
    time.sleep(0.5)
    assert bot.responder.pending() == 0 and _count(db, Answer) == 0
    assert len(standin.messages(GENERAL)) == 1


@pytest.mark.parametrize("tamper", ["forged signature", "timestamp 10 minutes old"])
def test_when_a_request_is_not_signed_by_slack_then_it_gets_401_and_nothing_happens(slack, db, tamper: str) -> None:
    standin, _ = slack
    event = {"type": "app_mention", "user": ALICE, "text": f"<@{BOT}> hi", "ts": "1.000001", "channel": GENERAL}
    options = {"bad_signature": True} if tamper == "forged signature" else {"timestamp": int(time.time()) - 600}
    deliveries = standin.deliver_event(event, **options)
    assert [d.status for d in deliveries] == [401]
    time.sleep(0.3)
    assert standin.messages(GENERAL) == [] and _count(db, Answer) == 0


def test_when_slack_delivers_one_event_three_times_then_it_is_answered_once(slack, db) -> None:
    standin, _ = slack
    asked = standin.post_message(ALICE, GENERAL, f"<@{BOT}> how many vacation days do I get?")
    mention = next(d for d in asked.deliveries if d.payload["event"]["type"] == "app_mention")
    for retry in (1, 2):  # Slack's retries: the same body, marked with the retry headers
        headers = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
        redelivery = standin.deliverer.send("event", mention.body, "application/json", extra_headers=headers)
        assert redelivery.status == 200
    _answer_in_thread(standin, GENERAL, asked.ts)
    time.sleep(0.5)
    assert len(standin.replies(GENERAL, asked.ts)) == 1 and _count(db, Answer) == 1


def test_when_a_training_run_is_busy_then_events_are_still_acked_within_3_seconds(slack, tiny_settings, db) -> None:
    from trainer.pipeline import run_training

    standin, _ = slack
    settings = tiny_settings.model_copy(update={"training": tiny_settings.training.model_copy(update={"epochs": 40.0})})
    training = threading.Thread(target=lambda: _train_quietly(run_training, settings, db), daemon=True)
    training.start()
    standin.wait_for(lambda: _running(db), timeout=30)
    deliveries = []
    for n in range(5):
        deliveries += standin.post_message(ALICE, GENERAL, f"<@{BOT}> question {n}: how many vacation days?").deliveries
    assert _running(db), "the training run finished before the events were delivered: make it longer"
    assert all(d.status == 200 and d.elapsed < 3.0 for d in deliveries), [(d.status, d.elapsed) for d in deliveries]
    with db.session() as session:
        from ftbot.storage.runs import request_cancel

        request_cancel(session)
    training.join(timeout=60)


def _running(db) -> bool:
    with db.session() as session:
        return session.scalar(select(TrainingRun).where(TrainingRun.status == "running")) is not None


def _train_quietly(run_training, settings, db) -> None:
    with contextlib.suppress(Exception):  # the run is cancelled at the end of the test
        run_training(settings, db)


def test_when_a_non_admin_runs_finetune_start_then_it_is_refused_and_nothing_is_queued(slack, db) -> None:
    standin, _ = slack
    reply = standin.slash_command(ALICE, GENERAL, "/finetune", "start")
    assert "only ftbot admins" in reply
    assert _count(db, TrainingRun) == 0


def test_when_a_workspace_admin_runs_finetune_start_then_a_run_is_queued_once(slack, db) -> None:
    standin, _ = slack
    assert "Queued training run #1" in standin.slash_command(ADA, GENERAL, "/finetune", "start")
    assert "already queued" in standin.slash_command(ADA, GENERAL, "/finetune", "start")
    assert "run #1 queued" in standin.slash_command(ADA, GENERAL, "/finetune", "status")
    assert "Cancelled run #1" in standin.slash_command(ADA, GENERAL, "/finetune", "cancel")
    assert _count(db, TrainingRun) == 1


def _ask_and_wait(standin: SlackStandIn) -> dict:
    asked = standin.post_message(ALICE, GENERAL, f"<@{BOT}> how many vacation days do I get?")
    return _answer_in_thread(standin, GENERAL, asked.ts)


def _votes(db) -> list[tuple[str, int, str]]:
    with db.session() as session:
        return [(f.user_id, f.vote, f.via) for f in session.scalars(select(Feedback).order_by(Feedback.id))]


def test_when_someone_reacts_to_an_answer_then_it_is_a_vote_and_removing_it_takes_it_back(slack, db) -> None:
    standin, _ = slack
    reply = _ask_and_wait(standin)
    standin.add_reaction(ALICE, GENERAL, reply["ts"], "+1")
    standin.add_reaction(ADA, GENERAL, reply["ts"], "tada")  # not a vote
    standin.wait_for(lambda: _votes(db) == [(user_ref(ALICE), 1, "reaction")])
    standin.remove_reaction(ALICE, GENERAL, reply["ts"], "+1")
    standin.wait_for(lambda: _votes(db) == [])


def test_when_someone_clicks_helpful_then_it_is_a_vote_and_they_are_thanked(slack, db) -> None:
    standin, _ = slack
    reply = _ask_and_wait(standin)
    standin.click_button(ALICE, GENERAL, reply["ts"], UPVOTE_ACTION)
    standin.wait_for(lambda: _votes(db) == [(user_ref(ALICE), 1, "button")])
    standin.wait_for(lambda: standin.ephemerals(ALICE))


def test_when_an_admin_clicks_not_helpful_then_a_modal_takes_a_reason_and_the_correct_answer(slack, db) -> None:
    standin, _ = slack
    reply = _ask_and_wait(standin)
    standin.click_button(ADA, GENERAL, reply["ts"], DOWNVOTE_ACTION)
    view = standin.wait_for(lambda: standin.views(ADA)[-1] if standin.views(ADA) else None)
    standin.submit_view(
        ADA,
        view["id"],
        {"reason": {"reason_input": "wrong number"}, "correction": {"correction_input": "You get 30 days a year."}},
    )
    standin.wait_for(lambda: _count(db, Record) == 3)
    with db.session() as session:
        row = session.scalar(select(Feedback))
        assert (row.vote, row.reason, row.correction) == (-1, "wrong number", "You get 30 days a year.")
        correction = session.scalar(select(Record).where(Record.title == "Correction"))
        assert correction is not None and "30 days" in correction.text


def test_when_an_employee_clicks_not_helpful_then_the_modal_offers_no_correction_field(slack) -> None:
    standin, _ = slack
    reply = _ask_and_wait(standin)
    standin.click_button(ALICE, GENERAL, reply["ts"], DOWNVOTE_ACTION)
    view = standin.wait_for(lambda: standin.views(ALICE)[-1] if standin.views(ALICE) else None)
    assert [b["block_id"] for b in view["blocks"]] == ["reason"]


def _stays_quiet(standin: SlackStandIn, bot, db, channel: str = GENERAL) -> None:
    time.sleep(0.5)
    assert bot.responder.pending() == 0 and _count(db, Answer) == 0
    assert all(m.get("user") != BOT for m in standin.messages(channel))


def test_when_someone_edits_a_message_then_the_edit_is_not_answered(slack, db) -> None:
    standin, bot = slack
    asked = standin.post_message(ALICE, ALICE_DM, "how many vacation days do I get?")
    standin.wait_for(lambda: _count(db, Answer) == 1, timeout=60)
    standin.edit_message(ALICE, ALICE_DM, asked.ts, "how many vacation days do I get in 2027?")
    time.sleep(0.5)
    assert _count(db, Answer) == 1


def test_when_a_channel_is_not_allowed_then_mentions_there_are_not_answered(start_slack, db) -> None:
    standin, bot = start_slack(allowed_channels=("C0OTHER",))
    standin.post_message(ALICE, GENERAL, f"<@{BOT}> how many vacation days do I get?")
    _stays_quiet(standin, bot, db)


def test_when_a_channel_answers_without_mentions_then_questions_there_are_answered(start_slack, db) -> None:
    standin, _ = start_slack(channels={GENERAL: {"mention_only": False}})
    standin.post_message(ALICE, GENERAL, "Lunch at noon, everyone.")  # not a question: no answer
    asked = standin.post_message(ALICE, GENERAL, "how many vacation days do I get?")
    _answer_in_thread(standin, GENERAL, asked.ts)
    mentioned = standin.post_message(ALICE, GENERAL, f"<@{BOT}> which channel is the IT helpdesk?")
    _answer_in_thread(standin, GENERAL, mentioned.ts)  # a mention is answered once, through app_mention
    time.sleep(0.3)
    assert _count(db, Answer) == 2


def test_when_the_bot_starts_then_the_member_directory_feeds_the_anonymizer(home) -> None:
    from slack_sdk import WebClient

    from connectors.slack_directory import directory_names

    with SlackStandIn() as standin:
        names = directory_names(WebClient(token=standin.bot_token, base_url=standin.api_url))
    assert {"Alice Nowak", "Ada Lindqvist"} <= set(names) and not any("ftbot" in n.lower() for n in names)


def test_when_a_question_names_a_colleague_then_the_stored_question_has_a_pseudonym(slack, db) -> None:
    standin, _ = slack
    asked = standin.post_message(ALICE, GENERAL, f"<@{BOT}> does Ada Lindqvist approve vacation days?")
    _answer_in_thread(standin, GENERAL, asked.ts)
    with db.session() as session:
        stored = session.scalar(select(Answer.question))
    assert "Lindqvist" not in stored and "<PERSON_1>" in stored


def test_when_an_admin_runs_finetune_forget_then_the_person_s_votes_and_answers_go(slack, db) -> None:
    standin, _ = slack
    reply = _ask_and_wait(standin)
    standin.add_reaction(ALICE, GENERAL, reply["ts"], "+1")
    standin.wait_for(lambda: _votes(db) == [(user_ref(ALICE), 1, "reaction")])
    assert "only ftbot admins" in standin.slash_command(ALICE, GENERAL, "/finetune", f"forget <@{ADA}>")

    said = standin.slash_command(ADA, GENERAL, "/finetune", f"forget <@{ALICE}|alice>")

    assert "erased: 0 records, 0 answers, 1 votes" in said and ALICE not in said
    assert _votes(db) == []
    assert _count(db, Answer) == 1  # her question held no personal data; only her vote identified her
