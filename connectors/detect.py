"""Which connector reads a file: a support export by its content, else Q&A files, FAQs and documents by suffix."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from connectors.base import FileConnector, UnreadableFile, decode_text
from connectors.documents import DocumentConnector
from connectors.intercom import IntercomConnector
from connectors.qa_files import CsvQaConnector, JsonlQaConnector, MarkdownFaqConnector, faq_questions
from connectors.transcripts import TranscriptCsvConnector, TranscriptJsonlConnector
from connectors.zendesk import ZendeskConnector

SUPPORTED_SUFFIXES = (".csv", ".jsonl", ".json", ".ndjson", *DocumentConnector.suffixes)
EXPORT_SUFFIXES = (".json", ".jsonl", ".ndjson", ".csv")

# Picks the connector for one file, given its path and content.
ReaderFor = Callable[[Path, bytes], FileConnector]


def connector_for(path: Path, content: bytes, documents: DocumentConnector) -> FileConnector:
    """Which connector reads this file; a Markdown file is a FAQ when most of its headings are questions."""
    suffix = path.suffix.lower()
    if suffix in EXPORT_SUFFIXES and (export := detect_export(path, content)) is not None:
        return export  # a Zendesk, Intercom or transcript export, told apart by its content
    if suffix in (".json", ".ndjson"):
        raise UnreadableFile("not a Zendesk, Intercom or transcript export")
    if suffix == ".csv":
        return CsvQaConnector()
    if suffix == ".jsonl":
        return JsonlQaConnector()
    if suffix in (".md", ".markdown") and _looks_like_faq(content):
        return MarkdownFaqConnector()
    if suffix in DocumentConnector.suffixes:
        return documents
    raise UnreadableFile(f"unsupported file type '{suffix or path.name}' (use {', '.join(SUPPORTED_SUFFIXES)})")


def export_reader(kind: str) -> ReaderFor:
    """For an export source: every file is read as that vendor's export ("zendesk", "intercom", "transcripts")."""

    def reader_for(path: Path, content: bytes) -> FileConnector:
        if kind == "zendesk":
            return ZendeskConnector()
        if kind == "intercom":
            return IntercomConnector()
        return TranscriptCsvConnector() if path.suffix.lower() == ".csv" else TranscriptJsonlConnector()

    return reader_for


def _looks_like_faq(content: bytes) -> bool:
    try:
        text = decode_text(content)
    except UnreadableFile:
        return False  # the document connector reports why
    headings = [line for line in text.splitlines() if line.startswith("#") or line.strip().startswith("**")]
    questions = faq_questions(text)
    return len(questions) >= 3 and len(questions) >= 0.6 * len(headings)


def detect_export(path: Path, content: bytes) -> FileConnector | None:
    """The connector for a support export (Zendesk, Intercom, transcript JSONL or CSV), by its content.

    None when the file is not one (a Q&A CSV or JSONL, for instance): the suffix rules decide then. Files
    that aren't UTF-8 are still recognised, so the chosen connector can say what is wrong with them.
    """
    text = content.decode("utf-8-sig", errors="replace").lstrip()
    if text.startswith(("{", "[")):
        return _json_export(text)
    first_line = next((line for line in text.split("\n") if line.strip()), "")
    try:
        header = {name.strip().lower() for name in next(csv.reader([first_line]), [])}
    except csv.Error:  # binary, or a broken first line: not a transcript CSV
        return None
    if {"conversation_id", "text"} <= header and header & {"role", "author_type"}:
        return TranscriptCsvConnector()
    return None


def _json_export(text: str) -> FileConnector | None:
    sample = _first_json_object(text)
    if sample is None:  # not even one whole object: a truncated single document, recognised by its keys
        return _export_by_keys(text[:65536])
    if "messages" in sample or "question" in sample:
        return None  # the Q&A / chat JSONL format (connectors.qa_files)
    if "tickets" in sample or "ticket" in sample or "requester_id" in sample:
        return ZendeskConnector()
    if "comments" in sample and "subject" in sample:
        return ZendeskConnector()
    if sample.get("type") in ("conversation", "conversation.list") or "conversations" in sample:
        return IntercomConnector()
    if "conversation_id" in sample and "text" in sample:
        return TranscriptJsonlConnector()
    return None


def _first_json_object(text: str) -> dict[str, Any] | None:
    """The file's first JSON object: the document, the first line of NDJSON, or a top-level list's first item."""
    try:
        value, _ = json.JSONDecoder().raw_decode(text)
    except json.JSONDecodeError:
        value = None
        for line in text.split("\n")[:50]:  # NDJSON whose first line is broken
            try:
                value = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(value, dict):
                break
    if isinstance(value, list):
        value = next((item for item in value if isinstance(item, dict)), None)
    return value if isinstance(value, dict) else None


def _export_by_keys(head: str) -> FileConnector | None:
    if re.search(r'"(?:tickets|requester_id)"\s*:', head):
        return ZendeskConnector()
    if re.search(r'"type"\s*:\s*"conversation(?:\.list)?"', head):
        return IntercomConnector()
    return None
