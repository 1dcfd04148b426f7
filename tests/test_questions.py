"""Questions made from document sentences (reading practice), and how they enter the dataset."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.ingest import Ingestor
from trainer.pipeline import build_dataset
from trainer.questions import is_fact_bearing, questions_for


@pytest.mark.parametrize(
    ("sentence", "template", "question"),
    [
        (
            "You are entitled to 12 weeks of paid time off for the birth of a new child.",
            "value",
            "I am entitled to how many weeks of paid time off for the birth of a new child?",
        ),
        (
            "Separated employees retain access to Employee Express (EEX) for 3 years.",
            "value",
            "Separated employees retain access to Employee Express (EEX) for how many years?",
        ),
        (
            "The lodging rate in Washington is $258 per night in October.",
            "value",
            "The lodging rate in Washington is how much per night in October?",
        ),
        (
            "Ask questions in #tts-travel if you get stuck on a booking.",
            "value",
            "Ask questions in which Slack channel",
        ),
        (
            "You need to be approved for PPL before being able to use it.",
            "modal",
            "Do I need to be approved for PPL before being able to use it?",
        ),
        (
            "The Voluntary Leave Transfer Program is a program that lets employees donate leave.",
            "definition",
            "What is the Voluntary Leave Transfer Program?",
        ),
    ],
)
def test_when_a_sentence_holds_a_fact_then_a_question_asks_for_it(sentence: str, template: str, question: str) -> None:
    made = {q.template: q for q in questions_for(sentence, "Leave > About PPL")}
    assert made[template].question.startswith(question)
    assert made[template].answer == sentence
    assert made["keywords"].question.endswith("?")


@pytest.mark.parametrize(
    "sentence",
    [
        "Short one.",
        "How do I request leave for a new child?",
        "Google Drive, Gmail, Google Calendar, Zoom, Slack, GitHub",
    ],
)
def test_when_a_sentence_states_nothing_then_no_question_is_made(sentence: str) -> None:
    assert not is_fact_bearing(sentence) and questions_for(sentence, "Tools") == []


HANDBOOK = """# Leave
## Parental leave
You are entitled to 12 weeks of paid parental leave after the birth of a child. You need to be approved
for parental leave before you take it. Ask questions in #people-ops if anything is unclear.
## Office
The office plants are watered every Tuesday by the facilities team.
"""


def test_when_documents_are_trained_on_then_their_sentences_become_grounded_reading_examples(
    tiny_settings, db, tmp_path: Path, anonymizer, embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "leave.md").write_text(HANDBOOK)
    Ingestor(db, anonymizer, embedder).ingest([tmp_path / "leave.md"])
    dataset = build_dataset(tiny_settings, db)
    reading = [e for e in dataset.examples if e.origin == "document" and "how many weeks" in e.messages[1]["content"]]
    assert reading, [e.messages[1]["content"][-120:] for e in dataset.examples]
    answer = reading[0].messages[2]["content"]
    assert answer.startswith("You are entitled to 12 weeks") and answer in reading[0].messages[1]["content"]

    monkeypatch.setenv("FTBOT_TRAINING__DOCUMENT_QUESTIONS", "0")
    from ftbot.config import load_settings

    without = build_dataset(load_settings(), db)
    assert not any("how many weeks" in e.messages[1]["content"] for e in without.examples)
