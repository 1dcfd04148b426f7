"""Documents (.md, .txt, .html, .pdf): loaded with langchain's loaders, split by section, then chunked."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from langchain_text_splitters import (
    HTMLHeaderTextSplitter,
    MarkdownHeaderTextSplitter,
    RecursiveCharacterTextSplitter,
)

from connectors.base import UnreadableFile, decode_text
from ftbot.records import RawRecord, Skipped


@dataclass(frozen=True)
class Section:
    title: str
    text: str


class DocumentConnector:
    """Splits a document into sections (by heading where the format has them) and sections into chunks."""

    kind = "document"
    suffixes = (".md", ".markdown", ".txt", ".html", ".htm", ".pdf")

    def __init__(self, chunk_chars: int = 700, chunk_overlap: int = 80) -> None:
        self._splitter = RecursiveCharacterTextSplitter(
            chunk_size=chunk_chars, chunk_overlap=min(chunk_overlap, chunk_chars // 2)
        )

    def read(self, path: Path, content: bytes) -> Iterator[RawRecord | Skipped]:
        sections = _load_sections(path, content)
        if not any(section.text.strip() for section in sections):
            raise UnreadableFile("no text found in the document")
        number = 0
        for section in sections:
            for piece in self._splitter.split_text(section.text):
                number += 1
                yield RawRecord(f"chunk {number}", "chunk", title=section.title, text=piece.strip())


def _load_sections(path: Path, content: bytes) -> list[Section]:
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        return _pdf_sections(path, content)
    text = decode_text(content)
    if suffix in (".md", ".markdown"):
        return _markdown_sections(text, default_title=_title_from_name(path))
    if suffix in (".html", ".htm"):
        return _html_sections(text, default_title=_title_from_name(path))
    return _plain_sections(text, default_title=_title_from_name(path))


def _title_from_name(path: Path) -> str:
    stem = re.sub(r"^\d+[-_ ]*", "", path.stem)
    return stem.replace("-", " ").replace("_", " ").strip().capitalize() or path.stem


def _markdown_sections(text: str, default_title: str) -> list[Section]:
    splitter = MarkdownHeaderTextSplitter([("#", "h1"), ("##", "h2"), ("###", "h3")])
    return [Section(_heading_title(doc.metadata, default_title), doc.page_content) for doc in splitter.split_text(text)]


def _html_sections(text: str, default_title: str) -> list[Section]:
    splitter = HTMLHeaderTextSplitter([("h1", "h1"), ("h2", "h2"), ("h3", "h3")])
    merged: dict[str, list[str]] = {}  # the splitter yields one piece per element; join them per heading
    for doc in splitter.split_text(text):
        merged.setdefault(_heading_title(doc.metadata, default_title), []).append(doc.page_content)
    return [Section(title, "\n".join(parts)) for title, parts in merged.items()]


def _heading_title(metadata: dict[str, str], default: str) -> str:
    headings = [metadata[key] for key in ("h1", "h2", "h3") if metadata.get(key)]
    return " > ".join(headings) if headings else default


# A plain-text heading: a short line in capitals, like "BEFORE YOUR FIRST DAY".
_CAPS_HEADING = re.compile(r"^[A-Z0-9][A-Z0-9 &,'/()-]{2,80}$")


def _plain_sections(text: str, default_title: str) -> list[Section]:
    """Sections of a plain-text file; a capitals heading before any body text is the document's title."""
    document_title, title = default_title, default_title
    sections: list[Section] = []
    body: list[str] = []
    for line in text.splitlines():
        heading = line.strip()
        if not (_CAPS_HEADING.match(heading) and any(c.isalpha() for c in heading)):
            body.append(line)
            continue
        if not sections and not "".join(body).strip():
            document_title = title = heading.capitalize()
            continue
        sections.append(Section(title, "\n".join(body)))
        title, body = f"{document_title} > {heading.capitalize()}", []
    sections.append(Section(title, "\n".join(body)))
    return [section for section in sections if section.text.strip()]


def _pdf_sections(path: Path, content: bytes) -> list[Section]:
    from langchain_community.document_loaders import PyPDFLoader

    if not content.startswith(b"%PDF"):
        raise UnreadableFile("not a PDF file (missing %PDF header)")
    # PyPDFLoader reads from a path; the bytes we hashed are the ones we parse.
    with tempfile.NamedTemporaryFile(suffix=".pdf") as handle:
        handle.write(content)
        handle.flush()
        try:
            pages = PyPDFLoader(handle.name).load()
        except Exception as error:  # pypdf raises many types for broken files
            raise UnreadableFile(f"broken PDF: {type(error).__name__}: {error}") from None
    title = _title_from_name(path)
    first_text = pages[0].page_content.strip() if pages else ""
    first_line = first_text.splitlines()[0].strip() if first_text else ""
    if 3 <= len(first_line) <= 80:  # a PDF's first line is usually its title
        title = first_line
    return [Section(title, page.page_content) for page in pages]
