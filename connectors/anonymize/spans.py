"""Fix-ups of the spans Presidio found: allow-listed words cut out, overlaps merged, further name mentions added,
and the spans replaced by pseudonyms."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence

from presidio_analyzer import EntityRecognizer, RecognizerResult

from connectors.anonymize.name_words import COMMON_WORDS


def whole_words_pattern(words: Iterable[str], *, ignore_case: bool) -> re.Pattern[str] | None:
    """A regex for any of `words` as whole words, longest first; None when there are none."""
    terms = sorted({w.strip() for w in words if w.strip()}, key=len, reverse=True)
    if not terms:
        return None
    # Longest first, so "Lumora Ledger" wins over "Lumora" where both are listed.
    alternatives = "|".join(re.escape(term) for term in terms)
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE if ignore_case else 0)


def without_allowed(
    text: str, results: list[RecognizerResult], allowed: re.Pattern[str] | None
) -> list[RecognizerResult]:
    """The results with the allow-listed words cut out of PERSON spans; other entities are never unmasked."""
    if allowed is None:
        return results
    found = [(m.start(), m.end()) for m in allowed.finditer(text)]
    kept = [r for r in results if r.entity_type != "PERSON"]
    for person in (r for r in results if r.entity_type == "PERSON"):
        kept += trim_allowed(text, person, found)
    return kept


def trim_allowed(text: str, person: RecognizerResult, allowed: Sequence[tuple[int, int]]) -> list[RecognizerResult]:
    """The pieces of a PERSON span outside the allowed (start, end) ranges that still hold a letter."""
    # Cut the allowed words out rather than dropping the whole span: in a span like "Lumora Anna" the
    # rest may still be a person, and a wrongly masked word costs less than a leaked name.
    pieces = [(person.start, person.end)]
    for allowed_start, allowed_end in allowed:
        pieces = [
            piece
            for start, end in pieces
            for piece in ((start, min(end, allowed_start)), (max(start, allowed_end), end))
            if piece[0] < piece[1]
        ]
    trimmed = []
    for start, end in pieces:
        while start < end and not text[start].isalnum():
            start += 1
        while end > start and not text[end - 1].isalnum():
            end -= 1
        if any(c.isalpha() for c in text[start:end]):
            trimmed.append(RecognizerResult("PERSON", start, end, person.score))
    return trimmed


def merge_overlaps(results: list[RecognizerResult]) -> list[RecognizerResult]:
    """Overlapping spans as their union, typed by the most confident one."""
    # Dropping the weaker span instead could leave a fragment of it (half a phone number) in the clear.
    merged: list[RecognizerResult] = []
    for result in sorted(results, key=lambda r: r.start):
        if merged and result.start < merged[-1].end:
            last = merged[-1]
            best = max(last, result, key=lambda r: (r.score, r.end - r.start))
            merged[-1] = RecognizerResult(best.entity_type, last.start, max(last.end, result.end), best.score)
        else:
            merged.append(result)
    return merged


def person_names(texts: Sequence[str], spans: list[list[RecognizerResult]]) -> set[str]:
    """The text of every PERSON span in a record's texts."""
    return {
        text[span.start : span.end]
        for text, found in zip(texts, spans, strict=True)
        for span in found
        if span.entity_type == "PERSON"
    }


def name_mentions(text: str, names: set[str], found: list[RecognizerResult]) -> list[RecognizerResult]:
    """Further mentions of the words of names already found in the record, outside the spans found."""
    # Case-sensitive and capitalized only, and no everyday words, so a name like "Will Brandt" swallows
    # neither "will" nor "Will the export run?" (KnownNamesRecognizer judges those one by one).
    words = {
        word
        for name in names
        for word in name.split()
        if len(word) > 1 and word[0].isupper() and word.lower() not in COMMON_WORDS
    }
    pattern = whole_words_pattern(words, ignore_case=False)
    if pattern is None:
        return []
    taken = [(r.start, r.end) for r in found]
    return [
        RecognizerResult("PERSON", m.start(), m.end(), EntityRecognizer.MAX_SCORE)
        for m in pattern.finditer(text)
        if not _overlaps_any(m.start(), m.end(), taken)
    ]


def replace_spans(text: str, spans: list[RecognizerResult], pseudonym: Callable[[str, str], str]) -> str:
    """`text` with each span replaced by `pseudonym(entity type, value)`."""
    # Left to right, so numbers follow reading order: the first person mentioned is <PERSON_1>.
    parts, cursor = [], 0
    for span in sorted(spans, key=lambda s: s.start):
        parts += [text[cursor : span.start], pseudonym(span.entity_type, text[span.start : span.end])]
        cursor = span.end
    parts.append(text[cursor:])
    return "".join(parts)


def _overlaps_any(start: int, end: int, spans: Sequence[tuple[int, int]]) -> bool:
    return any(start < span_end and span_start < end for span_start, span_end in spans)
