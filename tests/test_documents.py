"""Specifications for connectors.documents: documents become chunks titled "Doc title > Section"."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from conftest import EXAMPLES, FIXTURES

from connectors.base import UnreadableFile
from connectors.documents import DocumentConnector
from ftbot.records import RawRecord


def _chunks(name: str, content: bytes | str, **options: int) -> list[RawRecord]:
    data = content.encode() if isinstance(content, str) else content
    items = list(DocumentConnector(**options).read(Path(name), data))
    assert all(isinstance(item, RawRecord) and item.kind == "chunk" for item in items)
    return items  # type: ignore[return-value]


def _titled(chunks: list[RawRecord]) -> list[tuple[str, str]]:
    return [(chunk.title, chunk.text) for chunk in chunks]


def test_when_markdown_has_headings_then_each_section_is_titled_by_its_heading_path():
    text = "# Leave\nIntro.\n## Vacation\n28 days.\n### Part-time\nPro rata.\n## Sick leave\nCall in.\n"

    chunks = _chunks("leave.md", text)

    assert _titled(chunks) == [
        ("Leave", "Intro."),
        ("Leave > Vacation", "28 days."),
        ("Leave > Vacation > Part-time", "Pro rata."),
        ("Leave > Sick leave", "Call in."),
    ]
    assert [chunk.external_id for chunk in chunks] == ["chunk 1", "chunk 2", "chunk 3", "chunk 4"]


@pytest.mark.parametrize(
    ("name", "title"),
    [
        ("01-leave-and-holidays.md", "Leave and holidays"),
        ("code_of_conduct.md", "Code of conduct"),
        ("notes.txt", "Notes"),
    ],
    ids=["numbered-kebab", "snake", "plain"],
)
def test_when_a_document_has_no_title_heading_then_its_file_name_is_the_title(name: str, title: str):
    [chunk] = _chunks(name, "Just one paragraph of text.\n")

    assert chunk.title == title


def test_when_html_has_headings_then_sections_follow_them_and_paragraphs_stay_together():
    html = (
        "<html><head><title>ignored</title></head><body><h1>IT and Security</h1><p>Protect data.</p>"
        "<h2>VPN</h2><p>We use Tailscale.</p><p>Connect from outside.</p><h2>Wi-Fi</h2><p>Lumora-Staff.</p>"
        "</body></html>"
    )

    chunks = _chunks("it.html", html)

    assert [chunk.title for chunk in chunks] == ["IT and Security", "IT and Security > VPN", "IT and Security > Wi-Fi"]
    vpn = chunks[1].text
    assert "We use Tailscale." in vpn and "Connect from outside." in vpn
    assert "<p>" not in "".join(chunk.text for chunk in chunks)


def test_when_plain_text_has_capitals_headings_then_the_first_is_the_title_and_the_rest_are_sections():
    text = (
        "ONBOARDING\n\nWelcome aboard.\n\nBEFORE YOUR FIRST DAY\n\nSign in Personio.\n\nYOUR FIRST DAY\nCome at 9:30."
    )

    chunks = _chunks("onboarding.txt", text)

    assert _titled(chunks) == [
        ("Onboarding", "Welcome aboard."),
        ("Onboarding > Before your first day", "Sign in Personio."),
        ("Onboarding > Your first day", "Come at 9:30."),
    ]


def test_when_plain_text_starts_with_body_text_then_capitals_headings_hang_below_the_file_name():
    chunks = _chunks("guide.txt", "Some words first.\n\nDESKS AND ROOMS\nBook in Deskbird.\n")

    assert _titled(chunks) == [("Guide", "Some words first."), ("Guide > Desks and rooms", "Book in Deskbird.")]


def test_when_the_example_pdf_is_read_then_its_text_is_extracted_under_its_first_line_as_title():
    path = EXAMPLES / "handbook" / "08-office-and-facilities.pdf"

    chunks = _chunks(path.name, path.read_bytes())

    assert {chunk.title for chunk in chunks} == {"Office and Facilities"}
    text = " ".join(chunk.text for chunk in chunks)
    assert "Köpenicker Straße 154" in text
    assert "Deskbird" in text


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("broken.pdf", (FIXTURES / "bad" / "broken.pdf").read_bytes(), "broken PDF"),
        ("report.pdf", b"Just text, saved with the wrong suffix.", "not a PDF"),
        ("report.pdf", (EXAMPLES / "faq.csv").read_bytes(), "not a PDF"),
        ("report.pdf", b"%PDF-1.4\n", "broken PDF"),
    ],
    ids=["broken-fixture", "text-bytes", "csv-bytes", "header-only"],
)
def test_when_a_pdf_cannot_be_parsed_then_the_file_is_unreadable(name: str, content: bytes, reason: str):
    with pytest.raises(UnreadableFile, match=reason):
        _chunks(name, content)


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.md", b"", "empty"),
        ("blank.txt", b"  \n\n\t\n", "empty"),
        ("heading-only.md", b"# Title\n## Section\n", "no text"),
        ("tags-only.html", b"<html><body></body></html>", "no text"),
        ("empty.pdf", b"", "not a PDF"),
        ("binary.txt", (FIXTURES / "bad" / "binary.txt").read_bytes(), "binary"),
        ("latin1.txt", (FIXTURES / "bad" / "latin1.txt").read_bytes(), "UTF-8"),
    ],
    ids=["empty", "whitespace", "headings-only", "html-without-text", "empty-pdf", "binary", "latin1"],
)
def test_when_a_document_has_no_usable_text_then_the_file_is_unreadable(name: str, content: bytes, reason: str):
    with pytest.raises(UnreadableFile, match=reason):
        _chunks(name, content)


@pytest.mark.parametrize("chunk_chars", [100, 250])
def test_when_a_section_is_longer_than_a_chunk_then_it_splits_into_chunks_no_longer_than_chunk_chars(
    chunk_chars: int,
):
    words = [f"word{i}" for i in range(300)]
    text = "# Handbook\n## Long section\n" + " ".join(words) + "\n"

    chunks = _chunks("handbook.md", text, chunk_chars=chunk_chars, chunk_overlap=20)

    assert len(chunks) > 1
    assert all(len(chunk.text) <= chunk_chars for chunk in chunks)
    assert {chunk.title for chunk in chunks} == {"Handbook > Long section"}
    assert {word for chunk in chunks for word in chunk.text.split()} == set(words)  # nothing lost at the cuts


# --- Word (.docx) --------------------------------------------------------------------------------------------

_W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
    "</Types>"
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'officeDocument" Target="word/document.xml"/></Relationships>'
)


def _docx(paragraphs: list[tuple[str, str]], styles: dict[str, str] | None = None) -> bytes:
    """A minimal Word file, written as Word lays it out: (style id or "", text) per paragraph. In the text,
    a tab is <w:tab/> and a newline a <w:br/>; `styles` maps style ids to names for word/styles.xml."""

    def run(text: str) -> str:
        pieces = []
        for number, line in enumerate(text.split("\n")):
            cells = [f'<w:t xml:space="preserve">{escape(cell)}</w:t>' for cell in line.split("\t")]
            pieces.append(("<w:br/>" if number else "") + "<w:tab/>".join(cells))
        return f"<w:r>{''.join(pieces)}</w:r>"

    def paragraph(style: str, text: str) -> str:
        properties = f'<w:pPr><w:pStyle w:val="{style}"/></w:pPr>' if style else ""
        return f"<w:p>{properties}{run(text)}</w:p>"

    body = "".join(paragraph(style, text) for style, text in paragraphs)
    document = f'<w:document xmlns:w="{_W_NS}"><w:body>{body}</w:body></w:document>'
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("_rels/.rels", _RELS)
        archive.writestr("word/document.xml", document)
        if styles:
            defined = "".join(
                f'<w:style w:type="paragraph" w:styleId="{style_id}"><w:name w:val="{name}"/></w:style>'
                for style_id, name in styles.items()
            )
            archive.writestr("word/styles.xml", f'<w:styles xmlns:w="{_W_NS}">{defined}</w:styles>')
    return buffer.getvalue()


def test_when_a_docx_has_title_and_heading_styles_then_sections_follow_them_like_markdown_headings():
    content = _docx(
        [
            ("Title", "Travel Policy"),
            ("", "How we book trips."),
            ("Heading1", "Booking"),
            ("", "Book trains in Travelperk.\nFlights need approval."),
            ("Heading2", "Per diem"),
            ("", "Breakfast\tEUR 5"),
            ("Heading1", "Expenses"),
            ("ListParagraph", "Submit receipts within 30 days."),
        ]
    )

    chunks = _chunks("04-travel.docx", content)

    assert _titled(chunks) == [
        ("Travel Policy", "How we book trips."),
        ("Travel Policy > Booking", "Book trains in Travelperk.\nFlights need approval."),
        ("Travel Policy > Booking > Per diem", "Breakfast\tEUR 5"),
        ("Travel Policy > Expenses", "Submit receipts within 30 days."),
    ]


def test_when_a_docx_was_written_by_a_localised_word_then_headings_are_found_by_their_style_names():
    # A German Word names its style ids after the UI ("berschrift1") but keeps the built-in names.
    content = _docx(
        [("berschrift1", "Urlaub"), ("", "28 Tage."), ("berschrift2", "Teilzeit"), ("", "Anteilig.")],
        styles={"berschrift1": "heading 1", "berschrift2": "heading 2", "Standard": "Normal"},
    )

    assert _titled(_chunks("urlaub.docx", content)) == [("Urlaub", "28 Tage."), ("Urlaub > Teilzeit", "Anteilig.")]


def test_when_a_docx_has_no_headings_then_its_file_name_is_the_title():
    content = _docx([("", "First paragraph."), ("", "Second paragraph.")])

    [chunk] = _chunks("02-code-of-conduct.docx", content)

    assert (chunk.title, chunk.text) == ("Code of conduct", "First paragraph.\n\nSecond paragraph.")


def _truncated_docx() -> bytes:
    content = _docx([("", "Some text " * 200)])
    return content[: len(content) // 2]


def _docx_without_document() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
    return buffer.getvalue()


def _docx_with_broken_xml() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("word/document.xml", "<w:document><w:body><w:p>unclosed")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"Just text, saved with the wrong suffix.", "broken .docx: not a ZIP archive"),
        ((FIXTURES / "bad" / "broken.pdf").read_bytes(), "broken .docx: not a ZIP archive"),
        (_truncated_docx(), "broken .docx: the ZIP archive is damaged or cut off"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504), "broken .docx: an old .doc"),
        (_docx_without_document(), "broken .docx: word/document.xml is missing"),
        (_docx_with_broken_xml(), "broken .docx: word/document.xml is not valid XML"),
        (_docx([("Title", "Only a title")]), "no text found"),
    ],
    ids=["text-bytes", "pdf-bytes", "truncated", "old-doc", "no-document-part", "broken-xml", "title-only"],
)
def test_when_a_docx_cannot_be_parsed_then_the_file_is_unreadable(content: bytes, reason: str):
    with pytest.raises(UnreadableFile, match=reason):
        _chunks("policy.docx", content)
