"""Presidio's pattern recognizers ftbot adds or speeds up: German IDs, addresses, Slack mentions, phones."""

from __future__ import annotations

import re
from collections.abc import Sequence

import phonenumbers
from phonenumbers import Leniency, PhoneMetadata
from presidio_analyzer import EntityRecognizer, Pattern, PatternRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from presidio_analyzer.predefined_recognizers import (
    DeSocialSecurityRecognizer,
    DeTaxIdRecognizer,
    PhoneRecognizer,
)

# Everything runs through one English pipeline: our texts mix languages within a conversation, and the
# patterns below do not depend on the language anyway.
LANGUAGE = "en"


class GermanTaxIdRecognizer(DeTaxIdRecognizer):
    """Steuer-ID: 11 digits with an ISO 7064 check digit, compact or in the printed "12 345 678 903" groups."""

    PATTERNS = [
        Pattern("Steuer-ID (compact)", r"\b[1-9]\d{10}\b", 0.3),
        Pattern("Steuer-ID (grouped)", r"\b[1-9]\d \d{3} \d{3} \d{3}\b", 0.3),
    ]

    def __init__(self) -> None:
        super().__init__(patterns=self.PATTERNS, supported_language=LANGUAGE)

    def validate_result(self, pattern_text: str) -> bool | None:
        # The check digit decides: a wrong one (an order number) drops the match, a right one makes it certain.
        return super().validate_result(pattern_text.replace(" ", ""))


class GermanSocialSecurityRecognizer(DeSocialSecurityRecognizer):
    """Rentenversicherungsnummer "65 170839 J 003" (or "65170839J003") with its VKVV check digit."""

    PATTERNS = [Pattern("Rentenversicherungsnummer", r"\b\d{2} ?\d{6} ?[A-Z] ?\d{3}\b", 0.3)]

    def __init__(self) -> None:
        super().__init__(patterns=self.PATTERNS, supported_language=LANGUAGE)

    def validate_result(self, pattern_text: str) -> bool | None:
        return super().validate_result(pattern_text.replace(" ", ""))


_EN_STREET = (
    r"Street|St\.|Road|Rd\.|Avenue|Ave\.|Lane|Ln\.|Drive|Boulevard|Blvd\.|Parkway|Way|Close|Court|Terrace|"
    r"Place|Square|Crescent|Loop|Row|Gardens|Grove|Walk|Mews|Hill"
)
_DE_STREET_SUFFIX = r"straße|strasse|str\.|weg|allee|platz|gasse|ring|damm|ufer|chaussee|steig|pfad|markt|promenade"
_DE_STREET_WORD = r"Straße|Strasse|Str\.|Weg|Allee|Platz|Gasse|Ring|Damm|Ufer|Chaussee|Markt|Promenade"
_CAP = r"[A-ZÄÖÜ][a-zäöüß]+"
# "Am Markt 5a", "Unter den Linden 77": a preposition and one name; weekdays and months are no street.
_DE_PREPOSITION = r"(?:Am|An der|An den|Auf dem|Auf der|Im|In der|In den|Zum|Zur|Unter den|Hinter der|Vor dem)"
_NOT_A_TIME = r"(?!Montag|Dienstag|Mittwoch|Donnerstag|Freitag|Samstag|Sonntag|Wochenende|Jahr|Monat|Januar|Februar|März|April|Mai|Juni|Juli|August|September|Oktober|November|Dezember)"  # noqa: E501
_DE_CITY = rf"(?:,?\s*\d{{5}}\s+{_CAP}(?:[ -](?:am|an der|{_CAP})(?: {_CAP})?)?)?"
_HOUSE_NUMBER = r"\d{1,4}(?:\s?[a-zA-Z]\b)?(?:\s?[-/]\s?\d{1,4}[a-z]?)?(?!\s*(?:Uhr|Tage|Stunden|Minuten|%|€|Euro)\b)"


class StreetAddressRecognizer(PatternRecognizer):
    """Street and house number, English ("221B Baker Street") or German ("Hauptstraße 12, 10115 Berlin").

    Scored above spaCy's 0.85, so where spaCy takes "Markt" in "Am Markt 5a" for a name, the merged span
    is still an address.
    """

    PATTERNS = [
        Pattern(
            "English street address",
            rf"\b\d{{1,5}}[A-Z]?\s+(?:[A-Z][a-z]+\s+){{1,3}}(?:{_EN_STREET})(?!\w)"
            rf"(?:,\s*[A-Z][a-z]+(?:\s[A-Z][a-z]+)?(?:,\s*[A-Z]{{2}})?\s*(?:\d{{5}}|[A-Z]{{1,2}}\d[A-Z\d]?\s\d[A-Z]{{2}})?)?",
            0.9,
        ),
        Pattern(
            "German street address",
            rf"\b(?:(?:{_CAP}-)*{_CAP}(?:{_DE_STREET_SUFFIX})|(?:{_CAP}-)+(?:{_DE_STREET_WORD})|{_CAP}(?:er|e|es) "
            rf"(?:{_DE_STREET_WORD}))\s+{_HOUSE_NUMBER}{_DE_CITY}",
            0.9,
        ),
        Pattern(
            "German street address with a preposition",
            rf"\b{_DE_PREPOSITION}\s+{_NOT_A_TIME}{_CAP}\s+\d{{1,3}}(?:\s?[a-z]\b)?(?!\s*(?:Uhr|Tage|%|€)){_DE_CITY}",
            0.9,
        ),
    ]

    def __init__(self) -> None:
        super().__init__(
            supported_entity="STREET_ADDRESS",
            patterns=self.PATTERNS,
            supported_language=LANGUAGE,
            global_regex_flags=re.DOTALL | re.MULTILINE,  # case matters: "Baker Street", not "3 days"
        )


class SlackMentionRecognizer(PatternRecognizer):
    """Slack user mentions as the API writes them: "<@U012ABCDEF>" and "<@U012ABCDEF|anna>"."""

    PATTERNS = [Pattern("Slack user mention", r"<@[UW][A-Z0-9]{6,12}(?:\|[^<>\n]{1,80})?>", 1.0)]

    def __init__(self) -> None:
        super().__init__(supported_entity="SLACK_MENTION", patterns=self.PATTERNS, supported_language=LANGUAGE)


class OnlyIf(EntityRecognizer):
    """Runs `recognizer` only on texts where `needs` (a regex) is found: a test every value it finds passes.

    Most chat messages have no digit and no "@"; a regex search for one is cheaper than the recognizer's own
    patterns and validation, and it cannot lose a match when the character is part of every value.
    """

    def __init__(self, needs: str, recognizer: EntityRecognizer) -> None:
        self.recognizer = recognizer
        self._needs = re.compile(needs)
        super().__init__(
            supported_entities=recognizer.supported_entities,
            supported_language=recognizer.supported_language,
            name=f"{type(recognizer).__name__} if {needs}",
        )

    def load(self) -> None:
        """Nothing to load: the wrapped recognizer loaded itself."""

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        """The wrapped recognizer's results, or none without running it where `needs` is not in `text`."""
        if self._needs.search(text) is None:
            return []
        results = self.recognizer.analyze(text, entities, nlp_artifacts) or []  # type: ignore[arg-type]
        for result in results:  # the engine keeps only results filed under a recognizer it called
            result.recognition_metadata = {
                **(result.recognition_metadata or {}),
                RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
            }
        return results


_DIGIT = re.compile(r"\d")  # Unicode decimal digits, the ones phonenumbers reads


class RegionalPhoneRecognizer(PhoneRecognizer):
    """Presidio's phone recognizer without the passes over a text that cannot find a number in it.

    Each region is one pass of phonenumbers' matcher, by far the costliest recognizer. A pass finds only valid
    numbers, and a valid number has at least as many digits as the shortest one the pass can read (a national
    number of its region, or any number written with "+"). Texts with fewer digits skip the pass: a 5-digit
    ticket number alone gets the German pass only, as the US and UK passes find nothing under 6 digits.
    """

    leniency: int  # never None here, unlike in Presidio's class

    def __init__(self, regions: Sequence[str], leniency: int) -> None:
        super().__init__(supported_regions=tuple(regions), leniency=leniency)
        self._fewest_digits = {region: fewest_phone_digits(region, leniency) for region in regions}

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        """Phone numbers in `text`, by every region pass that could find one."""
        digits = len(_DIGIT.findall(text))
        results = [
            self._get_recognizer_result(match, text, region, nlp_artifacts)
            for region in self.supported_regions
            if digits >= self._fewest_digits[region]
            for match in phonenumbers.PhoneNumberMatcher(text, region, leniency=self.leniency)
        ]
        return EntityRecognizer.remove_duplicates(results)


def fewest_phone_digits(region: str, leniency: int) -> int:
    """The fewest digits of any number the matcher's pass for `region` can find, from phonenumbers' metadata."""
    # A national number is read as one of the regions sharing the region's country code ("GB" with "JE");
    # one written with "+" may be any country's, or a global service's ("+800").
    sharing = phonenumbers.region_codes_for_country_code(phonenumbers.country_code_for_region(region))
    national = min(_shortest(PhoneMetadata.metadata_for_region(r), leniency) for r in sharing)
    international = min(len(str(code)) + _shortest(metadata, leniency) for code, metadata in _all_metadata())
    return min(national, international)


def _all_metadata() -> list[tuple[int, PhoneMetadata | None]]:
    regions = [
        (phonenumbers.country_code_for_region(r), PhoneMetadata.metadata_for_region(r))
        for r in sorted(phonenumbers.SUPPORTED_REGIONS)
    ]
    codes = phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS  # global services: "+800", "+882"
    services = [(c, PhoneMetadata.metadata_for_nongeo_region(c)) for c in codes]
    return regions + services


def _shortest(metadata: PhoneMetadata | None, leniency: int) -> int:
    desc = metadata.general_desc if metadata is not None else None
    if desc is None or not desc.possible_length:
        return 1  # unknown: never skip a pass for it
    lengths = list(desc.possible_length)
    if leniency == Leniency.POSSIBLE:  # the most lenient matcher also takes numbers dialable only locally
        lengths += desc.possible_length_local_only or ()
    return min(lengths)
