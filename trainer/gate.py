"""The promotion gate on answers: a candidate answers held-out questions beside the active version and the
base model with the same retrieval, and goes live only if its answers are at least as good as both.

Validation loss says how well a version predicts the reference wording; it does not say whether its answers
are right. A version trained here once scored 53% where the untuned base model with the same retrieval scored
59%, with a lower validation loss than nothing to compare with. So answers decide; validation loss only breaks
ties with the active version.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ftbot.config import Settings
from ftbot.prompt import question_of
from ftbot.storage.db import Database
from trainer.dataset import Dataset
from trainer.evaluate import EvalItem, accuracy, evaluate, from_reference, read_eval_file, retrieval_recall

log = logging.getLogger(__name__)

# Held-out examples the gate asks, by what they teach: an FAQ's pairs first (written by people), then support
# conversations, then questions made from documents.
_ORIGIN_ORDER = ("qa", "feedback", "chat", "document")


@dataclass(frozen=True)
class ActiveModel:
    name: str
    base_model: str
    adapter_path: Path


@dataclass(frozen=True)
class AnswerScores:
    """Accuracy on the gate's questions, each model with the same retrieval."""

    questions: int
    candidate: float
    base: float
    active: float | None = None
    active_version: str | None = None
    retrieval_recall: float | None = None

    def as_metrics(self) -> dict[str, Any]:
        return {key: round(value, 4) if isinstance(value, float) else value for key, value in asdict(self).items()}


@dataclass(frozen=True)
class Verdict:
    promoted: bool
    reason: str


def gate_questions(dataset: Dataset, eval_file: Path | None, limit: int) -> list[EvalItem]:
    """The validation split's grounded examples (their questions, graded by their reference answers' key
    facts), at most `limit` of them, plus every question of the admin's eval file."""
    held_out = sorted(
        (e for e in dataset.val if e.origin in _ORIGIN_ORDER),
        key=lambda e: _ORIGIN_ORDER.index(e.origin),
    )
    items = [from_reference(question_of(e.messages[1]["content"]), e.messages[-1]["content"]) for e in held_out]
    items = items[:limit]
    if eval_file is not None:
        items += list(read_eval_file(eval_file))
    return items


def score_answers(
    settings: Settings,
    db: Database,
    items: Sequence[EvalItem],
    base_model: str,
    candidate_adapter: Path,
    active: ActiveModel | None,
) -> AnswerScores:
    """Answers of the candidate, the base model (no adapter) and the active version, same questions and retrieval."""
    from ftbot.answering.answer import BASE_VERSION, Answerer, build_generator

    def score(base: str, adapter: Path | None, name: str) -> tuple[float, float | None]:
        generator = build_generator(settings, base, adapter, name)
        answerer = Answerer(settings, db, store=False, generator=generator)
        graded = evaluate(items, lambda q: _with_contexts(answerer, q))
        log.info("gate: %s answered %d of %d right", name, sum(g.correct for g in graded), len(graded))
        return accuracy(graded), retrieval_recall(graded)

    candidate, recall = score(base_model, candidate_adapter, "candidate")
    base, _ = score(base_model, None, BASE_VERSION)
    active_accuracy = score(active.base_model, active.adapter_path, active.name)[0] if active else None
    return AnswerScores(len(items), candidate, base, active_accuracy, active.name if active else None, recall)


def _with_contexts(answerer: Any, question: str) -> tuple[str, list[str]]:
    result = answerer.answer(question)
    return result.answer, result.contexts


def decide(scores: AnswerScores | None, loss_says_promote: bool, tolerance: float) -> Verdict:
    """Answers first: never worse than the base model with retrieval, nor than the active version (each within
    `tolerance`); a tie with the active version goes to validation loss. Without questions, validation loss."""
    if scores is None or scores.questions == 0:
        return Verdict(loss_says_promote, "no held-out questions: decided by validation loss")
    against_base = f"the base model with retrieval ({_vs(scores.candidate, scores.base)})"
    if scores.candidate < scores.base - tolerance:
        return Verdict(False, f"answers worse than {against_base}")
    if scores.active is None:
        return Verdict(True, f"answers at least as good as {against_base}")
    if scores.candidate < scores.active - tolerance:
        return Verdict(False, f"answers worse than {scores.active_version} ({_vs(scores.candidate, scores.active)})")
    if scores.candidate > scores.active + tolerance:
        return Verdict(True, f"answers better than {scores.active_version} ({_vs(scores.candidate, scores.active)})")
    loss = "lower" if loss_says_promote else "not lower"
    tie = f"answers as good as {scores.active_version} ({_vs(scores.candidate, scores.active)})"
    return Verdict(loss_says_promote, f"{tie}; validation loss {loss}")


def _vs(candidate: float, other: float) -> str:
    return f"{candidate:.0%} vs {other:.0%}"
