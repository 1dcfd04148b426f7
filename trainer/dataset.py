"""Stored records → chat-format training examples with retrieved context, a stable split and a hash."""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from ftbot.prompt import DONT_KNOW, chat_messages, fit_contexts
from ftbot.retrieval import Hit, RetrievalIndex, split_units
from ftbot.storage.models import Record
from ftbot.storage.queries import upvoted
from trainer.questions import DocumentQuestion, questions_for

Origin = Literal["qa", "document", "chat", "refusal", "feedback"]

REFUSAL_SHARE = 20  # one refusal example per this many grounded ones (at least 2)
# Questions no company document answers: they teach the model to say it doesn't know when the retrieved
# context is off-topic, instead of inventing an answer.
OFF_TOPIC_QUESTIONS = (
    "What is the capital of Australia?",
    "Who wrote the novel War and Peace?",
    "How do I bake sourdough bread?",
    "What is the boiling point of water on Mount Everest?",
    "Which team won the 1998 football world cup?",
    "How many moons does Jupiter have?",
    "What's a good recipe for vegan lasagna?",
    "How do I change the oil in a motorbike?",
    "What is the tallest mountain in Africa?",
    "Can you recommend a good science fiction film?",
    "How do I grow tomatoes on a balcony?",
    "What year did the Berlin Wall fall?",
)


@dataclass(frozen=True)
class Example:
    messages: list[dict[str, str]]
    origin: Origin
    split: Literal["train", "val"]
    record_id: int | None = None
    weight: float = 1.0


@dataclass
class Dataset:
    examples: list[Example] = field(default_factory=list)

    @property
    def train(self) -> list[Example]:
        return [e for e in self.examples if e.split == "train"]

    @property
    def val(self) -> list[Example]:
        return [e for e in self.examples if e.split == "val"]

    @property
    def hash(self) -> str:
        """Identifies the exact data a run saw: same examples, same hash."""
        canonical = [[e.split, e.origin, e.weight, e.messages] for e in self.examples]
        return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()

    def to_jsonl(self) -> str:
        return "".join(
            json.dumps({"split": e.split, "origin": e.origin, "weight": e.weight, "messages": e.messages}) + "\n"
            for e in self.examples
        )


def stable_split(key: str, validation_fraction: float, seed: int) -> Literal["train", "val"]:
    """A record keeps its split across runs (its key's hash decides), so validation stays held out."""
    bucket = int(hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "val" if bucket < validation_fraction else "train"


class DatasetBuilder:
    """Turns every stored record into examples whose prompts look exactly like answering time."""

    def __init__(
        self,
        index: RetrievalIndex,
        *,
        top_k: int,
        max_units: int,
        context_chars: int,
        validation_fraction: float,
        seed: int,
        upvoted_weight: float = 2.0,
        correction_weight: float = 3.0,
        document_questions: int = 0,
        questions_per_sentence: int = 2,
    ) -> None:
        self.index, self.top_k, self.max_units, self.context_chars = index, top_k, max_units, context_chars
        self.document_questions, self.questions_per_sentence = document_questions, questions_per_sentence
        self.validation_fraction, self.seed = validation_fraction, seed
        self.upvoted_weight, self.correction_weight = upvoted_weight, correction_weight
        self._rng = random.Random(seed)

    def build(self, session: Session) -> Dataset:
        records = session.scalars(select(Record).order_by(Record.id)).all()
        examples: list[Example] = []
        seen_sections: set[str] = set()
        seen_content: set[str] = set()
        sentence_questions: list[tuple[DocumentQuestion, Record, Any]] = []
        for record in records:
            if record.content_hash in seen_content:
                continue  # the same record in two files: train on it once
            seen_content.add(record.content_hash)
            split = stable_split(record.content_hash, self.validation_fraction, self.seed)
            if record.source.kind == "feedback" and record.messages:
                # An admin's correction: always trained on (never held out), weighted above plain Q&A.
                question, answer = record.messages[0]["content"], record.messages[-1]["content"]
                grounded = self._grounded(question, answer, record.text, record, "feedback", "train")
                examples.append(replace(grounded, weight=self.correction_weight))
            elif record.kind == "qa" and record.messages:
                question, answer = record.messages[0]["content"], record.messages[-1]["content"]
                examples.append(self._grounded(question, answer, record.text, record, "qa", split))
            elif record.kind == "chat" and record.messages:
                example = self._first_exchange(record, split)
                if example:
                    examples.append(example)
            elif (
                record.kind == "chunk"
                and not self.document_questions  # reading practice asks its sentences specifically instead
                and " > " in record.title
                and record.title not in seen_sections
            ):
                # One example per subsection (its first chunk): later chunks would repeat the same question.
                seen_sections.add(record.title)
                question = _section_question(record.title)
                answer = self._best_unit(question, record)
                examples.append(self._grounded(question, answer, answer, record, "document", split))
            if record.kind == "chunk":
                sentence_questions += [(q, record, split) for q in self._sentence_questions(record)]
        examples += self._reading_examples(sentence_questions)
        examples += self._upvoted(session)
        # Refusals stay a small share: with a handful of Q&A pairs, twelve of them would teach mostly "I don't know".
        # Off-topic questions rarely reach the model (retrieval's min_score answers them first); at one in ten,
        # a fresh demo model said "I don't know" with the answer in its context for 6 of 96 eval and dev
        # questions, at one in twenty for 2 (one run each; BENCHMARKS.md).
        refusals = min(len(OFF_TOPIC_QUESTIONS), max(2, len(examples) // REFUSAL_SHARE))
        for number, question in enumerate(OFF_TOPIC_QUESTIONS[:refusals]):
            # One in six is held out, and at least one: the promotion gate always has something to compare on.
            held_out = number % 6 == 5 or (refusals < 6 and number == refusals - 1)
            examples.append(self._refusal(question, "val" if held_out else "train"))
        return Dataset(examples)

    def _sentence_questions(self, record: Record) -> list[DocumentQuestion]:
        """Questions a document chunk's sentences answer, up to questions_per_sentence each (most specific first)."""
        section = record.title or ""
        made: list[DocumentQuestion] = []
        for sentence in split_units(record.text, record.kind):
            made += questions_for(sentence, section)[: self.questions_per_sentence]
        return made

    def _reading_examples(self, questions: list[tuple[DocumentQuestion, Record, Any]]) -> list[Example]:
        """RAFT: each question with its sentence among the passages retrieval finds for it, the sentence at a
        random place in half of them (so the model learns to find it, not to read the first passage), and
        the sentence as the answer. At most `document_questions`, drawn evenly over the documents."""
        if not questions or self.document_questions <= 0:
            return []
        order = sorted(
            range(len(questions)),
            key=lambda i: hashlib.sha256(f"{self.seed}:{questions[i][0].question}".encode()).hexdigest(),
        )
        chosen = sorted(order[: self.document_questions])
        examples = []
        for i in chosen:
            question, record, split = questions[i]
            contexts = self._contexts(question.question, question.answer, scatter_gold=self._rng.random() < 0.5)
            messages = chat_messages(question.question, contexts, question.answer)
            examples.append(Example(messages, "document", split, record.id))
        return examples

    def _contexts(self, question: str, gold: str | None, *, scatter_gold: bool = False) -> list[str]:
        """The context answering time would build, with the gold unit in it: where retrieval ranked it, or
        at a random rank when retrieval missed it (or when `scatter_gold`), so every grounded example is
        answerable from its prompt."""
        hits = self.index.search(question, k=self.top_k)
        units = [passage.text for passage in self.index.focus(question, hits, self.max_units)]
        if gold is not None and scatter_gold and gold in units:
            units.remove(gold)
        if gold is not None and gold not in units:
            units = units[: self.max_units - 1]
            units.insert(self._rng.randrange(len(units) + 1), gold)
        kept = fit_contexts(units, self.context_chars)
        if gold is not None and gold not in kept:  # the budget cut it: rank it first instead
            units.remove(gold)
            kept = fit_contexts([gold, *units], self.context_chars)
        return kept

    def _best_unit(self, question: str, record: Record) -> str:
        """The sentence of a document chunk that best answers a question about its section."""
        return self.index.focus(question, [Hit(record.id, 1.0, record.text, "", record.kind)], max_units=1)[0].text

    def _grounded(self, question: str, answer: str, gold: str, record: Record, origin: Origin, split: Any) -> Example:
        return Example(chat_messages(question, self._contexts(question, gold), answer), origin, split, record.id)

    def _first_exchange(self, record: Record, split: Any) -> Example | None:
        """A support conversation's opening question and the agent's first reply, grounded on the conversation.

        Only the first exchange: later turns depend on the earlier ones, and whole transcripts would cost
        several times the tokens of a Q&A pair for little more to learn.
        """
        turns = [m for m in record.messages or [] if m["role"] in ("user", "assistant")]
        first_user = next((i for i, m in enumerate(turns) if m["role"] == "user"), None)
        if first_user is None or first_user + 1 >= len(turns) or turns[first_user + 1]["role"] != "assistant":
            return None
        reply = turns[first_user + 1]["content"]
        return self._grounded(turns[first_user]["content"], reply, f"Agent: {reply}", record, "chat", split)

    def _upvoted(self, session: Session) -> list[Example]:
        """Answers people voted 👍 (and nobody corrected), as answered, weighted; 👎 ones are left out."""
        return [
            Example(
                chat_messages(vote.question, self._contexts(vote.question, None), vote.answer),
                "feedback",
                "train",
                weight=self.upvoted_weight,
            )
            for vote in upvoted(session)
            if vote.answer != DONT_KNOW
        ]

    def _refusal(self, question: str, split: Any) -> Example:
        return Example(chat_messages(question, self._contexts(question, None), DONT_KNOW), "refusal", split)


def _section_question(title: str) -> str:
    section = title.split(" > ")[-1].strip()
    return f"What does the handbook say about {section.lower()}?"
