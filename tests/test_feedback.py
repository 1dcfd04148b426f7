"""Votes and corrections: one vote per user per answer, reactions take theirs back, and the next run's
dataset trains on 👍 answers and corrections (weighted) while 👎 answers wait for review."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import FAQ
from sqlalchemy import select

from bot import feedback
from connectors.ingest import Ingestor
from ftbot.privacy import user_ref
from ftbot.prompt import DONT_KNOW
from ftbot.retrieval import RetrievalIndex, embed_missing
from ftbot.storage.models import Answer, Feedback, Record
from ftbot.storage.queries import needs_review, upvoted
from trainer.dataset import DatasetBuilder

pytestmark = pytest.mark.both_backends  # the database tests here run on SQLite and on PostgreSQL


def _answer(db, question: str = "How many vacation days?", text: str = "You get 20 days.") -> int:
    with db.session() as session:
        row = Answer(question=question, answer=text, sources=[], model_version="v1", slack_channel="C1", slack_ts="1.1")
        session.add(row)
        session.flush()
        return row.id


def _votes(db, answer_id: int) -> list[tuple[str, int, str]]:
    with db.session() as session:
        rows = session.scalars(select(Feedback).where(Feedback.answer_id == answer_id).order_by(Feedback.id))
        return [(f.user_id, f.vote, f.via) for f in rows]


@pytest.mark.parametrize(
    ("reaction", "vote"),
    [("+1", 1), ("thumbsup", 1), ("white_check_mark", 1), ("-1", -1), ("thumbsdown", -1), ("+1::skin-tone-2", 1)],
)
def test_when_a_voting_reaction_is_named_then_it_maps_to_its_vote(reaction: str, vote: int) -> None:
    assert feedback.reaction_vote(reaction) == vote


def test_when_a_reaction_is_not_a_vote_then_it_is_ignored() -> None:
    assert feedback.reaction_vote("tada") is None


def test_when_a_user_votes_twice_then_the_latest_vote_wins(db) -> None:
    answer_id = _answer(db)
    with db.session() as session:
        feedback.record_vote(session, answer_id, "u1", 1, via="button")
    with db.session() as session:
        feedback.record_vote(session, answer_id, "u1", -1, via="reaction")
        feedback.record_vote(session, answer_id, "u2", 1, via="button")
    assert _votes(db, answer_id) == [("u1", -1, "reaction"), ("u2", 1, "button")]


def test_when_a_reaction_is_removed_then_only_the_vote_it_cast_goes(db) -> None:
    answer_id = _answer(db)
    with db.session() as session:
        feedback.record_vote(session, answer_id, "u1", 1, via="reaction")
        feedback.record_vote(session, answer_id, "u2", -1, via="button")
    with db.session() as session:
        assert feedback.remove_vote(session, answer_id, "u1", 1)
        assert not feedback.remove_vote(session, answer_id, "u2", 1)  # u2 voted 👎: a removed 👍 changes nothing
    assert _votes(db, answer_id) == [("u2", -1, "button")]


def test_when_an_answer_is_looked_up_by_its_slack_message_then_it_is_found(db) -> None:
    answer_id = _answer(db)
    with db.session() as session:
        assert feedback.answer_for_message(session, "C1", "1.1").id == answer_id
        assert feedback.answer_for_message(session, "C1", "9.9") is None


def test_when_an_admin_corrects_an_answer_then_the_correction_becomes_a_record(db) -> None:
    answer_id = _answer(db)
    with db.session() as session:
        feedback.record_reason(session, answer_id, "admin", "wrong number", "Full-time employees get 28 days.")
    with db.session() as session:  # correcting again replaces the record, never duplicates it
        feedback.record_reason(session, answer_id, "admin", "", "Full-time employees get 28 vacation days.")
    with db.session() as session:
        records = session.scalars(select(Record)).all()
        assert [r.messages[-1]["content"] for r in records] == ["Full-time employees get 28 vacation days."]
        assert records[0].source.kind == "feedback"
        row = session.scalar(select(Feedback))
        assert (row.vote, row.reason, row.via) == (-1, "wrong number", "modal")


def test_when_answers_are_voted_then_up_and_down_ones_are_told_apart(db) -> None:
    good, bad, fixed = _answer(db, "q good"), _answer(db, "q bad"), _answer(db, "q fixed")
    with db.session() as session:
        feedback.record_vote(session, good, "u1", 1, via="button")
        feedback.record_vote(session, good, "u2", 1, via="reaction")
        feedback.record_vote(session, bad, "u1", -1, via="button")
        feedback.record_reason(session, fixed, "admin", "", "The right answer.")
    with db.session() as session:
        assert [v.answer_id for v in upvoted(session)] == [good]
        assert [v.answer_id for v in needs_review(session)] == [bad]


def test_when_the_dataset_is_built_then_feedback_examples_are_weighted_and_downvotes_left_out(
    db, tmp_path: Path, anonymizer, embedder
) -> None:
    (tmp_path / "faq.csv").write_text(FAQ)
    Ingestor(db, anonymizer, embedder).ingest([tmp_path / "faq.csv"])
    good = _answer(db, "How many days of vacation?", "Full-time employees get 28 vacation days per year.")
    bad = _answer(db, "Where is the IT helpdesk?", "Ask in #random.")
    fixed = _answer(db, "Who approves expenses?", "Nobody.")
    with db.session() as session:
        feedback.record_vote(session, good, user_ref("U1"), 1, via="reaction")
        feedback.record_vote(session, bad, user_ref("U1"), -1, via="button")
        feedback.record_reason(session, fixed, user_ref("UADMIN"), "", "Your team lead approves expenses.")
        embed_missing(session, embedder)
    with db.session() as session:
        index = RetrievalIndex.from_database(session, embedder)
        builder = DatasetBuilder(
            index, top_k=3, max_units=3, context_chars=1000, validation_fraction=0.0, seed=1, correction_weight=3.5
        )
        dataset = builder.build(session)
    by_answer = {e.messages[-1]["content"]: e for e in dataset.examples if e.origin == "feedback"}
    assert set(by_answer) == {"Full-time employees get 28 vacation days per year.", "Your team lead approves expenses."}
    assert by_answer["Your team lead approves expenses."].weight == 3.5
    assert by_answer["Full-time employees get 28 vacation days per year."].weight == 2.0
    assert all(e.split == "train" for e in by_answer.values())
    assert not any("#random" in m["content"] for e in dataset.examples for m in e.messages)
    assert DONT_KNOW not in by_answer


def test_when_event_ids_are_older_than_a_day_then_they_are_forgotten(db) -> None:
    from datetime import timedelta

    from bot.dedupe import claim_event, forget_old_events
    from ftbot.storage.models import SlackEvent, utcnow

    assert claim_event(db, "Ev1") and not claim_event(db, "Ev1")
    with db.session() as session:
        session.add(SlackEvent(event_id="Ev0", received_at=utcnow() - timedelta(days=2)))
    assert forget_old_events(db) == 1
    with db.session() as session:
        assert [e.event_id for e in session.scalars(select(SlackEvent))] == ["Ev1"]
