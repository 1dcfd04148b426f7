"""Documents (.md, .txt, .html, .pdf, .docx): loaded, split by section, then chunked."""

from __future__ import annotations

import io
import re
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

from langchain_text_splitters import HTMLHeaderTextSplitter, RecursiveCharacterTextSplitter

from connectors.base import UnreadableFile, decode_text
from connectors.document_text import markdown_blocks, split_front_matter, unwrap_plain
from ftbot.records import RawRecord, Skipped


@dataclass(frozen=True)
class Section:
    title: str
    text: str


class DocumentConnector:
    """Splits a document into sections (by heading where the format has them) and sections into chunks."""

    kind = "document"
    suffixes = (".md", ".markdown", ".txt", ".html", ".htm", ".pdf", ".docx")

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
    if suffix == ".docx":
        return _docx_sections(path, content)
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
    """Sections of a Markdown page, titled by their heading path (# to ######) below the page's title.

    The page's title is its # heading, else its front matter's title, else the file name's.
    """
    front_matter_title, body = split_front_matter(text)
    blocks = markdown_blocks(body)
    document_title = front_matter_title or default_title
    if not any(level == 1 for level, _ in blocks):
        blocks.insert(0, (0, document_title))
    return _sections_by_heading(blocks, default_title=document_title)


# Inline elements are unwrapped before the splitter reads the page: it emits each element's text as a
# piece of its own, so "<p>see <a>the form</a>.</p>" would read "see .", then "the form".
_INLINE_HTML = re.compile(r"</?(?:a|abbr|b|code|em|i|mark|small|span|strong|sub|sup|u)\b[^<>]*>", re.IGNORECASE)


def _html_sections(text: str, default_title: str) -> list[Section]:
    splitter = HTMLHeaderTextSplitter([("h1", "h1"), ("h2", "h2"), ("h3", "h3")])
    merged: dict[str, list[str]] = {}  # the splitter yields one piece per element; join them per heading
    for doc in splitter.split_text(_INLINE_HTML.sub("", text)):
        # Pieces are separated by "  \n"; any other line break is the source's wrapping. A heading's own
        # piece repeats the section's title.
        pieces = (" ".join(piece.split()) for piece in doc.page_content.split("  \n"))
        body = [piece for piece in pieces if piece and piece not in doc.metadata.values()]
        merged.setdefault(_heading_title(doc.metadata, default_title), []).extend(body)
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
    return [Section(section.title, unwrap_plain(section.text)) for section in sections if section.text.strip()]


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


# Word files are ZIP archives of XML (Office Open XML). We read them with the standard library rather than
# langchain's Docx2txtLoader, which flattens the text: the paragraphs' heading styles give us sections.
_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
_MAX_DOCX_XML_BYTES = 64_000_000  # uncompressed; a larger part is a ZIP bomb, not a policy document
_HEADING_NAME = re.compile(r"^(?:heading\s*([1-3])|title)$", re.IGNORECASE)


def _docx_sections(path: Path, content: bytes) -> list[Section]:
    """Sections of a Word file: Title and Heading 1-3 paragraphs start them, like Markdown's # to ###."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            document = _docx_part(archive, "word/document.xml")
            styles = _docx_part(archive, "word/styles.xml") if "word/styles.xml" in archive.namelist() else None
    except zipfile.BadZipFile:
        raise UnreadableFile(f"broken .docx: {_not_a_zip(content)}") from None
    except UnreadableFile as error:
        raise UnreadableFile(f"broken .docx: {error}") from None
    levels = _heading_levels(styles)
    paragraphs = [(levels.get(_style_id(p)), _paragraph_text(p).strip()) for p in _paragraphs(document)]
    return _sections_by_heading(paragraphs, default_title=_title_from_name(path))


def _sections_by_heading(paragraphs: list[tuple[int | None, str]], default_title: str) -> list[Section]:
    """(heading level or None, text) paragraphs → sections titled by their heading path ("Leave > Vacation")."""
    headings: dict[int, str] = {}  # level → the current heading at that level, in level order
    sections: list[Section] = []
    body: list[str] = []
    for level, text in paragraphs:
        if level is None or not text:
            body.append(text)
            continue
        sections.append(Section(" > ".join(headings.values()) or default_title, "\n\n".join(filter(None, body))))
        headings = {lvl: title for lvl, title in headings.items() if lvl < level} | {level: text}
        body = []
    sections.append(Section(" > ".join(headings.values()) or default_title, "\n\n".join(filter(None, body))))
    return [section for section in sections if section.text.strip()]


def _not_a_zip(content: bytes) -> str:
    if content.startswith(b"PK"):
        return "the ZIP archive is damaged or cut off"
    if content.startswith(b"\xd0\xcf\x11\xe0"):  # an OLE compound file
        return "an old .doc or a password-protected file; save it as an unprotected .docx"
    return "not a ZIP archive"


def _docx_part(archive: zipfile.ZipFile, name: str) -> ElementTree.Element:
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise UnreadableFile(f"{name} is missing") from None
    if info.file_size > _MAX_DOCX_XML_BYTES:
        raise UnreadableFile(f"{name} is {info.file_size // 1_000_000} MB uncompressed")
    try:
        data = archive.read(info)
    except (zipfile.BadZipFile, OSError, EOFError) as error:  # a cut-off or corrupt archive member
        raise UnreadableFile(f"{name} can't be unpacked: {error}") from None
    if b"<!DOCTYPE" in data[:4096]:  # Word never writes one; entity tricks (billion laughs) need one
        raise UnreadableFile(f"{name} declares a DOCTYPE")
    try:
        return ElementTree.fromstring(data)
    except ElementTree.ParseError as error:
        raise UnreadableFile(f"{name} is not valid XML ({error})") from None


def _heading_levels(styles: ElementTree.Element | None) -> dict[str, int]:
    """Paragraph style id → heading level: 0 for Title, 1-3 for Heading 1-3.

    Style ids are localised ("berschrift1" in a German Word) but built-in style names are not ("heading 1").
    """
    levels = {"Title": 0, "Heading1": 1, "Heading2": 2, "Heading3": 3}
    for style in styles.iter(f"{_W}style") if styles is not None else ():
        name = style.find(f"{_W}name")
        match = _HEADING_NAME.match(name.get(f"{_W}val", "") if name is not None else "")
        if match and style.get(f"{_W}type") == "paragraph":
            levels[style.get(f"{_W}styleId", "")] = int(match[1] or 0)
    return levels


def _paragraphs(element: ElementTree.Element) -> Iterator[ElementTree.Element]:
    """Every paragraph in document order, text boxes' included, each once."""
    for child in element:
        if child.tag == _MC_FALLBACK:
            continue  # a copy of the mc:Choice beside it, for older readers
        if child.tag == f"{_W}p":
            yield child
        yield from _paragraphs(child)


def _style_id(paragraph: ElementTree.Element) -> str:
    style = paragraph.find(f"{_W}pPr/{_W}pStyle")
    return style.get(f"{_W}val", "") if style is not None else ""


def _paragraph_text(paragraph: ElementTree.Element) -> str:
    """A paragraph's visible text: runs, tabs and line breaks; not deleted text or a text box's paragraphs."""
    parts: list[str] = []
    for child in paragraph:
        if child.tag in (f"{_W}p", _MC_FALLBACK):
            continue  # a text box's paragraph is read on its own; a fallback repeats its mc:Choice
        if child.tag == f"{_W}t":
            parts.append(child.text or "")
        elif child.tag == f"{_W}tab":
            parts.append("\t")
        elif child.tag in (f"{_W}br", f"{_W}cr"):
            parts.append("\n")
        else:
            parts.append(_paragraph_text(child))
    return "".join(parts)
