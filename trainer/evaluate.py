"""Accuracy on a question file: lines of {"question", "expected"}, graded by the expected words."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

_WORD = re.compile(r"[#\w][\w'.,/-]*")


@dataclass(frozen=True)
class EvalItem:
    question: str
    expected: str


@dataclass(frozen=True)
class Graded:
    item: EvalItem
    answer: str
    correct: bool


def _words(text: str) -> list[str]:
    # Keep "#it-helpdesk", "1,500" and "2.5" whole; drop sentence punctuation at word ends.
    return [w.rstrip(".,").lower() for w in _WORD.findall(text)]


def grade(answer: str, expected: str) -> bool:
    """Correct when every word of `expected` appears among the answer's words."""
    answer_words = set(_words(answer))
    return all(word in answer_words for word in _words(expected))


def read_eval_file(path: Path) -> Iterator[EvalItem]:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            yield EvalItem(str(obj["question"]), str(obj["expected"]))
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            reason = f"needs JSON with 'question' and 'expected' ({error})"
            raise ValueError(f"{path.name} line {number}: {reason}") from None


def evaluate(
    items: list[EvalItem], answer: Callable[[str], str], on_item: Callable[[Graded], None] | None = None
) -> list[Graded]:
    graded = []
    for item in items:
        text = answer(item.question)
        result = Graded(item, text, grade(text, item.expected))
        graded.append(result)
        if on_item:
            on_item(result)
    return graded


def accuracy(graded: list[Graded]) -> float:
    return sum(g.correct for g in graded) / len(graded) if graded else 0.0
