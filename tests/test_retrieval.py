"""Retrieval ranks the units of the retrieved records so the answering one comes first."""

from __future__ import annotations

import numpy as np

from ftbot.retrieval import Hit, RetrievalIndex, split_units

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
