"""Presidio recognizers for people's names: spaCy's PERSON spans cut to name words, names after a cue, and
the Slack member directory."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from presidio_analyzer.predefined_recognizers import SpacyRecognizer
from spacy.lang.en.stop_words import STOP_WORDS as ENGLISH_STOP_WORDS
from spacy.tokens import Doc

from connectors.anonymize.name_words import (
    COMMON_WORDS,
    DETERMINERS,
    GIVEN_NAMES,
    NAME_WORDS,
    could_be_name,
    has_name_shape,
    is_tool_name,
    looks_german,
    reads_as_name,
)
from connectors.anonymize.recognizers import LANGUAGE


class KnownNamesRecognizer(EntityRecognizer):
    """Names from the Slack member directory, as full names or first/last names, in any case and language.

    A name part that is also an everyday word ("will", "Mark", "Rose") counts only when capitalized and
    not read as a verb by spaCy, so "will the export run?" and "Mark the ticket" stay as they are.
    `tag_pos` POS-tags a Doc in place; it is called only for those words, because the pipeline that
    analyzes every text skips POS tagging (engine.load_ner_pipeline).
    """

    SCORE = 0.9

    def __init__(self, known_names: Iterable[str], tag_pos: Callable[[Doc], Doc] | None = None) -> None:
        super().__init__(supported_entities=["PERSON"], supported_language=LANGUAGE, name="KnownNamesRecognizer")
        names = {" ".join(name.split()) for name in known_names if name.strip()}
        terms = names | {part for name in names for part in name.split() if len(part) > 1}
        # Longest first, so "Anna Schmidt" is one match rather than "Anna" and "Schmidt".
        alternatives = "|".join(re.escape(term) for term in sorted(terms, key=len, reverse=True))
        self._pattern = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE) if terms else None
        self._tag_pos = tag_pos

    def load(self) -> None:
        """Nothing to load: the pattern is built in __init__."""

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        """Every mention of a known name in `text` that reads as a name."""
        if self._pattern is None or "PERSON" not in entities:
            return []
        return [
            RecognizerResult("PERSON", match.start(), match.end(), self.SCORE)
            for match in self._pattern.finditer(text)
            if self._reads_as_name(match, nlp_artifacts)
        ]

    def _reads_as_name(self, match: re.Match[str], nlp_artifacts: NlpArtifacts | None) -> bool:
        word = match.group()
        if " " in word or word.lower() not in COMMON_WORDS:
            return True
        return word[0].isupper() and not read_as_verb(match.start(), nlp_artifacts, self._tag_pos)


def read_as_verb(start: int, nlp_artifacts: NlpArtifacts | None, tag_pos: Callable[[Doc], Doc] | None) -> bool:
    """Whether spaCy tags the token at `start` a verb ("Will the export run?", "Mark your calendar")."""
    return _pos(start, nlp_artifacts, tag_pos) in {"VERB", "AUX"}


def _pos(start: int, nlp_artifacts: NlpArtifacts | None, tag_pos: Callable[[Doc], Doc] | None) -> str | None:
    # The part-of-speech spaCy tags the token at `start` with; None where there is no such token.
    tokens = nlp_artifacts.tokens if nlp_artifacts is not None else None
    token = next((t for t in tokens or () if t.idx == start), None)
    if token is None:
        return None
    if not token.pos_ and tag_pos is not None:
        tag_pos(token.doc)  # sets POS on the whole Doc, so the token reads it below
    return token.pos_


# A word starts where no letter or digit comes before it: the "F" of "18F" is no word. "_" is no part of a word,
# so Markdown's "_Carlo Costino_" has two.
_WORD = re.compile(r"(?<![^\W_])[^\W\d_](?:[^\W_]|['’-])*")
_IN_WORD = re.compile(r"[^\W_]|['’-]")


class SpacyPersonRecognizer(SpacyRecognizer):
    """spaCy's PERSON spans, cut to their name-shaped words, and kept only where those read as a name.

    The small English model takes many capitalized words for people: German nouns ("Betrag", "Können Sie"),
    and in English documents headings, policies, job titles, tools and acronyms ("Long Term Disability",
    "Supervisor", "Kandji", "TTS", the "F" of "18F"). A span keeps the words from its first to its last
    name-shaped word ("Ursula von der Leyen", "Kontoinhaber Özlem" keeps "Özlem"); it is dropped when those are
    all English words and no given name ("Paid Leave", "Google Calendar"), or follow "the", "a", "our"...
    ("the Outreach team"). A lone word is dropped after "in", "at", "via"... ("in Tock"), inside a compound noun
    ("the engagement Tock report") and on a Markdown heading ("#### Bill to"). Other recognizers still mask a
    name with a cue or in the directory.
    """

    def __init__(self, dictionary: frozenset[str] = frozenset(), tag_pos: Callable[[Doc], Doc] | None = None) -> None:
        super().__init__(supported_language=LANGUAGE, supported_entities=["PERSON"])
        self._dictionary = dictionary  # name_words.english_dictionary; empty: every word may be a name
        self._tag_pos = tag_pos  # as for KnownNamesRecognizer: "Mark can you review?" but "Mark your calendar"

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        """spaCy's PERSON entities that read as a name, cut to their name words (see the class docstring)."""
        results = super().analyze(text, entities, nlp_artifacts) or []
        german = looks_german(text)
        kept = []
        for result in results:
            words = self._name_words(text, result, german, nlp_artifacts)
            if words:
                kept.append(RecognizerResult("PERSON", words[0].start(), words[-1].end(), result.score))
        return kept

    def _name_words(
        self, text: str, result: RecognizerResult, german: bool, nlp_artifacts: NlpArtifacts | None
    ) -> list[re.Match[str]]:
        in_span = list(_WORD.finditer(text, result.start, result.end))
        words = [m for m in in_span if is_name_word(text, m)]
        # In German every noun is capitalized, and the English model takes many for a name ("Server",
        # "Betrag"); a lone word there needs more evidence (a cue, the directory) from another recognizer.
        if not words or (german and len(words) < 2):
            return []
        if _next_to_product(text, in_span, words) or (
            not german and _word_before(text, words[0].start()) in DETERMINERS
        ):
            return []
        if len(words) == 1 and not german and self._names_no_one_alone(text, words[0], nlp_artifacts):
            return []
        if reads_as_name([w.group() for w in words], self._dictionary, COMMON_WORDS):
            return words
        lone = words[0].group().lower() if len(words) == 1 else ""
        if lone in GIVEN_NAMES and _pos(words[0].start(), nlp_artifacts, self._tag_pos) == "PROPN":
            return words  # "Mark can you review my PR?", not "Mark your calendar" nor the heading "Bill to"
        return []

    def _names_no_one_alone(self, text: str, word: re.Match[str], nlp_artifacts: NlpArtifacts | None) -> bool:
        # Where a lone word is a place, a tool or a topic: after "in"/"at"/"via" ("reports in Tock"), inside a
        # compound noun ("the engagement Tock report", but "the team lead Maria reviews it" is Maria's), or on a
        # Markdown heading ("##### Maxiflex").
        compound = _between_nouns(word.start(), word.end(), nlp_artifacts, self._tag_pos)
        return (
            _after_place_preposition(text, word)
            or _HEADING.match(text, text.rfind("\n", 0, word.start()) + 1) is not None
            or (compound and word.group().lower() not in GIVEN_NAMES)
        )


_HEADING = re.compile(r"[ \t]{0,3}#{1,6}[ \t]")


def _between_nouns(
    start: int, end: int, nlp_artifacts: NlpArtifacts | None, tag_pos: Callable[[Doc], Doc] | None
) -> bool:
    # "the engagement Tock report": a proper noun between two common nouns modifies the second one.
    tokens = nlp_artifacts.tokens if nlp_artifacts is not None else None
    index = next((t.i for t in tokens or () if t.idx == start), None)
    if tokens is None or index is None or index == 0 or index + 1 >= len(tokens):
        return False
    doc = tokens[index].doc
    if tokens[index + 1].idx != end + 1 or tokens[index - 1].idx + len(tokens[index - 1]) + 1 != start:
        return False  # only words a single space apart: "Maria: report" or "team (Maria)" are no compound
    if not doc[index].pos_ and tag_pos is not None:
        tag_pos(doc)
    before, after = doc[index - 1], doc[index + 1]
    return before.pos_ == after.pos_ == "NOUN" and before.is_lower and after.is_lower


def is_name_word(text: str, word: re.Match[str]) -> bool:
    """Whether a word found in `text` may be part of a name: a whole word, written as a name, no tool's name."""
    value = word.group()
    lower = value.lower()
    return (
        could_be_name(value)
        and has_name_shape(value)
        and not is_tool_name(value)
        and (lower not in ENGLISH_STOP_WORDS or lower in NAME_WORDS)
        and _whole_token(text, word.start(), word.end())
    )


_POSSESSIVE = re.compile(r"['’]s?(?![^\W_])")


def _whole_token(text: str, start: int, end: int) -> bool:
    # Not the start or end of a longer token: "Check-" of "Check-in", "Stepd" of "Stepd.aspx", "Node" of "Node.js".
    # A possessive is no longer token: "Chris's".
    possessive = _POSSESSIVE.match(text, end)
    end = possessive.end() if possessive else end
    after, before = text[end : end + 2], text[max(0, start - 2) : start]
    if _IN_WORD.match(after[:1]) or (before and _IN_WORD.match(before[-1])):
        return False
    dotted_after = after[:1] == "." and after[1:2].isalnum()
    dotted_before = before[-1:] == "." and before[:1].isalnum()
    return not (dotted_after or dotted_before)


# Acronyms that are job titles: "CEO Jane Smith" is a person.
ROLE_ACRONYMS = frozenset(["CEO", "CFO", "CIO", "CISO", "CMO", "COO", "CPO", "CTO", "EVP", "SVP", "VP", "PM", "MD"])


def _next_to_product(text: str, in_span: list[re.Match[str]], words: list[re.Match[str]]) -> bool:
    # spaCy's span "GSA Insite" or "Zoom Rooms": an acronym or a product right beside the words (a space apart)
    # makes them the name of a product, team or office. "Jason Nakai - 18F" is a person and an affiliation.
    first, last = in_span.index(words[0]), in_span.index(words[-1])
    neighbours = []
    if first > 0:
        neighbours.append((in_span[first - 1], text[in_span[first - 1].end() : words[0].start()]))
    if last + 1 < len(in_span):
        neighbours.append((in_span[last + 1], text[words[-1].end() : in_span[last + 1].start()]))
    return any(gap.strip(" \t") == "" and _is_product_word(word.group()) for word, gap in neighbours)


def _is_product_word(word: str) -> bool:
    acronym = len(word) > 1 and word.isupper() and word not in ROLE_ACRONYMS
    camel_case = not has_name_shape(word) and any(c.isupper() for c in word[1:])
    return is_tool_name(word) or acronym or camel_case


# Prepositions of place and means: a lone capitalized word after them is a place, a street or a tool ("in Tock",
# "at McAllister and Leavenworth", "via Benefeds"), seldom a person ("from Maria", "to Maria", "for Maria" are
# not among them). "in Maria's team" is a person's: a possessive is never cut by this rule.
PLACE_PREPOSITIONS = frozenset(
    ["in", "on", "at", "via", "into", "onto", "inside", "within", "using", "through", "near"]
)
# A capitalized word and "and", "or" or a comma before another: "McAllister and " of "McAllister and Leavenworth".
_COORDINATED = re.compile(r"[A-ZÀ-ÖØ-Þ][\w'’-]*(?:\s*,\s*|\s+(?:and|or|&)\s+)$")


def _after_place_preposition(text: str, word: re.Match[str]) -> bool:
    if _POSSESSIVE.match(text, word.end()):
        return False
    start = word.start()
    # Walk back over coordinated words: the preposition of "at McAllister and Leavenworth" governs both.
    while coordinated := _COORDINATED.search(text, max(0, start - 60), start):
        start = coordinated.start()
    return _word_before(text, start) in PLACE_PREPOSITIONS


def _word_before(text: str, start: int) -> str:
    match = re.search(r"([^\W\d_]+)\s+$", text[max(0, start - 40) : start])
    return match.group(1).lower() if match else ""


_NAME_CUES = (
    r"Herr|Frau|Hr\.|Fr\.|Mr\.?|Mrs\.?|Ms\.?|Dr\.|Prof\.|President|Senator|Governor|Mayor|"
    r"Dear|Liebe|Lieber|Hallo|Hello|Hi|Hey|Moin|Servus|cc:?|CC:?|Cc:?|"
    r"Danke|Thanks|Thank you|Name:|Kontoinhaber(?:in)?|Karteninhaber(?:in)?|Inhaber(?:in)?|Ansprechpartner(?:in)?|"
    r"my name is|mein Name ist|this is|hier ist|I am|I'm|"
    r"Grüßen|Grüße|Gruß|Regards|Best|Cheers|Viele Grüße"
)
_CUED_NAME = re.compile(rf"(?<!\w)({_NAME_CUES})[,:]?[ \t]*\n?[ \t]*((?:{_WORD.pattern})(?:[ \t]+{_WORD.pattern})?)")
# Cues that are as often followed by something else: "Best Practices", "this is Kandji", "I am Senior Engineer".
# After these the words must read as a name (a given name alone will do).
_WEAK_CUES = frozenset(["Best", "this is", "hier ist", "I am", "I'm"])


class NameCueRecognizer(EntityRecognizer):
    """Names right after a word that introduces one: a title, a greeting, a sign-off, "my name is", "Kontoinhaber".

    The English model misses many names in German sentences and unusual names in English ones; these cues hold
    in both languages. Only name-shaped words count (is_name_word), at most two, so "Hi there", "Hey, I" and
    "ich bin umgezogen" stay. `dictionary` is as for SpacyPersonRecognizer, read after the weak cues only.
    """

    SCORE = 0.6

    def __init__(self, dictionary: frozenset[str] = frozenset()) -> None:
        super().__init__(supported_entities=["PERSON"], supported_language=LANGUAGE, name="NameCueRecognizer")
        self._dictionary = dictionary

    def load(self) -> None:
        """Nothing to load."""

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        """The one or two name-like words after each cue."""
        results = []
        for match in _CUED_NAME.finditer(text):
            names = []
            for word in _WORD.finditer(text, match.start(2), match.end(2)):
                if not is_name_word(text, word):
                    break
                names.append(word)
            if names and (
                match.group(1) not in _WEAK_CUES
                or reads_as_name([n.group() for n in names], self._dictionary, frozenset())
            ):
                results.append(RecognizerResult("PERSON", names[0].start(), names[-1].end(), self.SCORE))
        return results
