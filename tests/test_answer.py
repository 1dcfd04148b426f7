"""Answering on the tiny model: sources, the don't-know path, anonymized storage, hot swap of versions."""

from __future__ import annotations

from sqlalchemy import select

from ftbot.answering.answer import BASE_VERSION, Answerer
from ftbot.prompt import DONT_KNOW
from ftbot.storage.models import Answer
from ftbot.storage.versions import rollback
from trainer.pipeline import run_training


def test_when_no_version_is_trained_then_the_base_model_answers_with_sources(
    tiny_settings, ingested, anonymizer
) -> None:
    result = Answerer(tiny_settings, ingested, anonymizer=anonymizer).answer("how many vacation days are there?")
    assert result.model_version == BASE_VERSION
    assert result.sources and result.sources[0] == "faq.csv row 2"
    assert result.answer_id is not None and result.latency_ms > 0


def test_when_nothing_relevant_is_retrieved_then_it_says_it_does_not_know(tiny_settings, ingested, anonymizer) -> None:
    result = Answerer(tiny_settings, ingested, anonymizer=anonymizer).answer("What is the capital of Australia?")
    assert result.answer == DONT_KNOW and result.sources == []


def test_when_a_question_holds_pii_then_the_stored_answer_row_does_not(tiny_settings, ingested, anonymizer) -> None:
    answerer = Answerer(tiny_settings, ingested, anonymizer=anonymizer)
    answerer.answer("I am Jonas Albrecht (jonas.albrecht@example.com), how many vacation days do I get?")
    with ingested.session() as s:
        stored = s.scalar(select(Answer))
        assert stored is not None
        assert "jonas.albrecht@example.com" not in stored.question and "Albrecht" not in stored.question
        assert "<EMAIL_1>" in stored.question


def test_when_a_new_version_is_promoted_then_the_answerer_swaps_without_restart(
    tiny_settings, ingested, anonymizer
) -> None:
    answerer = Answerer(tiny_settings, ingested, anonymizer=anonymizer)
    assert answerer.generator.version == BASE_VERSION
    first = run_training(tiny_settings, ingested)
    assert answerer.reload_if_promoted() and answerer.generator.version == first.version
    assert not answerer.reload_if_promoted()
    second = run_training(tiny_settings, ingested)
    with ingested.session() as s:
        rollback(s, first.version)
    answerer.reload_if_promoted()
    assert answerer.answer("how many vacation days?").model_version == first.version != second.version
