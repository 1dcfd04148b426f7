"""Q&A files: CSV (question,answer), JSONL (question/answer or chat `messages`), Markdown FAQs."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from connectors.base import UnreadableFile, csv_rows, decode_text
from ftbot.records import Message, RawRecord, Skipped

ROLES = ("system", "user", "assistant")


def qa_record(external_id: str, question: str, answer: str) -> RawRecord:
    return RawRecord(
        external_id,
        "qa",
        messages=(Message("user", question.strip()), Message("assistant", answer.strip())),
    )


class CsvQaConnector:
    """A CSV file with `question` and `answer` columns (any case, any other columns ignored)."""

    kind = "qa_file"

    def read(self, path: Path, content: bytes) -> Iterator[RawRecord | Skipped]:
        header, rows = csv_rows(path, content)
        if "question" not in header or "answer" not in header:
            raise UnreadableFile("CSV needs a header with 'question' and 'answer' columns")
        q_col, a_col = header.index("question"), header.index("answer")
        for item in rows:
            yield item if isinstance(item, Skipped) else self._row(path, *item, q_col, a_col)

    @staticmethod
    def _row(path: Path, number: int, row: list[str], q_col: int, a_col: int) -> RawRecord | Skipped:
        where = f"{path.name} row {number}"
        if len(row) <= max(q_col, a_col):
            return Skipped(where, f"expected at least {max(q_col, a_col) + 1} columns, found {len(row)}")
        question, answer = row[q_col].strip(), row[a_col].strip()
        if not question or not answer:
            return Skipped(where, "empty question or answer")
        return qa_record(f"row {number}", question, answer)


class JsonlQaConnector:
    """JSON Lines: {"question", "answer"} per line, or OpenAI chat format {"messages": [...]}."""

    kind = "qa_file"

    def read(self, path: Path, content: bytes) -> Iterator[RawRecord | Skipped]:
        # split("\n"), not splitlines(): JSON strings may hold U+2028 and other characters splitlines() cuts at.
        for number, line in enumerate(decode_text(content).split("\n"), start=1):
            if not line.strip():
                continue
            where = f"{path.name} line {number}"
            try:
                yield self._line(number, json.loads(line))
            except json.JSONDecodeError as error:
                yield Skipped(where, f"invalid JSON: {error.msg} at column {error.colno}")
            except ValueError as error:
                yield Skipped(where, str(error))

    @staticmethod
    def _line(number: int, obj: Any) -> RawRecord:
        if not isinstance(obj, dict):
            raise ValueError("expected a JSON object")
        if "messages" in obj:
            return RawRecord(f"line {number}", "chat", messages=_chat_messages(obj["messages"]))
        question, answer = obj.get("question"), obj.get("answer")
        if not isinstance(question, str) or not isinstance(answer, str) or not question.strip() or not answer.strip():
            raise ValueError("needs non-empty string fields 'question' and 'answer', or 'messages'")
        return qa_record(f"line {number}", question, answer)


def _chat_messages(raw: Any) -> tuple[Message, ...]:
    if not isinstance(raw, list) or not raw:
        raise ValueError("'messages' must be a non-empty list")
    messages = []
    for item in raw:
        if not isinstance(item, dict) or item.get("role") not in ROLES or not isinstance(item.get("content"), str):
            raise ValueError("each message needs a role (system/user/assistant) and string content")
        messages.append(Message(item["role"], item["content"].strip()))
    roles = {m.role for m in messages}
    if "user" not in roles or "assistant" not in roles:
        raise ValueError("a conversation needs at least one user and one assistant message")
    return tuple(messages)


# A question is a Markdown heading or a bold line that ends with "?".
_QUESTION = re.compile(r"^(?:#{1,6}\s+(?P<heading>.+?)|\*\*(?P<bold>.+?)\*\*)\s*$")


def faq_questions(text: str) -> list[tuple[int, str]]:
    """(line index, question) for every heading or bold line in a Markdown text that ends in '?'."""
    found = []
    for index, line in enumerate(text.split("\n")):
        match = _QUESTION.match(line.strip())
        if match:
            title = (match["heading"] or match["bold"]).strip().strip("*").strip()
            if title.endswith("?"):
                found.append((index, title))
    return found


class MarkdownFaqConnector:
    """A Markdown FAQ: each question is a heading or bold line ending in '?', its answer the text below."""

    kind = "qa_file"

    def read(self, path: Path, content: bytes) -> Iterator[RawRecord | Skipped]:
        lines = decode_text(content).split("\n")
        questions = faq_questions("\n".join(lines))
        ends = [index for index, line in enumerate(lines) if _QUESTION.match(line.strip())] + [len(lines)]
        for number, (start, question) in enumerate(questions, start=1):
            end = next(e for e in ends if e > start)
            answer = " ".join(line.strip() for line in lines[start + 1 : end] if line.strip())
            if not answer:
                yield Skipped(f"{path.name} question {number}", "question has no answer below it")
            else:
                yield qa_record(f"question {number}", question, answer)
