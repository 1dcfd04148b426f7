"""Retrieval ranks the units of the retrieved records so the answering one comes first."""

from __future__ import annotations

import numpy as np
import pytest

from ftbot.records import qa_question
from ftbot.retrieval import (
    _ANSWER_TYPES,
    Hit,
    RecordUnits,
    RetrievalIndex,
    _answers_kind,
    _stem,
    _terms,
    split_units,
)

TRAVEL = (
    "Travel > Hotels\nHotels are capped at EUR 150 per night. In London, Paris and Zurich the cap is EUR 220 per "
    "night. Book hotels through the travel portal."
)
LEAVE = "Leave > Vacation\nFull-time employees get 28 vacation days per year. Carried-over days expire on 31 March."


# Other handbook pages: word rarity (idf) is measured over the whole index, as in a real one.
FILLER = [
    f"Policy {n} > Rules\nEmployees get {n} vouchers per month. The rule applies per night shift." for n in range(8)
]


def _index(embedder, texts: list[str]) -> RetrievalIndex:
    matrix = embedder.embed(texts)
    n = len(texts)
    return RetrievalIndex(embedder, list(range(1, n + 1)), texts, ["chunk"] * n, ["doc"] * n, matrix)


def test_when_a_question_names_a_rare_word_then_the_unit_with_it_ranks_first(embedder) -> None:
    index = _index(embedder, [TRAVEL, LEAVE, *FILLER])
    question = "What is the cap per night for hotels when I travel to London?"
    passages = index.focus(question, index.search(question, k=2), max_units=3)
    assert passages[0].text == "In London, Paris and Zurich the cap is EUR 220 per night."


@pytest.mark.parametrize(
    ("word", "stem"),
    [
        ("hotels", "hotel"),
        ("raises", "raise"),
        ("policies", "policy"),
        ("booked", "book"),
        ("booking", "book"),
        ("class", "class"),
        ("bus", "bus"),
        ("days", "day"),
        ("pass", "pass"),
    ],
)
def test_when_words_differ_by_an_ending_then_they_share_a_stem(word: str, stem: str) -> None:
    assert _stem(word) == stem


def test_when_a_question_uses_a_plural_then_word_overlap_still_counts_it(embedder) -> None:
    index = _index(embedder, [TRAVEL, LEAVE, *FILLER])
    assert index._overlap(_terms("hotel cap London"), "Hotels have a cap in London.") == pytest.approx(1.0)


def test_when_a_record_is_split_then_sentences_are_its_units() -> None:
    assert split_units(LEAVE, "chunk") == [
        "Full-time employees get 28 vacation days per year.",
        "Carried-over days expire on 31 March.",
    ]
    assert split_units("Q: a?\nA: b.", "qa") == ["Q: a?\nA: b."]


def test_when_the_index_is_empty_then_nothing_is_found(embedder) -> None:
    index = RetrievalIndex(embedder, [], [], [], [], np.zeros((0, 0), dtype=np.float32))
    assert index.search("anything", k=3) == [] and index.focus("anything", [], 3) == []
    assert index.focus("q", [Hit(1, 0.5, LEAVE, "doc")], 1)[0].citation == "doc"


PAYROLL = (
    "Payroll > Salary payment\nSalary is paid on the last working day of each month. "
    "Your payslip is available in Personio by the 25th of each month."
)


def test_when_a_question_asks_for_a_date_then_units_holding_one_move_up(embedder, monkeypatch) -> None:
    import ftbot.retrieval

    question = "until when can I use vacation days from last year?"
    answer = "Carried-over days expire on 31 March."  # a date: it passes the vacation sentence without one

    def rank(weight: float) -> int:
        monkeypatch.setattr(ftbot.retrieval, "ANSWER_TYPE_WEIGHT", weight)
        index = _index(embedder, [PAYROLL, TRAVEL, LEAVE, *FILLER])
        return [p.text for p in index.focus(question, index.search(question, k=3), max_units=5)].index(answer)

    assert rank(ftbot.retrieval.ANSWER_TYPE_WEIGHT) < rank(0.0)


@pytest.mark.parametrize(
    ("question", "unit", "holds"),
    [
        ("how much is the hotel cap?", "Hotels are capped at EUR 150 per night.", True),
        ("how much is the hotel cap?", "Book hotels through the travel portal.", False),
        ("what does Lumora contribute to my pension?", "Lumora adds 20% on top.", True),
        ("in which month are salaries reviewed?", "Salaries are reviewed once a year in April.", True),
        ("until what date can I use carried-over days?", "They expire on 31 March.", True),
        ("what time do I start on my first day?", "Your first day starts at 9:30.", True),
        ("how long is partner leave?", "Lumora grants 4 weeks of partner leave.", True),
        ("how long is partner leave?", "Partner leave is fully paid.", False),
        ("who approves my trip?", "Your team lead approves it within 5 days.", False),  # asks for no value
    ],
)
def test_when_a_question_asks_for_a_kind_of_value_then_units_holding_one_are_recognised(
    question: str, unit: str, holds: bool
) -> None:
    wanted = [value for asks, value in _ANSWER_TYPES if asks.search(question.lower())]
    assert _answers_kind(wanted, unit) == (1.0 if holds else 0.0)


def test_when_a_qa_pair_is_ranked_then_its_question_alone_can_match(embedder) -> None:
    pair = "Q: How many vacation days do I get?\nA: Full-time employees get 28 vacation days per calendar year."
    question = "how much annual leave is there for full-timers?"
    index = RetrievalIndex(embedder, [1], [pair], ["qa"], ["faq.csv row 1"], embedder.embed([pair]))
    units = index.units(Hit(1, 1.0, pair, "faq.csv row 1", "qa"))
    query = embedder.embed([question])[0]

    assert units.question_vector is not None
    alone = float(units.question_vector @ query)
    whole = float(units.vectors[0] @ query)
    assert alone > whole  # a paraphrase is closer to the question than to question and answer together
    assert units.similarities(query)[0] == pytest.approx(alone)
    assert RecordUnits(units.texts, units.vectors).similarities(query)[0] == pytest.approx(whole)


def test_when_training_contexts_are_built_then_qa_pairs_match_as_a_whole_only(embedder) -> None:
    pair = "Q: How many vacation days do I get?\nA: Full-time employees get 28 vacation days per calendar year."
    index = RetrievalIndex(
        embedder, [1], [pair], ["qa"], ["faq.csv row 1"], embedder.embed([pair]), match_questions=False
    )
    assert index.units(Hit(1, 1.0, pair, "faq.csv row 1", "qa")).question_vector is None


@pytest.mark.parametrize(
    ("text", "question"),
    [
        ("Q: How many vacation days do I get?\nA: 28.", "How many vacation days do I get?"),
        ("Q: Two lines\nof question?\nA: Yes.", "Two lines\nof question?"),
        ("Customer: Where is my refund?\nAgent: On its way.", None),
        ("Q: \nA: empty question", None),
    ],
)
def test_when_a_record_is_a_qa_pair_then_its_question_is_found(text: str, question: str | None) -> None:
    assert qa_question(text) == question
