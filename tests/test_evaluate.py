"""Grading answers against expected facts, and reading eval files."""

from __future__ import annotations

from pathlib import Path

import pytest

from trainer.evaluate import EvalItem, accuracy, evaluate, grade, read_eval_file


@pytest.mark.parametrize(
    ("answer", "expected", "correct"),
    [
        ("Full-time employees get 28 vacation days per year.", "28 vacation days", True),
        ("You get 23 vacation days.", "28 vacation days", False),
        ("Ask in #it-helpdesk, they answer fast.", "#it-helpdesk", True),
        ("Ask the IT helpdesk.", "#it-helpdesk", False),
        ("The budget is EUR 1,500 per year.", "EUR 1,500", True),
        ("The budget is EUR 1500 per year.", "EUR 1,500", False),
        ("It starts at 9:30.", "9:30", True),
        ("Days expire on 31 March.", "31 march", True),
        ("", "anything", False),
    ],
)
def test_when_an_answer_is_graded_then_every_expected_word_must_appear(
    answer: str, expected: str, correct: bool
) -> None:
    assert grade(answer, expected) is correct


def test_when_the_eval_file_is_read_then_each_line_is_an_item(tmp_path: Path) -> None:
    path = tmp_path / "eval.jsonl"
    path.write_text('{"question": "q1", "expected": "a"}\n\n{"question": "q2", "expected": "b"}\n')
    items = list(read_eval_file(path))
    assert items == [EvalItem("q1", "a"), EvalItem("q2", "b")]
    graded = evaluate(items, lambda q: ("a" if q == "q1" else "c", None))
    assert accuracy(graded) == 0.5


def test_when_an_eval_line_is_broken_then_the_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "eval.jsonl"
    path.write_text('{"question": "q1", "expected": "a"}\n{"question": "q2"}\n')
    with pytest.raises(ValueError, match="line 2"):
        list(read_eval_file(path))


def test_when_the_bundled_eval_set_is_read_then_no_question_is_a_training_question() -> None:
    examples = Path(__file__).resolve().parent.parent / "examples"
    faq = (examples / "faq.csv").read_text().lower()
    items = list(read_eval_file(examples / "eval.jsonl"))
    assert len(items) >= 40
    assert all(item.question.lower() not in faq for item in items)


def test_when_the_18f_question_sets_are_read_then_every_key_fact_is_on_its_page() -> None:
    """examples/18f: questions on a real handbook (../shared/corpora/18f-handbook), their facts checked against
    the page they were written from when the corpus is beside the checkout."""
    import json
    import re

    sets = Path(__file__).resolve().parent.parent / "examples" / "18f"
    pages = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "18f-handbook" / "pages"
    dev, heldout = list(read_eval_file(sets / "dev.jsonl")), list(read_eval_file(sets / "heldout.jsonl"))
    assert len(dev) + len(heldout) >= 60 and not {i.question for i in dev} & {i.question for i in heldout}
    if not pages.is_dir():
        pytest.skip("the 18F handbook is not beside this checkout")
    for line in (sets / "dev.jsonl").read_text().splitlines() + (sets / "heldout.jsonl").read_text().splitlines():
        entry = json.loads(line)
        text = " ".join((pages / entry["page"]).read_text(encoding="utf-8").split())
        assert all(re.search(pattern, text, re.IGNORECASE) for pattern in entry["must"]), entry
