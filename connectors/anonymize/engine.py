"""The analyzer Anonymizer runs: a spaCy NER pipeline that never downloads, and only the recognizers we need."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from typing import Any

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

from connectors.anonymize.name_recognizers import KnownNamesRecognizer, NameCueRecognizer, SpacyPersonRecognizer
from connectors.anonymize.name_words import english_dictionary
from connectors.anonymize.recognizers import (
    LANGUAGE,
    GermanSocialSecurityRecognizer,
    GermanTaxIdRecognizer,
    OnlyIf,
    RegionalPhoneRecognizer,
    SlackMentionRecognizer,
    StreetAddressRecognizer,
)
from ftbot.personal_keys import PHONE_REGIONS

# Components that set POS tags, run only on the rare text that needs them (KnownNamesRecognizer).
POS_COMPONENTS = ("tok2vec", "tagger", "morphologizer", "attribute_ruler")

# tldextract's module-level extractor downloads the public suffix list on first use; this one only ever
# reads the snapshot bundled with the package and keeps no cache on disk.
_OFFLINE_TLD_EXTRACT = tldextract.TLDExtract(cache_dir=None, suffix_list_urls=())


def build_analyzer(spacy_model: str, known_names: Iterable[str], score_threshold: float) -> BatchAnalyzerEngine:
    """Presidio's batch analyzer over our spaCy pipeline and recognizers, with its parts handed in."""
    nlp = load_ner_pipeline(spacy_model)
    analyzer = AnalyzerEngine(
        registry=build_registry(known_names, tag_pos=pos_tagger(nlp), dictionary=english_dictionary(nlp)),
        nlp_engine=NerNlpEngine(nlp),
        supported_languages=[LANGUAGE],
        default_score_threshold=score_threshold,
        context_aware_enhancer=NoContextEnhancer(),
    )
    return BatchAnalyzerEngine(analyzer_engine=analyzer)


class OfflineEmailRecognizer(EmailRecognizer):
    """Presidio's email recognizer with a domain check that never touches the network.

    An address whose domain has no public suffix (jana@corp.local, ines@studio.example) is still masked:
    Presidio's check would drop it, but internal and reserved domains carry personal addresses too.
    """

    def validate_result(self, pattern_text: str) -> bool | None:
        # True: full confidence; None: keep the pattern's own score (above the threshold), never drop.
        return True if _OFFLINE_TLD_EXTRACT(pattern_text).fqdn != "" else None


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
    # with the same entities on every text we checked. Callers hold it to one thread (one_blas_thread).
    ops = NumpyOps(use_blis=False)
    models = [component.model for _, component in nlp.components if hasattr(component, "model")]
    for layer in (layer for model in models for layer in model.walk()):
        layer.ops = ops


def one_blas_thread(controller: ThreadpoolController) -> AbstractContextManager[Any]:
    """A context manager that holds BLAS to one thread while the pipeline runs (process-wide while it lasts)."""
    # On a machine of few cores, shared with the bot and the trainer, OpenBLAS's extra threads spin more than
    # they help on these small matrices (2x slower when measured). torch keeps its own threads.
    return controller.limit(limits=1, user_api="blas")


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
