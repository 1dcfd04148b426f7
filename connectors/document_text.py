"""Markup to plain text for document chunks: front matter, headings, hard wraps and inline Markdown, HTML, Liquid.

A small model copies answers out of the chunks, so what it reads must be the words a person sees on the
rendered page: "[Employee Express](https://...)" becomes "Employee Express", a paragraph hard-wrapped at
80 columns becomes one line (an answer copied from it then ends at the sentence's end, not the line's), and
a list item or table row becomes a line of its own.
"""

from __future__ import annotations

import html
import re

# A block of a Markdown page: (heading level, heading text) or (None, body text). Body blocks hold one
# paragraph, or one list or table with an item or row per line.
Block = tuple[int | None, str]

_FRONT_MATTER = re.compile(r"\A\ufeff?---[ \t]*\n(.*?)^(?:---|\.\.\.)[ \t]*$\n?", re.DOTALL | re.MULTILINE)
_FRONT_MATTER_TITLE = re.compile(r"^title:[ \t]*(.+?)[ \t]*$", re.MULTILINE)
_LOOKS_LIKE_YAML = re.compile(r"\s*(?:$|[\w-]+[ \t]*:)")


def split_front_matter(text: str) -> tuple[str, str]:
    """(the front matter's title or "", the text after the front matter) of a Markdown page."""
    match = _FRONT_MATTER.match(text)
    if not match or not _LOOKS_LIKE_YAML.match(match[1]):  # a page may open with a horizontal rule
        return "", text
    title = _FRONT_MATTER_TITLE.search(match[1])
    return (clean_inline(title[1].strip("'\"")) if title else ""), text[match.end() :]


# Whole-text passes, before the page is cut into lines: these spans may cross line ends.
_COMMENTS = re.compile(
    r"<!--.*?-->|\{%-?\s*comment\s*-?%\}.*?\{%-?\s*endcomment\s*-?%\}|<(style|script)\b.*?</\1\s*>",
    re.DOTALL | re.IGNORECASE,
)
_SLACK_CHANNEL = re.compile(r"\{%-?\s*slack_channel\s+[\"']([^\"']+)[\"']\s*-?%\}")
_ALERT_TITLE = re.compile(r"\{%-?\s*alert\s+[\"']([^\"']+)[\"'][^%]*%\}")
_LIQUID = re.compile(r"\{%.*?%\}|\{\{.*?\}\}", re.DOTALL)
# "[ref]: url", the url maybe on the next line or gone with a Liquid tag; not a footnote's "[^1]: text".
_REFERENCE_DEFINITION = re.compile(
    r"^ {0,3}\[[^\]^][^\]]*\]:[ \t]*(?:\n[ \t]+(?=\S))?\S*(?:[ \t]+[\"'(].*)?[ \t]*$", re.MULTILINE
)
_HTML_TABLE = re.compile(r"<table\b.*?</table\s*>", re.DOTALL | re.IGNORECASE)
_HTML_ROW = re.compile(r"<tr\b.*?</tr\s*>", re.DOTALL | re.IGNORECASE)
_HTML_CELL = re.compile(r"<t([dh])\b[^>]*>(.*?)</t[dh]\s*>", re.DOTALL | re.IGNORECASE)


def _drop_templating(text: str) -> str:
    """The page without comments and Liquid tags; a Slack channel tag renders as its channel, "#name"."""
    text = _COMMENTS.sub("", text)
    text = _SLACK_CHANNEL.sub(r"#\1", text)
    text = _ALERT_TITLE.sub(r"\1", text)
    return _REFERENCE_DEFINITION.sub("", _LIQUID.sub("", text))


def _html_tables_as_rows(text: str) -> str:
    """HTML tables as list items, a row per line, so the line loop reads them like a Markdown table."""

    def rows(table: re.Match[str]) -> str:
        cells = [_HTML_CELL.findall(row) for row in _HTML_ROW.findall(table[0])]
        header = cells[0] if cells and all(kind == "h" for kind, _ in cells[0]) else None
        body = cells[1:] if header else cells
        lines = _table_lines(
            [cell for _, cell in header] if header else None, [[cell for _, cell in row] for row in body]
        )
        return "\n\n" + "\n".join(lines) + "\n\n"

    return _HTML_TABLE.sub(rows, text)


def _table_lines(header: list[str] | None, rows: list[list[str]]) -> list[str]:
    """Each row as a list item: "Header: cell; Header: cell", or a two-column row as "key: value"."""
    lines = []
    for row in rows:
        cells = [clean_inline(" ".join(cell.split())) for cell in row]
        if header:
            labels = [clean_inline(" ".join(label.split())) for label in header]
            labels += [""] * (len(cells) - len(labels))  # a row may have more cells than the header
            parts = [f"{label}: {cell}" if label else cell for label, cell in zip(labels, cells, strict=False) if cell]
            line = "; ".join(parts)
        else:
            cells = [cell for cell in cells if cell]
            key_value = len(cells) == 2
            line = f"{cells[0]}{'' if cells[0].endswith(':') else ':'} {cells[1]}" if key_value else "; ".join(cells)
        if line:
            lines.append(f"- {line}")
    return lines


_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_ATX_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT_UNDERLINE = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_RULE = re.compile(r"^ {0,3}(?:(?:-[ \t]*){3,}|(?:\*[ \t]*){3,}|(?:_[ \t]*){3,})$")
_LIST_ITEM = re.compile(r"^([ \t]*)([-*+]|\d{1,3}[.)])[ \t]+(?=\S)")
_TABLE_LINE = re.compile(r"^[ \t]*\|.*\|")
_TABLE_DELIMITER = re.compile(r"^[ \t]*\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$")
_QUOTE_MARKERS = re.compile(r"^[ \t]*(?:>[ \t]?)+")
# HTML that pages embed. Only these names count as tags, so that "Dear <supervisor>," keeps its placeholder.
_HTML_TAG = re.compile(
    r"</?(?:a|abbr|b|blockquote|br|button|caption|center|code|dd|del|details|div|dl|dt|em|figcaption|figure|font"
    r"|h[1-6]|hr|i|iframe|img|input|ins|kbd|label|li|mark|nav|ol|p|path|pre|s|section|small|source|span|strong"
    r"|sub|summary|sup|svg|table|tbody|td|tfoot|th|thead|tr|u|ul|video)\b[^<>]*>",
    re.IGNORECASE,
)
_ONLY_HTML_TAGS = re.compile(rf"^[ \t]*(?:(?:{_HTML_TAG.pattern})[ \t]*)+$", re.IGNORECASE)


def markdown_blocks(text: str) -> list[Block]:
    """A Markdown page (front matter already split off) as headings and plain-text blocks, in order.

    Lines of a paragraph join with a space; a list item starts a new line and its wrapped lines join it;
    a table row becomes "Header: cell; Header: cell". Fenced code keeps its lines.
    """
    blocks: list[Block] = []
    lines: list[str] = []  # the open paragraph, list or table, as Markdown lines
    fence = ""  # the open code fence's marker
    for line in _html_tables_as_rows(_drop_templating(text)).splitlines():
        if fence:
            if line.strip().startswith(fence):
                fence = ""
                _close(blocks, lines, code=True)
            else:
                lines.append(line.rstrip())
            continue
        line = _QUOTE_MARKERS.sub("", line)
        if opening := _FENCE.match(line):
            _close(blocks, lines)
            fence = opening[1]
        elif heading := _ATX_HEADING.match(line):
            _close(blocks, lines)
            blocks.append((len(heading[1]), clean_inline(heading[2] or "")))
        elif (underline := _SETEXT_UNDERLINE.match(line)) and _is_paragraph(lines):
            blocks.append((1 if underline[1][0] == "=" else 2, clean_inline(" ".join(lines))))
            lines.clear()
        elif not line.strip() or _RULE.match(line) or _ONLY_HTML_TAGS.match(line):
            _close(blocks, lines)
        else:
            if _starts_new_kind(lines, line):
                _close(blocks, lines)
            lines.append(line)
    _close(blocks, lines, code=bool(fence))
    return [(level, text) for level, text in blocks if text]


def _is_paragraph(lines: list[str]) -> bool:
    return bool(lines) and not _LIST_ITEM.match(lines[0]) and not _TABLE_LINE.match(lines[0])


def _starts_new_kind(lines: list[str], line: str) -> bool:
    """Whether a line can't continue the open block: a table line after text, or text after a table row
    (unless the row was wrapped: it doesn't end with "|")."""
    if not lines or (_TABLE_LINE.match(lines[0]) and not lines[-1].rstrip().endswith("|")):
        return False
    return bool(_TABLE_LINE.match(lines[0])) != bool(_TABLE_LINE.match(line))


def _close(blocks: list[Block], lines: list[str], code: bool = False) -> None:
    """Turn the open block's Markdown lines into one plain-text block, and start a new one."""
    if code:
        text = "\n".join(lines).strip("\n")
    elif lines and _TABLE_LINE.match(lines[0]):
        text = "\n".join(_markdown_table(lines))
    else:
        items = _unwrap(lines)  # a nested list item keeps its indent
        text = "\n".join(item[: len(item) - len(item.lstrip())] + clean_inline(item) for item in items)
    if text.strip():
        blocks.append((None, text))
    lines.clear()


def _unwrap(lines: list[str]) -> list[str]:
    """Hard-wrapped lines joined: a list item starts a new line ("- " kept), other lines join the last one."""
    joined: list[str] = []
    for line in lines:
        if item := _LIST_ITEM.match(line):  # "* item" and "+ item" read as "- item"; nesting keeps its indent
            marker = "-" if item[2] in "*+" else item[2]
            joined.append(f"{' ' * len(item[1].expandtabs(4))}{marker} {line[item.end() :].strip()}")
        elif not joined:
            joined.append(line.strip())
        else:
            joined[-1] += " " + line.strip()
    return joined


# "|---|---| |a|b| |c|d|": a table whose rows a formatter ran together, after its delimiter row.
_RUN_TOGETHER_TABLE = re.compile(r"^\|(?:[ \t]*:?-+:?[ \t]*\|)+(?=.*\S)")


def _markdown_table(lines: list[str]) -> list[str]:
    rows: list[str] = []
    for line in lines:  # a wrapped row continues until a line ends with "|"
        if rows and not rows[-1].endswith("|"):
            rows[-1] += " " + line.strip()
        else:
            rows.append(line.strip())
    if run_together := _RUN_TOGETHER_TABLE.match(rows[0]):
        rows = re.split(r"\|[ \t]+\|", " ".join(rows)[run_together.end() :])
        return _table_lines(None, [_cells(row) for row in rows])
    if len(rows) > 1 and _TABLE_DELIMITER.match(rows[1]):
        return _table_lines(_cells(rows[0]), [_cells(row) for row in rows[2:]])
    return _table_lines(None, [_cells(row) for row in rows if not _TABLE_DELIMITER.match(row)])


def _cells(row: str) -> list[str]:
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", row.strip().strip("|"))]


# Inline syntax, in the order it is removed: an escaped character is set aside first so that "\*" is never
# read as emphasis, and put back last.
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|<>~\"'])")
_SET_ASIDE = 0xE000  # Unicode's private use area: never in a handbook page
_AUTOLINK = re.compile(r"<((?:https?|ftp)://[^<>\s]+|mailto:[^<>\s]+|[^<>\s@]+@[^<>\s@]+\.[A-Za-z]+)>")
_LINE_BREAK_TAG = re.compile(r"<br\s*/?>", re.IGNORECASE)
_TARGET = r"\((?:[^()\s]|\([^()\s]*\))*(?:\s+\"[^\"]*\")?\s*\)"  # a URL may hold one level of (parentheses)
_IMAGE = re.compile(r"!\[[^\]]*\](?:" + _TARGET + r"|\[[^\]]*\])")
_LINK = re.compile(r"\[((?:[^\[\]]|\[[^\[\]]*\])*)\](?:" + _TARGET + r"|\[[^\]]*\])")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1")
_STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_STAR_EMPHASIS = re.compile(r"(?<![*\w])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?![*\w])")
_UNDERSCORE_EMPHASIS = re.compile(r"(?<![\w_])_(?=[^\s_])(.+?)(?<=[^\s_])_(?![\w_])")  # not snake_case
_STRIKE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")
_ATTRIBUTE_LIST = re.compile(r"\{[:#][^{}]*\}")  # kramdown's "{#id}" and "{: .class}"
_FOOTNOTE_MARK = re.compile(r"\[\^[^\]\s]+\]:?")  # "[^1]" in the text, "[^1]:" before the note
_EMPTY_LINK = re.compile(r"\[([^\[\]]*)\]\(\)")  # "\[text]({% page %})": a link whose "[" was escaped
_SPACES = re.compile(r"[ \t\u00a0]+")


def clean_inline(text: str) -> str:
    """One line of Markdown as the words it renders: links' text, no images, tags, emphasis or escapes."""
    text = _ESCAPE.sub(lambda m: chr(_SET_ASIDE + ord(m[1])), text)
    text = _AUTOLINK.sub(lambda m: m[1].removeprefix("mailto:"), text)
    text = _HTML_TAG.sub("", _LINE_BREAK_TAG.sub(" ", text))
    text = _ATTRIBUTE_LIST.sub("", _LINK.sub(r"\1", _IMAGE.sub("", _FOOTNOTE_MARK.sub("", text))))
    pieces = _CODE_SPAN.split(text)  # text, ticks, code, text, ...: emphasis is read outside code only
    for at in range(0, len(pieces), 3):
        for emphasis in (_STRONG, _STRIKE, _STAR_EMPHASIS, _UNDERSCORE_EMPHASIS):
            pieces[at] = emphasis.sub(lambda m: m[m.lastindex or 1], pieces[at])
        pieces[at] = pieces[at].replace("**", "")
    text = "".join(piece for at, piece in enumerate(pieces) if at % 3 != 1)
    text = _EMPTY_LINK.sub(r"\1", re.sub(r"[\ue000-\ue07f]", lambda m: chr(ord(m[0]) - _SET_ASIDE), text))
    return _SPACES.sub(" ", html.unescape(text)).strip()


def unwrap_plain(text: str) -> str:
    """Plain text with its hard-wrapped paragraphs joined; list items and blank lines stay line breaks."""
    paragraphs = re.split(r"\n[ \t]*\n", text)
    return "\n\n".join("\n".join(_unwrap(p.splitlines())) for p in paragraphs if p.strip())
