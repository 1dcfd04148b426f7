"""Specifications for connectors.qa_files: which rows become Q&A records, and why the others are skipped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connectors.base import UnreadableFile
from connectors.qa_files import CsvQaConnector, JsonlQaConnector, MarkdownFaqConnector, faq_questions
from ftbot.records import Message, RawRecord, Skipped


def _read(connector: object, name: str, text: str) -> list[RawRecord | Skipped]:
    return list(connector.read(Path(name), text.encode()))  # type: ignore[attr-defined]


def _pairs(items: list[RawRecord | Skipped]) -> list[tuple[str, str]]:
    """(question, answer) of every record, in order; skips are left out."""
    return [(r.messages[0].content, r.messages[-1].content) for r in items if isinstance(r, RawRecord)]


def _skips(items: list[RawRecord | Skipped]) -> list[Skipped]:
    return [item for item in items if isinstance(item, Skipped)]


# --- CSV ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("question,answer\nQ1?,A1\n", [("Q1?", "A1")]),
        ("Question,ANSWER\nQ1?,A1\n", [("Q1?", "A1")]),
        (" question , answer \nQ1?,A1\n", [("Q1?", "A1")]),
        ("\ufeffquestion,answer\nQ1?,A1\n", [("Q1?", "A1")]),
        ("id,answer,tags,question\n7,A1,hr,Q1?\n", [("Q1?", "A1")]),
        ("question,answer\n\nQ1?,A1\n  ,  \n\nQ2?,A2\n", [("Q1?", "A1"), ("Q2?", "A2")]),
        ('question,answer\nQ1?,"A1, with a comma"\n', [("Q1?", "A1, with a comma")]),
        ('question,answer\n"Q1,\nmulti-line?","line one\nline two"\n', [("Q1,\nmulti-line?", "line one\nline two")]),
        ('question,answer\nQ1?,"She said ""yes"""\n', [("Q1?", 'She said "yes"')]),
        ("question,answer\r\nQ1?,A1\r\nQ2?,A2\r\n", [("Q1?", "A1"), ("Q2?", "A2")]),
        ("question,answer\n  Q1?  ,  A1  \n", [("Q1?", "A1")]),
    ],
    ids=[
        "plain",
        "header-any-case",
        "header-padded",
        "utf8-bom",
        "extra-columns-any-order",
        "blank-lines",
        "quoted-comma",
        "quoted-newlines",
        "escaped-quotes",
        "crlf",
        "cells-stripped",
    ],
)
def test_when_csv_rows_are_well_formed_then_each_becomes_a_qa_record(text: str, expected: list[tuple[str, str]]):
    items = _read(CsvQaConnector(), "faq.csv", text)

    assert _skips(items) == []
    assert _pairs(items) == expected


def test_when_csv_is_read_then_records_are_user_assistant_pairs_named_by_row():
    [record] = _read(CsvQaConnector(), "faq.csv", "question,answer\nQ1?,A1\n")

    assert record == RawRecord("row 2", "qa", messages=(Message("user", "Q1?"), Message("assistant", "A1")))


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("What is the guest Wi-Fi called?", "expected at least 2 columns, found 1"),
        ("What is the guest Wi-Fi called?,", "empty question or answer"),
        (",Lumora-Guest", "empty question or answer"),
    ],
    ids=["missing-answer-column", "empty-answer", "empty-question"],
)
def test_when_a_csv_row_lacks_an_answer_then_that_row_is_skipped_by_number(row: str, reason: str):
    items = _read(CsvQaConnector(), "faq.csv", f"question,answer\nQ1?,A1\n{row}\nQ3?,A3\n")

    assert _skips(items) == [Skipped("faq.csv row 3", reason)]
    assert _pairs(items) == [("Q1?", "A1"), ("Q3?", "A3")]


def test_when_a_csv_quote_is_never_closed_then_that_row_is_skipped_and_reading_stops():
    text = 'question,answer\nQ1?,A1\nQ2?,"opens a quote\nQ3?,A3\nQ4?,A4\n'

    items = _read(CsvQaConnector(), "faq.csv", text)

    assert _pairs(items) == [("Q1?", "A1")]
    [skipped] = _skips(items)
    assert skipped.where == "faq.csv row 3"
    assert skipped.reason.startswith("malformed CSV")


@pytest.mark.parametrize(
    "text",
    [
        "q,a\nQ1?,A1\n",
        "question,reply\nQ1?,A1\n",
        "Q1?,A1\nQ2?,A2\n",
        "\n",
        "",
    ],
    ids=["abbreviated", "no-answer-column", "no-header", "blank", "empty"],
)
def test_when_a_csv_has_no_question_and_answer_header_then_the_file_is_unreadable(text: str):
    with pytest.raises(UnreadableFile):
        _read(CsvQaConnector(), "faq.csv", text)


def test_when_the_csv_header_opens_a_quote_it_never_closes_then_the_file_is_unreadable():
    with pytest.raises(UnreadableFile):
        _read(CsvQaConnector(), "faq.csv", '"question,answer\nQ1?,A1\n')


# --- JSONL ----------------------------------------------------------------------------------------------------


def test_when_a_jsonl_line_has_question_and_answer_then_it_becomes_a_qa_record():
    [record] = _read(JsonlQaConnector(), "qa.jsonl", '{"question": " Q1? ", "answer": "A1", "source": "wiki"}\n')

    assert record == RawRecord("line 1", "qa", messages=(Message("user", "Q1?"), Message("assistant", "A1")))


def test_when_a_jsonl_line_has_openai_messages_then_it_becomes_a_chat_record():
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Q1?"},
        {"role": "assistant", "content": "A1"},
        {"role": "user", "content": "Q2?"},
        {"role": "assistant", "content": "A2"},
    ]

    [record] = _read(JsonlQaConnector(), "chats.jsonl", json.dumps({"messages": messages}) + "\n")

    assert record.kind == "chat"
    assert record.external_id == "line 1"
    assert [(m.role, m.content) for m in record.messages] == [(m["role"], m["content"]) for m in messages]


def test_when_jsonl_has_blank_lines_then_they_are_ignored_and_line_numbers_stay_true():
    text = '\n{"question": "Q2?", "answer": "A2"}\n   \n{"question": "Q4?", "answer": "A4"}\n'

    items = _read(JsonlQaConnector(), "qa.jsonl", text)

    assert [r.external_id for r in items if isinstance(r, RawRecord)] == ["line 2", "line 4"]


def test_when_a_jsonl_line_is_not_json_then_that_line_is_skipped_and_the_rest_are_read():
    text = '{"question": "Q1?", "answer": "A1"}\n{"question": "Q2?", "answer": \n{"question": "Q3?", "answer": "A3"}\n'

    items = _read(JsonlQaConnector(), "qa.jsonl", text)

    assert _pairs(items) == [("Q1?", "A1"), ("Q3?", "A3")]
    [skipped] = _skips(items)
    assert skipped.where == "qa.jsonl line 2"
    assert skipped.reason.startswith("invalid JSON")


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('["Q1?", "A1"]', "expected a JSON object"),
        ('"Q1?"', "expected a JSON object"),
        ('{"q": "Q1?", "a": "A1"}', "needs non-empty string fields 'question' and 'answer'"),
        ('{"question": "Q1?"}', "needs non-empty string fields 'question' and 'answer'"),
        ('{"question": "Q1?", "answer": 42}', "needs non-empty string fields 'question' and 'answer'"),
        ('{"question": "  ", "answer": "A1"}', "needs non-empty string fields 'question' and 'answer'"),
        ('{"messages": []}', "'messages' must be a non-empty list"),
        ('{"messages": "Q1?"}', "'messages' must be a non-empty list"),
        ('{"messages": [{"role": "bot", "content": "A1"}]}', "each message needs a role"),
        ('{"messages": [{"role": "user", "content": null}]}', "each message needs a role"),
        ('{"messages": [{"role": "user", "content": "Q1?"}]}', "at least one user and one assistant message"),
        (
            '{"messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "Q1?"}]}',
            "at least one user and one assistant message",
        ),
        ('{"messages": [{"role": "assistant", "content": "A1"}]}', "at least one user and one assistant message"),
    ],
    ids=[
        "array",
        "string",
        "other-keys",
        "no-answer",
        "answer-not-string",
        "blank-question",
        "messages-empty",
        "messages-not-list",
        "unknown-role",
        "content-not-string",
        "no-assistant",
        "system-and-user-only",
        "no-user",
    ],
)
def test_when_a_jsonl_line_has_the_wrong_schema_then_it_is_skipped_with_the_reason(line: str, reason: str):
    [skipped] = _read(JsonlQaConnector(), "qa.jsonl", line + "\n")

    assert isinstance(skipped, Skipped)
    assert skipped.where == "qa.jsonl line 1"
    assert reason in skipped.reason


def test_when_a_jsonl_string_holds_a_unicode_line_separator_then_the_line_is_still_one_record():
    line = json.dumps({"question": "Q1?\u2028still Q1", "answer": "A1"}, ensure_ascii=False)

    items = _read(JsonlQaConnector(), "qa.jsonl", line + "\n")

    assert _pairs(items) == [("Q1?\u2028still Q1", "A1")]


# --- Markdown FAQ ---------------------------------------------------------------------------------------------

FAQ = """# Support FAQ

Intro text that belongs to no question.

## How do I reset my password?

Click "Forgot password?" on the login page.
The link is valid for 60 min.

**Is there a free trial?**
Yes, 30 days.

### What does it cost?
EUR 19 per month.

## Contact

Write to support.
"""


def test_when_a_markdown_faq_is_read_then_heading_and_bold_questions_get_the_text_below_as_answer():
    items = _read(MarkdownFaqConnector(), "faq.md", FAQ)

    assert _skips(items) == []
    assert _pairs(items) == [
        ("How do I reset my password?", 'Click "Forgot password?" on the login page. The link is valid for 60 min.'),
        ("Is there a free trial?", "Yes, 30 days."),
        ("What does it cost?", "EUR 19 per month."),  # the "Contact" heading ends this answer
    ]
    assert [r.external_id for r in items] == ["question 1", "question 2", "question 3"]


@pytest.mark.parametrize(
    "text",
    ["## Q1?\nA1\n## Q2?\n\n## Q3?\nA3\n", "## Q1?\nA1\n## Q2?\n## Q3?\nA3\n", "## Q1?\nA1\n## Q3?\nA3\n## Q2?\n\n"],
    ids=["blank-below", "next-question-below", "at-the-end"],
)
def test_when_a_faq_question_has_no_answer_then_it_is_skipped_by_number(text: str):
    items = _read(MarkdownFaqConnector(), "faq.md", text)

    assert [s.reason for s in _skips(items)] == ["question has no answer below it"]
    assert len(_pairs(items)) == 2
    assert _skips(items)[0].where.startswith("faq.md question ")


@pytest.mark.parametrize(
    ("line", "questions"),
    [
        ("## How do I log in?", ["How do I log in?"]),
        ("###### Deep heading?", ["Deep heading?"]),
        ("**How do I log in?**", ["How do I log in?"]),
        ("## **How do I log in?**", ["How do I log in?"]),
        ("## Logging in", []),
        ("How do I log in?", []),
        ("**Note:** is this a question?", []),
        ("#hashtag?", []),
    ],
    ids=["h2", "h6", "bold", "bold-heading", "statement-heading", "plain-line", "bold-prefix", "no-space"],
)
def test_when_a_line_is_a_heading_or_bold_line_ending_in_a_question_mark_then_it_is_a_faq_question(
    line: str, questions: list[str]
):
    assert [question for _, question in faq_questions(f"intro\n{line}\nbody\n")] == questions
