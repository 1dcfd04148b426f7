"""Choosing the answer among the context's passages by how likely the model finds each as its reply.

A 135M model that writes its answer tends to copy a neighbouring sentence, stop where a line ended, or mix two
passages. Asked instead which passage it would most likely reply with, the same model gives an answer that is
one whole passage of the company's documents, cited, and never a made-up one. Training (reading practice: the
reply is the gold passage verbatim) raises exactly this likelihood.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from ftbot.prompt import DONT_KNOW, chat_messages
from ftbot.records import qa_question

# The model's score is its mean log-probability per token of the passage as the whole reply. Retrieval's
# order says something the model's reading misses, so each place down the ranking costs this much (nats per
# token). Chosen on the 50 dev questions about the 18F handbook (not the held-out ones): the base model
# picked the answering passage for 40% of them by likelihood alone, 66% with this prior; the retrieval
# order alone 60%.
RANK_PENALTY = 0.5
# "I don't know" competes as if it were the passage in this place of the ranking: a tuned model finds its
# refusal likely whenever the answer is not phrased like a question's words (it learnt to refuse on
# contexts without the answer), and refused 12 of the 50 dev questions when it competed as the first.
DONT_KNOW_PLACE = 3
# The answer is the best passage, and the next best too when both fit in this many characters: the prompt
# asks for one or two sentences, and a written answer ran up to 80 tokens (about 320 characters). On the dev
# questions the fact was in the best passage for 66% of them and in one of the two best for 76%; answers
# were 190 characters long at the median (written ones about 110).
ANSWER_CHARS = 350
# Two passages say the same when this share of the shorter one's words are in the other: an answer that
# repeated itself ("28 vacation days ... 28 vacation days") read as broken in the demo.
SAME_TEXT_SHARE = 0.8
_WORD = re.compile(r"[\w#@$€%]+")


@runtime_checkable
class ReplyScorer(Protocol):
    """A backend that can say how likely each candidate is as its whole reply to the messages."""

    def score_replies(self, messages: list[dict[str, str]], replies: Sequence[str]) -> list[float]: ...


@dataclass(frozen=True)
class Choice:
    text: str
    passages: tuple[int, ...]  # indexes into the contexts, in the answer's order; empty: "I don't know"


def choose_answer(
    scorer: ReplyScorer, question: str, contexts: Sequence[str], rank_penalty: float = RANK_PENALTY
) -> Choice:
    """The passage with the best likelihood less its place in the retrieval ranking, and the runner-up when
    both fit in ANSWER_CHARS; or the refusal, when it beats them all."""
    if not contexts:
        return Choice(DONT_KNOW, ())
    replies = [as_reply(passage) for passage in contexts]
    scores = scorer.score_replies(chat_messages(question, contexts), [*replies, DONT_KNOW])
    ranked = [score - rank_penalty * place for place, score in enumerate(scores[:-1])]
    refusal = scores[-1] - rank_penalty * DONT_KNOW_PLACE
    if refusal > max(ranked):
        return Choice(DONT_KNOW, ())
    return best_passages(replies, ranked)


def best_passages(replies: Sequence[str], scores: Sequence[float]) -> Choice:
    """The best-scored reply, and the runner-up too when both fit in ANSWER_CHARS."""
    order = sorted(range(len(replies)), key=lambda place: -scores[place])
    best = order[0]
    if len(order) > 1 and same_text(replies[best], replies[order[1]]):
        # The same answer twice (a FAQ quoting the handbook): say it once, the fuller wording, citing both.
        pair = sorted(order[:2], key=lambda place: -len(replies[place]))
        return Choice(replies[pair[0]], tuple(pair))
    chosen = order[:1]
    if len(order) > 1 and len(replies[best]) + len(replies[order[1]]) < ANSWER_CHARS:
        chosen.append(order[1])
    return Choice(" ".join(replies[place] for place in chosen), tuple(chosen))


def same_text(a: str, b: str) -> bool:
    """Whether two passages say the same: nearly all of the shorter one's words are in the longer one."""
    words_a, words_b = set(_WORD.findall(a.lower())), set(_WORD.findall(b.lower()))
    shorter, longer = sorted((words_a, words_b), key=len)
    return bool(shorter) and len(shorter & longer) >= SAME_TEXT_SHARE * len(shorter)


def as_reply(passage: str) -> str:
    """A passage as an answer: a Q&A pair's answer, a support agent's message without its speaker label,
    a document's sentence as it is. Training teaches these same replies (trainer/questions.py)."""
    text = passage.strip()
    if qa_question(text) is not None:
        return text.partition("\nA: ")[2].strip()
    return text.removeprefix("Agent:").strip()
