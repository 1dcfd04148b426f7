"""The decoding guard: a small model's greedy loops are cut, and the cut answer ends on a full sentence."""

from __future__ import annotations

import pytest

from ftbot.answering.generator import REPEAT_NGRAM, _last_full_sentence, _lookup_draft, _repeats


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


@pytest.mark.parametrize(
    ("ids", "k", "draft"),
    [
        ([5, 6, 7, 8, 9, 1, 6, 7], 3, [8, 9, 1]),  # last 3-gram unseen, 2-gram [6, 7] seen: what followed it
        ([1, 2, 3, 4, 1, 2, 3], 2, [4, 1]),
        ([1, 2, 3], 4, []),  # nothing repeats: no draft
        ([4, 9, 4], 5, [9, 4]),  # a draft stops at the end of the sequence
        ([1, 2, 1, 2], 0, []),
    ],
)
def test_when_the_last_tokens_occurred_before_then_what_followed_is_the_draft(
    ids: list[int], k: int, draft: list[int]
) -> None:
    assert _lookup_draft(ids, k) == draft


def test_when_decoding_with_drafts_then_the_answer_equals_plain_greedy_decoding(tiny_settings) -> None:
    import torch

    from ftbot.answering.generator import LocalGenerator

    generator = LocalGenerator(tiny_settings, tiny_settings.base_model, None, "base")
    model, tokenizer = generator._model, generator._tokenizer
    for question in ["vacation days per year", "the IT helpdesk channel is it-helpdesk", "expenses approved"]:
        # A prompt that repeats itself, so drafts are proposed (and some rejected) along the way.
        messages = [{"role": "user", "content": f"{question}. {question}. {question}."}]
        prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        with torch.inference_mode():
            plain = model.generate(
                torch.tensor([ids]), max_new_tokens=tiny_settings.generation.max_new_tokens, do_sample=False
            )[0, len(ids) :].tolist()
        produced, looped = generator._decode(ids)
        stop = next((i for i, t in enumerate(plain) if t in generator._stop_ids), len(plain))
        expected = plain[:stop]
        assert produced == (expected[: len(produced)] if looped else expected)


def test_when_prompts_share_a_prefix_then_only_the_rest_is_prefilled(tiny_settings) -> None:
    from ftbot.answering.generator import LocalGenerator

    generator = LocalGenerator(tiny_settings, tiny_settings.base_model, None, "base")
    tokenizer, model = generator._tokenizer, generator._model
    fed: list[int] = []
    forward = model.forward

    def counting_forward(*args, **kwargs):  # type: ignore[no-untyped-def]
        fed.append(kwargs["input_ids"].shape[1])
        return forward(*args, **kwargs)

    model.forward = counting_forward
    first = tokenizer("Context: vacation is 28 days. Question: how many days?", add_special_tokens=False)["input_ids"]
    second = tokenizer("Context: vacation is 28 days. Question: who approves?", add_special_tokens=False)["input_ids"]
    shared = next(i for i, (a, b) in enumerate(zip(first, second, strict=False)) if a != b)

    generator._decode(first)
    fresh_answer, _ = LocalGenerator(tiny_settings, tiny_settings.base_model, None, "base")._decode(second)
    fed.clear()
    answer, _ = generator._decode(second)

    assert fed[0] == len(second) - shared  # the shared tokens' keys and values came from the cache
    assert answer == fresh_answer
    fed.clear()
    generator._decode(second)  # the same prompt again: all but its last token reused
    assert fed[0] == 1


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("I don't know. I don't know. I don't know.", "I don't know."),
        (
            "Hotels are capped at EUR 150. In London EUR 220. Hotels are capped at EUR 150.",
            "Hotels are capped at EUR 150. In London EUR 220.",
        ),
        ("Report it in #it-helpdesk. Then call IT!", "Report it in #it-helpdesk. Then call IT!"),
        ("Yes. yes.  Yes.", "Yes."),
        ("", ""),
    ],
)
def test_when_an_answer_repeats_a_sentence_then_it_ends_before_the_repeat(text: str, kept: str) -> None:
    from ftbot.answering.generator import without_repeated_sentences

    assert without_repeated_sentences(text) == kept
