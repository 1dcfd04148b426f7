"""The selecting reader: each passage's likelihood as the reply, retrieval's order as a prior, the refusal."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from ftbot.answering.reader import ANSWER_CHARS, DONT_KNOW_PLACE, RANK_PENALTY, Choice, as_reply, choose_answer
from ftbot.prompt import DONT_KNOW, chat_messages


class FixedScores:
    """A scorer that gives each reply a score from a table (the refusal's under DONT_KNOW)."""

    def __init__(self, scores: dict[str, float]) -> None:
        self.scores = scores
        self.seen: list[str] = []

    def score_replies(self, messages: list[dict[str, str]], replies: Sequence[str]) -> list[float]:
        self.seen = list(replies)
        return [self.scores[reply] for reply in replies]


CONTEXTS = ["Annual leave is 26 days.", "Sick leave needs a note after 3 days.", "Q: Who pays?\nA: Payroll pays."]


def test_when_the_model_clearly_prefers_a_lower_passage_then_that_passage_is_the_answer() -> None:
    scorer = FixedScores({CONTEXTS[0]: -3.0, CONTEXTS[1]: -0.5, "Payroll pays.": -4.0, DONT_KNOW: -9.0})
    choice = choose_answer(scorer, "When do I need a sick note?", CONTEXTS)
    assert choice == Choice(f"{CONTEXTS[1]} {CONTEXTS[0]}", (1, 0))  # the best, then the runner-up


def test_when_scores_are_close_then_the_higher_ranked_passage_wins() -> None:
    close = RANK_PENALTY / 2
    scorer = FixedScores({CONTEXTS[0]: -1.0, CONTEXTS[1]: -1.0 + close, "Payroll pays.": -5.0, DONT_KNOW: -9.0})
    assert choose_answer(scorer, "How much leave?", CONTEXTS).passages[0] == 0


def test_when_the_runner_up_says_the_same_then_the_answer_says_it_once_citing_both() -> None:
    faq = "Q: How many vacation days?\nA: Full-time employees get 28 vacation days."
    handbook = "Full-time employees get 28 vacation days per calendar year, plus the public holidays."
    scorer = FixedScores({"Full-time employees get 28 vacation days.": -1.0, handbook: -1.2, DONT_KNOW: -9.0})
    choice = choose_answer(scorer, "How much vacation?", [faq, handbook])
    assert choice == Choice(handbook, (1, 0))  # the fuller wording alone; both passages are its sources


def test_when_the_rank_penalty_is_zero_then_the_model_alone_decides() -> None:
    close = RANK_PENALTY / 2
    scorer = FixedScores({CONTEXTS[0]: -1.0, CONTEXTS[1]: -1.0 + close, "Payroll pays.": -5.0, DONT_KNOW: -9.0})
    assert choose_answer(scorer, "How much leave?", CONTEXTS, rank_penalty=0.0).passages[0] == 1


def test_when_the_refusal_beats_every_passage_by_its_place_then_the_answer_is_i_dont_know() -> None:
    margin = RANK_PENALTY * DONT_KNOW_PLACE
    refusal_wins = FixedScores({CONTEXTS[0]: -2.0, CONTEXTS[1]: -6.0, "Payroll pays.": -6.0, DONT_KNOW: -1.9 + margin})
    assert choose_answer(refusal_wins, "What is the parking policy?", CONTEXTS) == Choice(DONT_KNOW, ())
    passage_wins = FixedScores({**refusal_wins.scores, DONT_KNOW: -2.1 + margin})
    assert choose_answer(passage_wins, "What is the parking policy?", CONTEXTS).passages[0] == 0


def test_when_two_passages_do_not_fit_in_an_answer_then_it_is_the_best_one_alone() -> None:
    long_one = "Leave " + "and more leave " * (ANSWER_CHARS // 15)
    contexts = [long_one, "Annual leave is 26 days."]
    scorer = FixedScores({long_one.strip(): -1.0, contexts[1]: -1.2, DONT_KNOW: -9.0})
    assert choose_answer(scorer, "How much leave?", contexts) == Choice(long_one.strip(), (0,))


def test_when_there_is_no_context_then_the_answer_is_i_dont_know_without_scoring() -> None:
    scorer = FixedScores({})
    assert choose_answer(scorer, "Anything?", []) == Choice(DONT_KNOW, ())
    assert scorer.seen == []


@pytest.mark.parametrize(
    ("passage", "reply"),
    [
        ("Q: How do I reset my password?\nA: Use the self-service portal.", "Use the self-service portal."),
        ("Agent: Restart the router first.", "Restart the router first."),
        ("  Leave requests go to your supervisor.  ", "Leave requests go to your supervisor."),
    ],
)
def test_when_a_passage_is_an_answer_then_it_reads_as_a_reply(passage: str, reply: str) -> None:
    assert as_reply(passage) == reply


def test_when_replies_are_scored_in_one_batch_then_each_equals_its_score_alone(tiny_settings) -> None:
    """Batching on copies of the prompt's cache with right padding gives what a full forward pass over the
    prompt and one reply gives: the mean log-probability of the reply's tokens and its end of turn."""
    import torch

    from ftbot.answering.generator import LocalGenerator

    generator = LocalGenerator(tiny_settings, tiny_settings.base_model, None, "base")
    model, tokenizer = generator._model, generator._tokenizer
    messages = chat_messages("How many days of leave?", CONTEXTS[:2])
    replies = ["Annual leave is 26 days.", "No.", "Sick leave needs a note after 3 days, from a doctor."]
    batched = generator.score_replies(messages, replies)
    batched_again = generator.score_replies(messages, replies)  # now with the prompt's cache reused

    prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    for reply, score, again in zip(replies, batched, batched_again, strict=True):
        reply_ids = tokenizer(reply, add_special_tokens=False)["input_ids"] + [end]
        with torch.inference_mode():
            logits = model(input_ids=torch.tensor([prompt_ids + reply_ids])).logits[0].float()
        log_probs = torch.log_softmax(logits[len(prompt_ids) - 1 : -1], dim=-1)
        alone = float(log_probs.gather(-1, torch.tensor(reply_ids).unsqueeze(-1)).mean())
        assert score == pytest.approx(alone, abs=1e-4)
        assert again == pytest.approx(alone, abs=1e-4)
