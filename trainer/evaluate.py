"""Scoring answers: eval files of questions with their key facts, graded answers, accuracy and retrieval recall.

An eval line is {"question", "must": [regex, ...]} (every regex must match the answer, case-insensitively) or
{"question", "expected": "words"} (every word of `expected` must appear among the answer's words). The
promotion gate grades held-out Q&A pairs the same way, with key facts taken from their reference answers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

_WORD = re.compile(r"[#\w][\w'.,/-]*")
_CONTENT_WORD = re.compile(r"[a-z][a-z'-]{2,}")
_STOPWORDS = frozenset(
    re.findall(
        r"\w+",
        "about above after again all also and any are ask because been before being both but can could did does"
        " doing down during each few for from further had has have having her here hers him his how into its just"
        " more most must not now off once only other our out over own same she should some such than that the"
        " their them then there these they this those through too under until very was way were what when where"
        " which while who whom why will with would you your yours",
    )
)
# Values a reference answer is right or wrong by: amounts and counts, channels, e-mail addresses, links.
_FACT = re.compile(r"[#@]\w[\w-]*|\S+@\S+\.\w+|https?://\S+|\b\w*\d[\w.,:/%-]*")
# Names of things (forms, tools, offices): a capitalised word that does not start a sentence.
_NAME = re.compile(r"(?<![.!?:]\s)(?<!^)\b[A-Z][A-Za-z0-9]+(?:\s+[A-Z][A-Za-z0-9]+)*")
MAX_REFERENCE_FACTS = 4
REFERENCE_WORD_SHARE = 0.6  # a reference answer without facts: this share of its content words must appear


@dataclass(frozen=True)
class EvalItem:
    question: str
    expected: str = ""
    must: tuple[str, ...] = ()
    word_share: float = 1.0  # of `expected`'s words that must appear (1.0: all of them)

    def is_answered_by(self, text: str) -> bool:
        """Whether `text` (an answer, or the context the model read) holds this question's key facts."""
        if self.must:
            return all(re.search(pattern, text, re.IGNORECASE) for pattern in self.must)
        return grade(text, self.expected, self.word_share)

    @property
    def key_facts(self) -> str:
        return " & ".join(self.must) if self.must else self.expected


@dataclass(frozen=True)
class Graded:
    item: EvalItem
    answer: str
    correct: bool
    fact_in_context: bool | None = None  # None: the answer was made without retrieval


def _words(text: str) -> list[str]:
    # Keep "#it-helpdesk", "1,500" and "2.5" whole; drop sentence punctuation at word ends.
    return [w.rstrip(".,").lower() for w in _WORD.findall(text)]


def grade(answer: str, expected: str, share: float = 1.0) -> bool:
    """Correct when every word of `expected` (or at least `share` of them) appears among the answer's words."""
    answer_words = set(_words(answer))
    wanted = _words(expected)
    if not wanted:
        return False
    found = sum(word in answer_words for word in wanted)
    return found == len(wanted) if share >= 1.0 else found >= share * len(wanted)


def from_reference(question: str, reference: str) -> EvalItem:
    """An item graded by a reference answer's key facts: its amounts, channels, addresses and names (up to
    four, all required), or, when it has none, most of its content words ("Salary is paid on the last working
    day of each month" → salary, paid, last, working, day, month; 60% of them)."""
    facts = [match.rstrip(".,;:)") for match in _FACT.findall(reference)]
    if not facts:
        facts = [match for match in _NAME.findall(reference) if match.lower() not in _STOPWORDS]
    facts = list(dict.fromkeys(fact for fact in facts if fact))[:MAX_REFERENCE_FACTS]
    if facts:
        return EvalItem(question, must=tuple(_fact_pattern(fact) for fact in facts))
    words = [word for word in _CONTENT_WORD.findall(reference.lower()) if word not in _STOPWORDS]
    return EvalItem(question, expected=" ".join(dict.fromkeys(words)), word_share=REFERENCE_WORD_SHARE)


def _fact_pattern(fact: str) -> str:
    """A fact as a regex that does not match inside a longer word or number ("28" not in "128")."""
    escaped = re.escape(fact)
    start = r"(?<![\w])" if fact[0].isalnum() else ""
    end = r"(?![\w])" if fact[-1].isalnum() else ""
    return f"{start}{escaped}{end}"


def read_eval_file(path: Path) -> Iterator[EvalItem]:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield _item(json.loads(line))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError, re.error) as error:
            reason = f"needs JSON with 'question' and 'must' (a list of regexes) or 'expected' ({error})"
            raise ValueError(f"{path.name} line {number}: {reason}") from None


def _item(obj: dict[str, object]) -> EvalItem:
    question = str(obj["question"])
    if "must" in obj:
        must = obj["must"]
        if not isinstance(must, list) or not must or not all(isinstance(p, str) and p for p in must):
            raise ValueError("'must' is a non-empty list of regexes")
        for pattern in must:
            re.compile(pattern)
        return EvalItem(question, must=tuple(must))
    return EvalItem(question, str(obj["expected"]))


# An answerer gives the answer and the context passages it read (None when it answered without retrieval).
AnswerFunction = Callable[[str], tuple[str, Sequence[str] | None]]


def evaluate(
    items: Sequence[EvalItem], answer: AnswerFunction, on_item: Callable[[Graded], None] | None = None
) -> list[Graded]:
    graded = []
    for item in items:
        text, contexts = answer(item.question)
        in_context = None if contexts is None else item.is_answered_by("\n".join(contexts))
        result = Graded(item, text, item.is_answered_by(text), in_context)
        graded.append(result)
        if on_item:
            on_item(result)
    return graded


def accuracy(graded: Sequence[Graded]) -> float:
    return sum(g.correct for g in graded) / len(graded) if graded else 0.0


def retrieval_recall(graded: Sequence[Graded]) -> float | None:
    """The share of questions whose key facts were in the context the model read (None without retrieval)."""
    known = [g.fact_in_context for g in graded if g.fact_in_context is not None]
    return sum(known) / len(known) if known else None
