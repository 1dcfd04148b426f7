"""The decoding guard: a small model's greedy loops are cut, and the cut answer ends on a full sentence."""

from __future__ import annotations

import pytest

from bot.generator import REPEAT_NGRAM, _last_full_sentence, _repeats


@pytest.mark.parametrize(
    ("tokens", "loops"),
    [
        (list(range(40)), False),
        ([1, 2, 3] * 3, False),  # too short to judge
        (list(range(REPEAT_NGRAM)) * 2, True),
        ([9] + list(range(REPEAT_NGRAM)) + [7] + list(range(REPEAT_NGRAM)), True),
        (list(range(REPEAT_NGRAM - 1)) * 3 + [99], False),  # a repeated span shorter than the n-gram is fine
    ],
)
def test_when_the_answer_repeats_an_ngram_then_decoding_stops(tokens: list[int], loops: bool) -> None:
    assert _repeats(tokens) is loops


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("I don't know. I don", "I don't know."),
        ("Starter costs EUR 19. Business costs EUR 4", "Starter costs EUR 19."),
        ("Complete sentence.", "Complete sentence."),
        ("Starter costs EUR 19 for 1 user, Business costs EUR 4", "Starter costs EUR 19 for 1 user ..."),
        ("no sentence end at all", "no sentence end at all"),
    ],
)
def test_when_a_looping_answer_is_cut_then_it_ends_on_its_last_full_sentence(text: str, kept: str) -> None:
    assert _last_full_sentence(text) == kept
