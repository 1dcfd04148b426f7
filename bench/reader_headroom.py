"""How much the model's reading adds over the retrieval order, for the base model and the active version.

The select reader's answer is the best one or two retrieved passages. This asks, on the same questions and
the same retrieval, how often the key facts are in the answer when the passages are chosen by:

- the retrieval order alone (the top two passages, no model): the baseline;
- the select reader's score, the model's likelihood of each passage as its reply (rank penalty 0, and the
  configured one: what `ftbot eval` measures);
- query likelihood, the model's likelihood of the question given each passage ("which passage would make me
  ask this?", as in UPR, Sachan et al. 2022), over a wider pool of passages than the prompt holds;

and it reports the ceilings: how often one passage holding the facts is among the top 1, 2, the prompt's
passages, and the wider pool. Training earns its place when the active version's choice beats both the base
model's and the retrieval order's.

    FTBOT_HOME=/tmp/h18 .venv/bin/python bench/reader_headroom.py examples/18f/dev.jsonl examples/18f/heldout.jsonl

Needs a home with ingested records and, for the tuned column, an active version. About 4 minutes per 50
questions and model on 2 cores.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

os.environ.setdefault("HF_HUB_OFFLINE", "1")

if TYPE_CHECKING:  # imported for real inside main(), after HF_HUB_OFFLINE is set
    from ftbot.answering.reader import ReplyScorer
    from trainer.evaluate import EvalItem

# Passages the query-likelihood reranker weighs: more than the prompt's 8, fewer than retrieval's 40 units.
WIDE_POOL = 12
QUERY_PROMPT = "{passage}\n\nWrite a question that the text above answers."


@dataclass
class Question:
    item: EvalItem
    contexts: list[str]  # the passages the prompt holds, in retrieval order (what the reader chooses from)
    pool: list[str]  # the wider pool, in retrieval order
    reply_scores: dict[str, list[float]] = field(default_factory=dict)  # model → select scores (+ refusal)
    query_scores: dict[str, list[float]] = field(default_factory=dict)  # model → log P(question | passage)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", type=Path, nargs="+", help="eval files (JSONL as `ftbot eval` reads)")
    args = parser.parse_args()

    from transformers import logging as hf_logging

    hf_logging.set_verbosity_error()
    from ftbot.answering.answer import BASE_VERSION, Answerer, build_generator
    from ftbot.answering.reader import ReplyScorer
    from ftbot.config import load_settings
    from ftbot.storage.db import Database
    from ftbot.storage.versions import active_version
    from trainer.evaluate import read_eval_file

    settings = load_settings()
    db = Database(settings.db_url)
    with db.session() as session:
        active = active_version(session)
    models: list[tuple[str, str, Path | None]] = [(BASE_VERSION, settings.base_model, None)]
    if active:
        models.append((active.name, active.base_model, Path(active.adapter_path)))
    generators = [build_generator(settings, base_model, adapter, name) for name, base_model, adapter in models]
    # The answerer reads as `ftbot eval` does; each model then scores what it read.
    answerer = Answerer(settings, db, store=False, generator=generators[0])
    assert answerer.index is not None
    sets: dict[str, list[Question]] = {}
    for path in args.files:
        questions = []
        for item in read_eval_file(path):
            _, contexts = answerer.read(item.question) or ([], [])
            hits = answerer.index.search(item.question, k=30)
            pool = [passage.text for passage in answerer.index.focus(item.question, hits, WIDE_POOL)]
            questions.append(Question(item, contexts, pool))
        sets[path.name] = questions

    for (name, _, _), generator in zip(models, generators, strict=True):
        if not isinstance(generator, ReplyScorer):
            raise SystemExit(f"the {settings.serving.backend} backend cannot score replies")
        for questions in sets.values():
            for question in questions:
                score_question(generator, question, name)

    penalty = settings.generation.rank_penalty
    print(f"| choice (answer: the best one or two passages) | {' | '.join(_columns(sets, models))} |")
    print(f"|---|{'---|' * len(sets) * len(models)}")
    rows: list[tuple[str, Callable[[Question, str], str]]] = [
        ("retrieval order, no model", lambda q, m: answer_from(q.contexts, [-i for i in range(len(q.contexts))])),
        ("select score, rank penalty 0", lambda q, m: select(q, m, 0.0)),
        (f"select score, rank penalty {penalty} (the product)", lambda q, m: select(q, m, penalty)),
        (f"query likelihood over {WIDE_POOL} passages", lambda q, m: answer_from(q.pool, q.query_scores[m])),
        (
            f"query likelihood over {WIDE_POOL}, rank penalty 0.2",
            lambda q, m: answer_from(q.pool, [s - 0.2 * i for i, s in enumerate(q.query_scores[m])]),
        ),
    ]
    for label, choose in rows:
        cells = [_share(questions, _right(choose, model)) for questions in sets.values() for model, _, _ in models]
        print(f"| {label} | {' | '.join(cells)} |")
    print()
    print(f"| ceiling: one passage holds the facts, among | {' | '.join(sets)} |")
    print(f"|---|{'---|' * len(sets)}")
    for label, depth in (("the top 1", 1), ("the top 2", 2), ("the prompt's passages", None)):
        cells = [_share(qs, _within(depth)) for qs in sets.values()]
        print(f"| {label} | {' | '.join(cells)} |")
    cells = [_share(qs, lambda q: _holds(q, q.pool)) for qs in sets.values()]
    print(f"| the wider pool ({WIDE_POOL} passages) | {' | '.join(cells)} |")


def score_question(generator: ReplyScorer, question: Question, model: str) -> None:
    from ftbot.answering.reader import as_reply
    from ftbot.prompt import DONT_KNOW, chat_messages

    score = generator.score_replies
    text = question.item.question
    replies = [as_reply(passage) for passage in question.contexts]
    question.reply_scores[model] = score(chat_messages(text, question.contexts), [*replies, DONT_KNOW])
    question.query_scores[model] = [
        score([{"role": "user", "content": QUERY_PROMPT.format(passage=passage)}], [text])[0]
        for passage in question.pool
    ]


class CachedScores:
    """A ReplyScorer that answers with scores already computed, so the reader's own rule chooses."""

    def __init__(self, scores: list[float]) -> None:
        self.scores = scores

    def score_replies(self, messages: list[dict[str, str]], replies: Sequence[str]) -> list[float]:
        return self.scores


def select(question: Question, model: str, penalty: float) -> str:
    """What the select reader answers (ftbot/answering/reader.py), from the scores already computed."""
    from ftbot.answering.reader import choose_answer

    text = question.item.question
    return choose_answer(CachedScores(question.reply_scores.get(model, [])), text, question.contexts, penalty).text


def answer_from(passages: Sequence[str], scores: Sequence[float]) -> str:
    """The best passage, with the runner-up when both fit: the select reader's rule for its answer."""
    from ftbot.answering.reader import as_reply, best_passages

    return best_passages([as_reply(passage) for passage in passages], scores).text if passages else ""


def _right(choose: Callable[[Question, str], str], model: str) -> Callable[[Question], bool]:
    return lambda question: question.item.is_answered_by(choose(question, model))


def _within(depth: int | None) -> Callable[[Question], bool]:
    return lambda question: _holds(question, question.contexts[:depth])


def _holds(question: Question, passages: Sequence[str]) -> bool:
    return any(question.item.is_answered_by(passage) for passage in passages)


def _share(questions: Sequence[Question], correct: Callable[[Question], bool]) -> str:
    right = sum(correct(q) for q in questions)
    return f"{right / len(questions):.0%} ({right}/{len(questions)})"


def _columns(sets: dict[str, list[Question]], models: list[tuple[str, str, Path | None]]) -> list[str]:
    return [f"{file}: {model[0]}" for file in sets for model in models]


if __name__ == "__main__":
    main()
