"""Specifications for the anonymizer's recognizers: each one's positives and the look-alikes it must leave alone."""

import phonenumbers
import pytest
import spacy
from phonenumbers import PhoneNumberFormat
from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from presidio_analyzer.predefined_recognizers import PhoneRecognizer
from spacy.tokens import Doc

from connectors.anonymize.name_recognizers import KnownNamesRecognizer, NameCueRecognizer
from connectors.anonymize.name_words import could_be_name, has_name_shape, is_tool_name, looks_german, reads_as_name
from connectors.anonymize.recognizers import (
    GermanSocialSecurityRecognizer,
    GermanTaxIdRecognizer,
    OnlyIf,
    RegionalPhoneRecognizer,
    SlackMentionRecognizer,
    StreetAddressRecognizer,
    fewest_phone_digits,
)

THRESHOLD = 0.35  # the Anonymizer's default score threshold


def _found(recognizer: EntityRecognizer, text: str) -> list[str]:
    # No NLP artifacts: only KnownNamesRecognizer reads them, to tell "Will" the name from "Will" the verb.
    results = recognizer.analyze(text, recognizer.supported_entities, None) or []  # type: ignore[arg-type]
    return [text[r.start : r.end] for r in results if r.score >= THRESHOLD]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Steuer-ID 86095742719", ["86095742719"]),
        ("Meine Steuer-ID lautet 86 095 742 719.", ["86 095 742 719"]),
        ("tax id 12345678903 please", ["12345678903"]),
        ("Bestellnummer 86095742718", []),  # 11 digits, wrong check digit: an order number
        ("Order 12345678904 shipped", []),
        ("Call 01712345678", []),  # leading 0: never a Steuer-ID
        ("Ticket 860957427190", []),  # 12 digits
    ],
    ids=[
        "compact",
        "grouped",
        "english-context",
        "wrong-check-digit",
        "wrong-check-digit-2",
        "leading-zero",
        "12-digits",
    ],
)
def test_when_german_tax_id_then_found_only_with_valid_check_digit(text: str, expected: list[str]) -> None:
    assert _found(GermanTaxIdRecognizer(), text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("RV-Nr. 65 170839 J 003", ["65 170839 J 003"]),
        ("Versicherungsnummer 65170839J003", ["65170839J003"]),
        ("pension number 65 170839 J003.", ["65 170839 J003"]),
        ("RV-Nr. 65 170839 J 004", []),  # wrong check digit
        ("Part 65170839X003 is out of stock", []),
        ("Invoice 65 170839 2 003", []),  # no letter
    ],
    ids=["spaced", "compact", "mixed", "wrong-check-digit", "wrong-letter-for-check", "digits-only"],
)
def test_when_rentenversicherungsnummer_then_found_only_with_valid_check_digit(text: str, expected: list[str]) -> None:
    assert _found(GermanSocialSecurityRecognizer(), text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I live at 221B Baker Street.", ["221B Baker Street"]),
        (
            "HQ: 1600 Amphitheatre Parkway, Mountain View, CA 94043",
            ["1600 Amphitheatre Parkway, Mountain View, CA 94043"],
        ),
        ("Send it to 15 Station Road, Leeds LS1 4DY please", ["15 Station Road, Leeds LS1 4DY"]),
        ("Neue Adresse: Hauptstraße 12", ["Hauptstraße 12"]),
        ("Am Markt 5a, 10115 Berlin", ["Am Markt 5a, 10115 Berlin"]),
        ("Friedrichstr. 123, 10117 Berlin", ["Friedrichstr. 123, 10117 Berlin"]),
        ("Büro in der Karl-Marx-Allee 90", ["Karl-Marx-Allee 90"]),
        ("Berliner Straße 45 ist gesperrt", ["Berliner Straße 45"]),
        ("Unter den Linden 77", ["Unter den Linden 77"]),
        ("We have 30 vacation days", []),
        ("Im Jahr 2024 am Freitag 10 Uhr", []),
        ("Am Montag 3 Termine", []),
        ("the main street is closed", []),
        ("Lumora Ledger 3.1.0 is out", []),
    ],
    ids=[
        "en-baker-street",
        "en-parkway-city-zip",
        "en-uk-postcode",
        "de-strasse",
        "de-preposition-plz",
        "de-str-abbreviation",
        "de-hyphenated",
        "de-adjective-street",
        "de-unter-den",
        "no-days",
        "no-year-or-time",
        "no-weekday",
        "no-lowercase-street",
        "no-version",
    ],
)
def test_when_street_address_then_found_with_city(text: str, expected: list[str]) -> None:
    assert _found(StreetAddressRecognizer(), text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hey <@U012ABCDEF> can you look?", ["<@U012ABCDEF>"]),
        ("<@U012ABCDEF|anna.schmidt> thanks", ["<@U012ABCDEF|anna.schmidt>"]),
        ("<@W0ABCDEFG> joined", ["<@W0ABCDEFG>"]),
        ("see <#C012ABCDEF|general>", []),  # a channel, not a person
        ("<!here> deploy is done", []),
        ("email me <anna@example.com>", []),
    ],
    ids=["plain", "with-name", "enterprise-user", "channel", "here", "email-in-brackets"],
)
def test_when_slack_mention_then_found_but_not_channels(text: str, expected: list[str]) -> None:
    assert _found(SlackMentionRecognizer(), text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Ask Anna Schmidt", ["Anna Schmidt"]),
        ("ask anna schmidt", ["anna schmidt"]),
        ("ping anna about it", ["anna"]),
        ("Frag mal SCHMIDT", ["SCHMIDT"]),
        ("Jürgen Weiß hat angerufen", ["Jürgen Weiß"]),
        ("Hannah's laptop", ["Hannah"]),
        ("Annabelle is new", []),  # word boundaries: no "Anna" inside another name
        ("will the export run?", []),  # an everyday word in lowercase is the word
        ("die Farbe weiß", []),
    ],
    ids=[
        "full",
        "lowercase-full",
        "lowercase-first",
        "uppercase-last",
        "umlauts",
        "possessive",
        "no-prefix",
        "word",
        "word-de",
    ],
)
def test_when_directory_name_then_found_in_any_case(text: str, expected: list[str]) -> None:
    recognizer = KnownNamesRecognizer(["Anna Schmidt", "Jürgen Weiß", "Will Turner", "Hannah Lindqvist"])
    assert _found(recognizer, text) == expected


def test_when_directory_is_empty_then_nothing_found() -> None:
    assert _found(KnownNamesRecognizer([]), "Anna Schmidt") == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Sehr geehrte Frau Dubois, vielen Dank", ["Dubois"]),
        ("Hallo Elif, danke!", ["Elif"]),
        ("Mit freundlichen Grüßen\nStefan Hahn\nTel.: 030 123", ["Stefan Hahn"]),
        ("my name is Kofi Mensah and I need help", ["Kofi Mensah"]),
        ("Kontoinhaber Özlem Yılmaz.", ["Özlem Yılmaz"]),
        ("Hi there, quick question", []),
        ("Hi team, deploy is done", []),
        ("Hallo, hier ist der Support", []),
        ("Danke für die Rechnung", []),
    ],
    ids=["title", "greeting", "sign-off", "introduction", "account-holder", "hi-there", "hi-team", "no-name", "noun"],
)
def test_when_name_follows_a_cue_then_found(text: str, expected: list[str]) -> None:
    assert _found(NameCueRecognizer(), text) == expected


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("Anna", True),
        ("Özlem", True),
        ("Karl-Heinz", True),
        ("anna", False),
        ("Rechnung", False),
        ("Betreff", False),
        ("Rentenversicherungsnummer", False),
        ("Sie", False),
        ("INV-2024", False),
    ],
)
def test_when_word_checked_then_only_capitalized_non_nouns_could_be_names(word: str, expected: bool) -> None:
    assert could_be_name(word) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Der Server antwortet nicht mehr, kann das jemand prüfen?", True),
        ("Ich bin umgezogen.", True),
        ("The server does not answer, can someone check?", False),
        ("Anna Schmidt", False),
    ],
)
def test_when_text_checked_then_german_told_from_english(text: str, expected: bool) -> None:
    assert looks_german(text) is expected


def _phones(recognizer: EntityRecognizer, text: str) -> list[tuple[int, int]]:
    return sorted((r.start, r.end) for r in recognizer.analyze(text, ["PHONE_NUMBER"], None))  # type: ignore[arg-type]


PHONE_TEXTS = [
    "Call +49 30 5557 2301 please",
    "Call 030 5557 2301 or 0171 2345678",
    "Call +1 (415) 555-0132 or (415) 555-0133",
    "UK office: 020 7946 0958, mobile 07700 900123",
    "ticket 40012, ref 77",  # too few digits for a US or UK number: only the German pass runs
    "Order 12345678 shipped on 2024-05-01.",
    "IBAN DE89 3704 0044 0532 0130 00, card 4111 1111 1111 1111",
    "Mobil: 0176 12345678 (ab 9 Uhr), Festnetz 089/1234567",
    "",
]


@pytest.mark.parametrize("text", PHONE_TEXTS)
def test_when_phone_passes_are_skipped_then_same_numbers_as_presidio(text: str) -> None:
    regions = ("DE", "US", "GB")
    stock = PhoneRecognizer(supported_regions=regions, leniency=1)
    assert _phones(RegionalPhoneRecognizer(regions, leniency=1), text) == _phones(stock, text)


def test_when_text_has_too_few_digits_for_a_region_then_its_pass_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    passes: list[str] = []
    matcher = phonenumbers.PhoneNumberMatcher

    def recording_matcher(text: str, region: str, **kwargs: object) -> object:
        passes.append(region)
        return matcher(text, region, **kwargs)

    monkeypatch.setattr(phonenumbers, "PhoneNumberMatcher", recording_matcher)
    recognizer = RegionalPhoneRecognizer(("DE", "US", "GB"), leniency=1)
    for text in ("no digits at all", "ticket 40012", "call +49 30 5557 2301"):
        passes.clear()
        recognizer.analyze(text, ["PHONE_NUMBER"], None)  # type: ignore[arg-type]
        assert passes == {"no digits at all": [], "ticket 40012": ["DE"]}.get(text, ["DE", "US", "GB"])


@pytest.mark.parametrize("region", ["DE", "US", "GB", "FR", "AT", "IN"])
def test_when_fewest_phone_digits_computed_then_no_example_number_has_fewer(region: str) -> None:
    fewest = fewest_phone_digits(region, leniency=1)
    for number_type in range(12):  # every PhoneNumberType, in every format a text may show
        example = phonenumbers.example_number_for_type(region, number_type)
        if example is None:
            continue
        for style in (PhoneNumberFormat.NATIONAL, PhoneNumberFormat.INTERNATIONAL, PhoneNumberFormat.E164):
            written = phonenumbers.format_number(example, style)
            assert sum(c.isdigit() for c in written) >= fewest, (written, fewest)


class _Counting(EntityRecognizer):
    def __init__(self) -> None:
        super().__init__(supported_entities=["EMAIL_ADDRESS"], name="Counting")
        self.calls = 0

    def load(self) -> None:
        pass

    def analyze(self, text: str, entities: list[str], nlp_artifacts: object = None) -> list[RecognizerResult]:
        self.calls += 1
        return [RecognizerResult("EMAIL_ADDRESS", 0, len(text), 1.0, recognition_metadata={})]


@pytest.mark.parametrize(("text", "runs"), [("write to a@b.de", True), ("no address here", False)])
def test_when_needed_character_is_absent_then_recognizer_is_not_run(text: str, runs: bool) -> None:
    inner = _Counting()
    found = OnlyIf("@", inner).analyze(text, ["EMAIL_ADDRESS"], None)
    assert (inner.calls, len(found)) == ((1, 1) if runs else (0, 0))


def test_when_wrapped_recognizer_finds_values_then_they_are_filed_under_the_wrapper() -> None:
    # Presidio regroups results by the id of the recognizer it called, and drops any it cannot place.
    wrapper = OnlyIf("@", _Counting())
    [result] = wrapper.analyze("a@b.de", ["EMAIL_ADDRESS"], None)
    assert result.recognition_metadata[RecognizerResult.RECOGNIZER_IDENTIFIER_KEY] == wrapper.id


def _untagged(text: str) -> NlpArtifacts:
    doc = spacy.blank("en")(text)
    return NlpArtifacts(entities=[], tokens=doc, tokens_indices=[], lemmas=[], nlp_engine=None, language="en")


@pytest.mark.parametrize(
    ("text", "pos", "expected", "tagged"),
    [
        ("Will the export run?", "AUX", [], True),
        ("Will owns the export.", "PROPN", ["Will"], True),
        ("Anna owns the export.", "PROPN", ["Anna"], False),  # not an everyday word: no tags needed
        ("will it run?", "AUX", [], False),  # lowercase everyday word: the word, no tags needed
    ],
)
def test_when_pipeline_skipped_pos_tags_then_they_are_made_only_for_everyday_word_names(
    text: str, pos: str, expected: list[str], tagged: bool
) -> None:
    calls: list[str] = []

    def tag_pos(doc: Doc) -> Doc:
        calls.append(doc.text)
        doc[0].pos_ = pos
        return doc

    recognizer = KnownNamesRecognizer(["Will Turner", "Anna Schmidt"], tag_pos=tag_pos)
    results = recognizer.analyze(text, ["PERSON"], _untagged(text))
    assert [text[r.start : r.end] for r in results] == expected
    assert bool(calls) is tagged


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (["Maria", "Lopez"], True),  # "Lopez" is in no dictionary
        (["Sally", "Smith"], True),  # both English words, but "Sally" is a given name
        (["Paid", "Leave"], False),
        (["Short", "Term", "Disability"], False),
        (["Senior", "Engineer"], False),
        (["Mark"], False),  # a given name that is an everyday word needs another word beside it
        (["Mark", "Bauer"], True),
    ],
)
def test_when_span_words_checked_then_english_phrases_read_as_no_name(words: list[str], expected: bool) -> None:
    dictionary = frozenset(
        ["paid", "leave", "short", "term", "disability", "senior", "engineer", "sally", "smith", "mark"]
    )
    assert reads_as_name(words, dictionary, frozenset(["mark"])) is expected


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("Anna", True),
        ("O'Brien", True),
        ("McAllister", True),
        ("Kaplan-Moss", True),
        ("Chris's", True),
        ("GitHub", False),
        ("FedRAMP", False),
        ("TTS", False),
        ("18F", False),
        ("anna", False),
    ],
)
def test_when_word_shape_checked_then_only_names_as_written_pass(word: str, expected: bool) -> None:
    assert has_name_shape(word) is expected


@pytest.mark.parametrize(
    ("word", "expected"), [("Kandji", True), ("Linux", True), ("MacBooks", True), ("Maria", False)]
)
def test_when_word_checked_then_well_known_tools_are_tool_names(word: str, expected: bool) -> None:
    assert is_tool_name(word) is expected
