"""Pseudonyms within one record: <PERSON_1>, <EMAIL_2>..., one per value, and what each one stands for."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from presidio_analyzer import RecognizerResult

from connectors.anonymize.spans import replace_spans
from ftbot.personal_keys import LABELS, canonical


@dataclass(frozen=True)
class AnonymizedRecord:
    """A record's pseudonymized texts, and what each pseudonym stands for.

    `originals` holds raw personal data: keep it in memory, or encrypted in a PseudonymVault; never store
    it beside the texts or log it (it is left out of the repr, so logging the record does not show it).
    """

    texts: list[str]
    originals: dict[str, str] = field(repr=False)


class PseudonymTable:
    """Hands out <LABEL_n> within one record: one value, one pseudonym; each new value, the next n.

    `full_names` are the multi-word names anywhere in the record: a lone first or last name of exactly one
    of them ("Anna" with "Anna Schmidt") is that person, whether it comes before or after the full name.
    If two people share it, guessing would merge them, so it gets its own number.
    """

    def __init__(self, full_names: Iterable[str] = ()) -> None:
        self._full_names = {name for name in (canonical("PERSON", n) for n in full_names) if " " in name}
        self._pseudonyms: dict[tuple[str, str], str] = {}
        self._counts: Counter[str] = Counter()
        # Pseudonym -> the value as written; of two spellings the longer ("Anna Schmidt" over "Anna").
        self.originals: dict[str, str] = {}

    def pseudonym(self, entity_type: str, value: str) -> str:
        """The value's pseudonym in this record, handing out the next number for a new value."""
        written, value = value, canonical(entity_type, value)
        key = (entity_type, self._person(value) if entity_type == "PERSON" else value)
        if key not in self._pseudonyms:
            self._pseudonyms[key] = self._next(LABELS[entity_type])
        pseudonym = self._pseudonyms[key]
        if len(written) > len(self.originals.get(pseudonym, "")):
            self.originals[pseudonym] = written
        return pseudonym

    def _next(self, label: str) -> str:
        self._counts[label] += 1
        return f"<{label}_{self._counts[label]}>"

    def _person(self, name: str) -> str:
        if " " in name:
            return name
        matches = {full for full in self._full_names if name in full.split()}
        return matches.pop() if len(matches) == 1 else name


def pseudonymize(texts: Sequence[str], spans: list[list[RecognizerResult]]) -> AnonymizedRecord:
    """One record's texts with their spans replaced, numbered across all of its texts."""
    full_names = [
        text[s.start : s.end]
        for text, found in zip(texts, spans, strict=True)
        for s in found
        if s.entity_type == "PERSON"
    ]
    table = PseudonymTable(full_names)
    clean = [replace_spans(text, found, table.pseudonym) for text, found in zip(texts, spans, strict=True)]
    return AnonymizedRecord(clean, table.originals)
