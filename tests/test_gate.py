"""The promotion gate on answers: the questions it asks, how it grades them, and what it decides."""

from __future__ import annotations

from pathlib import Path

import pytest

from ftbot.prompt import chat_messages
from trainer.dataset import Dataset, Example
from trainer.evaluate import EvalItem, evaluate, from_reference, read_eval_file, retrieval_recall
from trainer.gate import AnswerScores, decide, gate_questions


def test_when_an_eval_line_has_key_facts_then_every_regex_must_match(tmp_path: Path) -> None:
    path = tmp_path / "eval.jsonl"
    path.write_text('{"question": "How long is parental leave?", "must": ["12 weeks|twelve weeks", "paid"]}\n')
    [item] = list(read_eval_file(path))
    assert item.is_answered_by("You get twelve weeks of PAID parental leave.")
    assert not item.is_answered_by("You get 12 weeks of leave.")


@pytest.mark.parametrize("line", ['{"question": "q", "must": []}', '{"question": "q", "must": ["(unclosed"]}'])
def test_when_key_facts_are_empty_or_not_regexes_then_the_error_names_the_line(tmp_path: Path, line: str) -> None:
    path = tmp_path / "eval.jsonl"
    path.write_text(line + "\n")
    with pytest.raises(ValueError, match="line 1"):
        list(read_eval_file(path))


@pytest.mark.parametrize(
    ("reference", "right", "wrong"),
    [
        ("Full-time employees get 28 vacation days.", "It is 28 days a year.", "It is 128 days a year."),
        ("Ask in #it-helpdesk.", "Post in #it-helpdesk please", "Ask the IT helpdesk."),
        ("File it in Concur within 5 days.", "Use Concur, within 5 days.", "Use Concur."),
        (
            "Salary is paid on the last working day of each month.",
            "You are paid on the last working day of the month.",
            "I don't know.",
        ),
    ],
)
def test_when_a_reference_answer_grades_then_its_key_facts_decide(reference: str, right: str, wrong: str) -> None:
    item = from_reference("question", reference)
    assert item.is_answered_by(right) and not item.is_answered_by(wrong)


def test_when_answers_are_scored_with_their_contexts_then_recall_says_if_the_fact_was_read() -> None:
    items = [EvalItem("a?", must=("28",)), EvalItem("b?", must=("#help",))]
    contexts = {"a?": ["You get 28 days."], "b?": ["Nothing useful."]}
    graded = evaluate(items, lambda q: ("28 days" if q == "a?" else "no idea", contexts[q]))
    assert [g.correct for g in graded] == [True, False]
    assert retrieval_recall(graded) == 0.5
    assert retrieval_recall(evaluate(items, lambda q: ("x", None))) is None


def _example(question: str, answer: str, origin: str, split: str = "val") -> Example:
    return Example(chat_messages(question, ["some context"], answer), origin, split)  # type: ignore[arg-type]


def test_when_the_gate_picks_questions_then_they_are_held_out_grounded_examples_and_the_admin_file(
    tmp_path: Path,
) -> None:
    dataset = Dataset(
        [
            _example("What about plants?", "Plants are watered on Tuesday.", "document"),
            _example("How many vacation days?", "28 vacation days.", "qa"),
            _example("Trained on?", "Yes, 5.", "qa", split="train"),
            _example("Capital of Australia?", "I don't know.", "refusal"),
        ]
    )
    admin = tmp_path / "admin.jsonl"
    admin.write_text('{"question": "Where is the office?", "must": ["Berlin"]}\n')
    items = gate_questions(dataset, admin, limit=5)
    questions = [item.question for item in items]
    assert questions == ["How many vacation days?", "What about plants?", "Where is the office?"]
    assert gate_questions(dataset, None, limit=1)[0].question == "How many vacation days?"


@pytest.mark.parametrize(
    ("scores", "loss_says", "promoted", "why"),
    [
        (AnswerScores(10, candidate=0.5, base=0.6), True, False, "worse than the base model"),
        (AnswerScores(10, candidate=0.6, base=0.6), False, True, "at least as good as the base model"),
        (AnswerScores(10, 0.8, 0.6, active=0.9, active_version="v1"), True, False, "worse than v1"),
        (AnswerScores(10, 0.9, 0.6, active=0.8, active_version="v1"), False, True, "better than v1"),
        (AnswerScores(10, 0.8, 0.6, active=0.8, active_version="v1"), False, False, "validation loss not lower"),
        (AnswerScores(10, 0.8, 0.6, active=0.8, active_version="v1"), True, True, "validation loss lower"),
        (None, True, True, "validation loss"),
    ],
)
def test_when_the_gate_decides_then_answers_come_first_and_loss_breaks_ties(
    scores: AnswerScores | None, loss_says: bool, promoted: bool, why: str
) -> None:
    verdict = decide(scores, loss_says, tolerance=0.0)
    assert verdict.promoted is promoted and why in verdict.reason


def test_when_a_tolerance_is_set_then_a_small_loss_against_the_base_model_is_accepted() -> None:
    assert decide(AnswerScores(20, candidate=0.55, base=0.6), True, tolerance=0.05).promoted
    assert not decide(AnswerScores(20, candidate=0.5, base=0.6), True, tolerance=0.05).promoted
