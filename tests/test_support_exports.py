"""Specifications for the support-export connectors: Zendesk tickets, Intercom conversations and generic
transcripts become chat records (customer → user, agent → assistant, internal notes dropped), files are
recognised by their content, and malformed input is skipped record by record with the file and record named."""

from __future__ import annotations

import copy
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLES, FIXTURES

from connectors.base import FileConnector, UnreadableFile
from connectors.detect import detect_export
from connectors.exports import MAX_MESSAGE_CHARS
from connectors.intercom import IntercomConnector
from connectors.transcripts import TranscriptCsvConnector, TranscriptJsonlConnector
from connectors.zendesk import ZendeskConnector
from ftbot.records import RawRecord, Skipped

EXPORTS = FIXTURES / "exports"
TEN_MB = "x" * 10_500_000
TOO_LONG = "message too long (10.5 MB; the limit is 100,000 characters)"


def _read(connector: FileConnector, name: str, content: bytes | str) -> tuple[list[RawRecord], list[Skipped]]:
    data = content.encode() if isinstance(content, str) else content
    items = list(connector.read(Path(name), data))
    records = [item for item in items if isinstance(item, RawRecord)]
    return records, [item for item in items if isinstance(item, Skipped)]


def _fixture(connector: FileConnector, name: str) -> tuple[list[RawRecord], list[Skipped]]:
    return _read(connector, name, (EXPORTS / name).read_bytes())


def _by_id(records: list[RawRecord]) -> dict[str, RawRecord]:
    return {record.external_id: record for record in records}


def _roles(record: RawRecord) -> list[str]:
    return [message.role for message in record.messages]


def _ndjson(rows: list[Any]) -> str:
    return "".join(json.dumps(row) + "\n" for row in rows)


def _tickets() -> list[dict[str, Any]]:
    return [json.loads(line) for line in (EXPORTS / "zendesk_tickets.ndjson").read_text().splitlines()]


def _conversations() -> list[dict[str, Any]]:
    return json.loads((EXPORTS / "intercom_conversations.json").read_text())["conversations"]


# --- Zendesk -------------------------------------------------------------------------------------------------


def test_when_a_zendesk_export_is_read_then_each_ticket_is_one_chat_of_customer_and_agent_turns():
    records, _ = _fixture(ZendeskConnector(), "zendesk_tickets.ndjson")

    ticket = _by_id(records)["ticket 4711"]
    assert ticket.kind == "chat"
    assert ticket.title == "Bank account stopped syncing"
    assert _roles(ticket) == ["user", "assistant", "user", "assistant"]
    assert ticket.messages[0].content.startswith("Hi, this is Greta Lindemann")
    # The customer's two comments in a row are one turn.
    assert ticket.messages[2].content == (
        "That worked, thank you!\n\nOne more question: will the missing transactions come back?"
    )
    assert ticket.url == "https://lumora.zendesk.com/agent/tickets/4711"
    assert ticket.created_at == datetime(2024, 3, 1, 9, 58, 12)
    assert ticket.updated_at == datetime(2024, 3, 1, 14, 20, 5)


def test_when_a_ticket_has_an_internal_note_then_the_note_is_left_out():
    records, _ = _fixture(ZendeskConnector(), "zendesk_tickets.ndjson")

    text = "\n".join(message.content for record in records for message in record.messages)
    assert "Internal:" not in text and "legacy Business plan" not in text


def test_when_a_ticket_has_no_public_agent_reply_then_it_is_skipped_with_the_reason():
    records, skipped = _fixture(ZendeskConnector(), "zendesk_tickets.ndjson")

    assert [record.external_id for record in records] == ["ticket 4711", "ticket 4712"]
    [problem] = skipped
    assert problem.where == "zendesk_tickets.ndjson ticket 4713"
    assert problem.reason.startswith("no public agent reply")


def test_when_a_ticket_is_edited_then_it_keeps_its_external_id_with_a_newer_updated_at_and_new_text():
    before = _by_id(_fixture(ZendeskConnector(), "zendesk_tickets.ndjson")[0])
    after = _by_id(_fixture(ZendeskConnector(), "zendesk_tickets_edited.ndjson")[0])

    assert before.keys() == after.keys()
    edited, original = after["ticket 4711"], before["ticket 4711"]
    assert edited.updated_at is not None and original.updated_at is not None
    assert edited.updated_at > original.updated_at
    assert "365 days" in edited.messages[-1].content and "90 days" in original.messages[-1].content
    assert after["ticket 4712"] == before["ticket 4712"]


def test_when_a_ticket_appears_twice_in_a_file_then_the_newer_copy_is_kept_and_the_older_skipped():
    old = _tickets()[0]
    new = copy.deepcopy(old)
    new["updated_at"] = "2024-03-09T08:00:00Z"
    new["comments"][-1]["plain_body"] = "Updated answer."

    records, skipped = _read(ZendeskConnector(), "incremental.ndjson", _ndjson([new, old]))

    assert [record.messages[-1].content for record in records] == ["Updated answer."]
    assert skipped == [Skipped("incremental.ndjson ticket 4711", "an older copy: the file also holds a newer one")]


def test_when_the_api_shape_side_loads_comments_and_users_then_their_roles_decide_who_is_the_customer():
    records, skipped = _fixture(ZendeskConnector(), "zendesk_api_tickets.json")

    assert skipped == []
    accountant = _by_id(records)["ticket 5120"]
    # Milan Horvat is CC'd, not the requester; the side-loaded users say he is an end user.
    assert _roles(accountant) == ["user", "assistant"]
    assert "Milan Horvat" in accountant.messages[0].content
    assert accountant.url == "https://lumora.zendesk.com/agent/tickets/5120"


def test_when_a_comment_has_only_an_html_body_then_its_text_is_plain():
    records, _ = _fixture(ZendeskConnector(), "zendesk_api_tickets.json")

    numbering = _by_id(records)["ticket 5121"]
    assert [message.content for message in numbering.messages] == [
        "Can I start my invoice numbers at 2024-100?",
        "Yes: Settings > Invoices > Numbering.\nSet the prefix and the next number.",
    ]


def test_when_a_single_ticket_or_a_list_of_tickets_is_read_then_it_reads_like_the_ndjson_export():
    expected, _ = _fixture(ZendeskConnector(), "zendesk_tickets.ndjson")
    tickets = _tickets()

    as_list, _ = _read(ZendeskConnector(), "tickets.json", json.dumps(tickets))
    as_page, _ = _read(ZendeskConnector(), "tickets.json", json.dumps({"tickets": tickets, "next_page": None}))
    single, _ = _read(ZendeskConnector(), "ticket.json", json.dumps({"ticket": tickets[0]}))

    assert as_list == as_page == expected
    assert single == expected[:1]


# --- Intercom ------------------------------------------------------------------------------------------------


def test_when_intercom_conversations_are_read_then_users_are_customers_and_admins_and_bots_are_agents():
    records, skipped = _fixture(IntercomConnector(), "intercom_conversations.json")

    conversations = _by_id(records)
    assert list(conversations) == ["conversation 215468849", "conversation 215468850"]
    assert _roles(conversations["conversation 215468849"]) == ["user", "assistant", "user", "assistant"]
    sso = conversations["conversation 215468850"]
    assert _roles(sso) == ["user", "assistant", "user", "assistant"]
    assert sso.messages[1].content.startswith("SAML single sign-on is part of the Enterprise plan")  # Fin, a bot
    assert sso.title == "SAML SSO"
    [problem] = skipped
    assert problem.where == "intercom_conversations.json conversation 215468851"
    assert problem.reason.startswith("no public agent reply")  # a lead's question with only a note on it


def test_when_an_intercom_conversation_has_notes_and_assignments_then_only_the_replies_remain():
    records, _ = _fixture(IntercomConnector(), "intercom_conversations.json")

    plan = _by_id(records)["conversation 215468849"]
    text = "\n".join(message.content for message in plan.messages)
    assert "Mention the Business upgrade" not in text  # the note
    assert plan.messages[-1].content == "Happy to help – reply here any time."  # a reply sent while closing


def test_when_intercom_bodies_are_html_then_tags_are_dropped_and_entities_decoded():
    records, _ = _fixture(IntercomConnector(), "intercom_conversations.json")

    reply = _by_id(records)["conversation 215468849"].messages[1].content
    assert reply == (
        "Hi Ines, the Starter plan includes 1 user.\nBusiness allows up to 5 users: upgrade under Settings > Plan."
    )


def test_when_intercom_timestamps_are_unix_seconds_then_records_carry_naive_utc_datetimes():
    records, _ = _fixture(IntercomConnector(), "intercom_conversations.json")

    plan = _by_id(records)["conversation 215468849"]
    assert (plan.created_at, plan.updated_at) == (datetime(2024, 3, 1, 10, 0), datetime(2024, 3, 1, 12, 0))
    assert plan.url == ""  # Intercom's conversations carry no link


@pytest.mark.parametrize(
    "shape",
    [
        pytest.param(lambda conversations: _ndjson(conversations), id="ndjson"),
        pytest.param(lambda conversations: json.dumps(conversations), id="json-array"),
        pytest.param(lambda conversations: json.dumps({"conversations": conversations}), id="untyped-list"),
    ],
)
def test_when_intercom_conversations_come_in_another_shape_then_they_read_the_same(shape: Any):
    expected = _fixture(IntercomConnector(), "intercom_conversations.json")[0]

    records, _ = _read(IntercomConnector(), "conversations.json", shape(_conversations()))

    assert records == expected


def test_when_a_single_intercom_conversation_is_read_then_it_is_one_record():
    records, _ = _read(IntercomConnector(), "conversation.json", json.dumps(_conversations()[1]))

    assert [record.external_id for record in records] == ["conversation 215468850"]


# --- Generic transcripts -------------------------------------------------------------------------------------


def test_when_transcript_lines_of_conversations_interleave_then_each_conversation_is_grouped_in_order():
    records, skipped = _fixture(TranscriptJsonlConnector(), "transcripts.jsonl")

    assert skipped == []
    chats = _by_id(records)
    assert list(chats) == ["conversation chat-1001", "conversation chat-1002"]
    payment = chats["conversation chat-1001"]
    assert _roles(payment) == ["user", "assistant", "user"]
    assert "IBAN" not in " ".join(message.content for message in payment.messages)  # the internal line
    assert (payment.created_at, payment.updated_at) == (datetime(2024, 5, 6, 9, 0), datetime(2024, 5, 6, 9, 6))
    assert _roles(chats["conversation chat-1002"]) == ["user", "assistant"]  # author_type names the role too


def test_when_a_transcript_csv_is_read_then_rows_group_into_conversations_with_utc_times():
    records, skipped = _fixture(TranscriptCsvConnector(), "transcripts.csv")

    assert skipped == []
    lockout, api = records
    assert lockout.external_id == "conversation call-77"
    assert _roles(lockout) == ["user", "assistant"]
    assert "goodwill" not in lockout.messages[-1].content  # internal=true
    assert lockout.created_at == datetime(2024, 6, 10, 12, 0)  # +02:00 → UTC
    assert api.created_at == datetime(2024, 6, 10, 14, 0)  # unix seconds
    assert (
        api.messages[1].content
        == "Yes, on Business and Enterprise.\nBusiness allows 100 requests per minute, Enterprise 600."
    )


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ({"role": "manager", "text": "Hello"}, "unknown role 'manager'"),
        ({"role": "agent"}, "missing field 'text'"),
        ({"text": "Hello"}, "missing field 'role'"),
        ({"role": "agent", "text": "Hello", "timestamp": "yesterday"}, "invalid timestamp 'yesterday'"),
        ({"role": "agent", "text": "Hello", "internal": "maybe"}, "invalid internal 'maybe'"),
        ({"role": "agent", "text": TEN_MB}, TOO_LONG),
    ],
    ids=["unknown-role", "no-text", "no-role", "bad-timestamp", "bad-internal", "10-MB-message"],
)
def test_when_a_transcript_line_is_bad_then_its_conversation_is_skipped_naming_the_line(line: dict, reason: str):
    lines = [
        {"conversation_id": "c1", "role": "customer", "text": "Question?"},
        {"conversation_id": "c2", "role": "customer", "text": "Other question?"},
        {"conversation_id": "c1", **line},
        {"conversation_id": "c2", "role": "agent", "text": "Other answer."},
    ]

    records, skipped = _read(TranscriptJsonlConnector(), "chats.jsonl", _ndjson(lines))

    assert [record.external_id for record in records] == ["conversation c2"]
    [problem] = skipped
    assert problem.where == "chats.jsonl conversation c1, line 3"
    assert problem.reason.startswith(reason)


def test_when_a_transcript_line_names_no_conversation_then_only_that_line_is_skipped():
    lines = [{"role": "customer", "text": "Lost?"}, {"conversation_id": 7, "role": "user", "text": "Hi?"}]
    lines.append({"conversation_id": 7, "role": "assistant", "text": "Hello."})

    records, skipped = _read(TranscriptJsonlConnector(), "chats.jsonl", _ndjson(lines))

    assert [record.external_id for record in records] == ["conversation 7"]
    assert skipped == [Skipped("chats.jsonl line 1", "missing field 'conversation_id'")]


def test_when_a_transcript_csv_row_has_the_wrong_number_of_columns_then_its_conversation_is_skipped():
    csv_text = "conversation_id,role,text\nc1,customer,Question?\nc1,agent,Answer,extra\nc2,customer,Q?\nc2,agent,A.\n"

    records, skipped = _read(TranscriptCsvConnector(), "chats.csv", csv_text)

    assert [record.external_id for record in records] == ["conversation c2"]
    assert skipped == [Skipped("chats.csv conversation c1, row 3", "expected 3 columns, found 4")]


def test_when_a_transcript_csv_has_a_broken_quote_then_the_rows_before_it_go_in():
    csv_text = 'conversation_id,role,text\nc1,customer,Question?\nc1,agent,Answer.\nc2,customer,"never closed\n'

    records, skipped = _read(TranscriptCsvConnector(), "chats.csv", csv_text)

    assert [record.external_id for record in records] == ["conversation c1"]
    assert skipped[0].where == "chats.csv row 4" and skipped[0].reason.startswith("malformed CSV")


def test_when_a_transcript_csv_lacks_a_needed_column_then_the_file_is_unreadable():
    with pytest.raises(UnreadableFile, match="conversation_id, role and text"):
        _read(TranscriptCsvConnector(), "chats.csv", "conversation_id,text\nc1,Hello\n")


# --- Detection -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("zendesk_tickets.ndjson", ZendeskConnector),
        ("zendesk_tickets_edited.ndjson", ZendeskConnector),
        ("zendesk_api_tickets.json", ZendeskConnector),
        ("intercom_conversations.json", IntercomConnector),
        ("transcripts.jsonl", TranscriptJsonlConnector),
        ("transcripts.csv", TranscriptCsvConnector),
    ],
)
def test_when_a_fixture_export_is_detected_then_its_vendors_connector_reads_it(name: str, expected: type):
    path = EXPORTS / name

    assert isinstance(detect_export(path, path.read_bytes()), expected)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (_ndjson(_conversations()), IntercomConnector),
        (json.dumps(_conversations()[0]), IntercomConnector),
        (json.dumps(_conversations()), IntercomConnector),
        (json.dumps({"ticket": _tickets()[0]}), ZendeskConnector),
        (json.dumps(_tickets()), ZendeskConnector),
        ('{"tickets": [{"id": 1, "subject": "cut o', ZendeskConnector),  # truncated: recognised by its keys
        ('{"not json\n' + _ndjson(_tickets()), ZendeskConnector),  # NDJSON with a broken first line
        (_ndjson(_tickets()).encode("utf-8").replace(b"Sparkasse", b"Sparkasse \xe4"), ZendeskConnector),
        ("\ufeffconversation_id,Role,text\nc1,customer,hi\n", TranscriptCsvConnector),
    ],
    ids=[
        "intercom-ndjson",
        "intercom-single",
        "intercom-array",
        "zendesk-single",
        "zendesk-array",
        "zendesk-truncated",
        "zendesk-broken-first-line",
        "zendesk-not-utf8",
        "transcript-csv-bom-any-case",
    ],
)
def test_when_an_export_comes_in_another_shape_then_it_is_still_recognised(content: str | bytes, expected: type):
    data = content.encode() if isinstance(content, str) else content

    assert isinstance(detect_export(Path("export.json"), data), expected)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("support_transcripts.jsonl", (EXAMPLES / "support_transcripts.jsonl").read_bytes()),
        ("faq.csv", (EXAMPLES / "faq.csv").read_bytes()),
        ("qa.jsonl", b'{"question": "Q?", "answer": "A."}\n'),
        ("other.json", b'{"name": "something else"}'),
        ("numbers.json", b"[1, 2, 3]"),
        ("binary.csv", (FIXTURES / "bad" / "binary.txt").read_bytes()),
        ("empty.jsonl", b""),
    ],
    ids=["qa-chat-jsonl", "qa-csv", "qa-jsonl", "other-json", "json-numbers", "binary", "empty"],
)
def test_when_a_file_is_not_a_support_export_then_detection_leaves_it_to_the_suffix_rules(name: str, content: bytes):
    assert detect_export(Path(name), content) is None


# --- Malformed input -----------------------------------------------------------------------------------------


def test_when_the_last_ndjson_line_is_cut_off_then_it_is_skipped_as_truncated_and_the_rest_goes_in():
    text = _ndjson(_tickets()[:2])
    cut = text + json.dumps(_tickets()[0])[:150]

    records, skipped = _read(ZendeskConnector(), "tickets.ndjson", cut)

    assert [record.external_id for record in records] == ["ticket 4711", "ticket 4712"]
    [problem] = skipped
    assert problem.where == "tickets.ndjson line 3"
    assert problem.reason.startswith("truncated JSON")


@pytest.mark.parametrize(
    ("line", "where", "reason"),
    [
        ("{not json}", "line 2", "invalid JSON"),
        ("[42]", "line 2", "expected a ticket object"),
        ('"a string"', "line 2", "expected a ticket object"),
        ('{"subject": "no id", "requester_id": 1, "comments": []}', "line 2", "missing field 'id'"),
        ('{"id": 77, "requester_id": 1}', "ticket 77", "missing field 'comments'"),
        ('{"id": 78, "comments": []}', "ticket 78", "missing field 'requester_id'"),
        ('{"id": 79, "requester_id": 1, "comments": []}', "ticket 79", "no public agent reply"),
    ],
    ids=["invalid-json", "a-list", "a-string", "no-id", "no-comments", "no-requester", "no-reply"],
)
def test_when_a_zendesk_line_is_bad_then_it_is_skipped_naming_the_file_and_record(line: str, where: str, reason: str):
    tickets = _tickets()
    text = json.dumps(tickets[0]) + "\n" + line + "\n" + json.dumps(tickets[1]) + "\n"

    records, skipped = _read(ZendeskConnector(), "tickets.ndjson", text)

    assert [record.external_id for record in records] == ["ticket 4711", "ticket 4712"]
    [problem] = skipped
    assert problem.where == f"tickets.ndjson {where}"
    assert problem.reason.startswith(reason)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda comment: comment.pop("author_id"), "missing field 'author_id'"),
        (lambda comment: comment.pop("public"), "missing field 'public'"),
        (lambda comment: [comment.pop(key) for key in ("body", "plain_body", "html_body")], "missing field 'body'"),
        (lambda comment: comment.update(plain_body=TEN_MB), TOO_LONG),
    ],
    ids=["no-author", "no-public-flag", "no-body", "10-MB-message"],
)
def test_when_a_zendesk_comment_is_bad_then_its_ticket_is_skipped_naming_the_comment(change: Any, reason: str):
    tickets = _tickets()
    change(tickets[0]["comments"][2])

    records, skipped = _read(ZendeskConnector(), "tickets.ndjson", _ndjson(tickets))

    assert [record.external_id for record in records] == ["ticket 4712"]
    assert skipped[0].where == "tickets.ndjson ticket 4711, comment 9003"
    assert skipped[0].reason.startswith(reason)


def test_when_a_zendesk_timestamp_is_not_a_date_then_the_ticket_is_skipped_naming_the_field():
    tickets = _tickets()
    tickets[1]["updated_at"] = "last Tuesday"

    records, skipped = _read(ZendeskConnector(), "tickets.ndjson", _ndjson(tickets))

    assert [record.external_id for record in records] == ["ticket 4711"]
    assert skipped[0].where == "tickets.ndjson ticket 4712"
    assert skipped[0].reason.startswith("invalid updated_at 'last Tuesday'")


@pytest.mark.parametrize(
    ("change", "where", "reason"),
    [
        (lambda c: c.pop("source"), "conversation 215468850", "missing field 'source'"),
        (lambda c: c.pop("id"), "conversation #2", "missing field 'id'"),
        (lambda c: c["source"].pop("author"), "conversation 215468850, source", "missing field 'author'"),
        (lambda c: c["source"]["author"].update(type="alien"), "conversation 215468850, source", "unknown author"),
        (
            lambda c: c["conversation_parts"]["conversation_parts"][0].update(body=f"<p>{TEN_MB}</p>"),
            "conversation 215468850, part 3101",
            TOO_LONG,
        ),
        (lambda c: c.update(created_at="tomorrow"), "conversation 215468850", "invalid created_at"),
    ],
    ids=["no-source", "no-id", "no-author", "unknown-author", "10-MB-message", "bad-timestamp"],
)
def test_when_an_intercom_conversation_is_bad_then_it_is_skipped_and_the_others_go_in(
    change: Any, where: str, reason: str
):
    conversations = _conversations()
    change(conversations[1])

    records, skipped = _read(IntercomConnector(), "conversations.json", json.dumps({"conversations": conversations}))

    assert [record.external_id for record in records] == ["conversation 215468849"]
    problem = next(item for item in skipped if "215468851" not in item.where)
    assert problem.where == f"conversations.json {where}"
    assert problem.reason.startswith(reason)


@pytest.mark.parametrize(
    "connector",
    [ZendeskConnector(), IntercomConnector(), TranscriptJsonlConnector(), TranscriptCsvConnector()],
    ids=["zendesk", "intercom", "transcripts-jsonl", "transcripts-csv"],
)
@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty"),
        (b"  \n\n", "empty"),
        ((FIXTURES / "bad" / "binary.txt").read_bytes(), "binary"),
        ('{"tickets": [], "note": "Grüße"}'.encode("latin-1"), "UTF-8"),
    ],
    ids=["empty", "blank", "binary", "latin-1"],
)
def test_when_an_export_file_is_not_utf8_text_then_it_is_unreadable(connector: FileConnector, content, reason):
    with pytest.raises(UnreadableFile, match=reason):
        _read(connector, "export.json", content)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (json.dumps({"tickets": _tickets()}, indent=2)[:-300], "truncated JSON: the file ends at line"),
        ('{"tickets": [\n' + json.dumps(_tickets()[0]) + ",\n" + json.dumps(_tickets()[1]) + "\n", "truncated JSON"),
        ("just some words, not JSON", "invalid JSON at line 1 column 1"),
        ('{"tickets": [1, 2,, 3]}', "invalid JSON at line 1 column 19"),
    ],
    ids=["truncated-document", "truncated-one-ticket-a-line", "not-json", "syntax-error"],
)
def test_when_a_json_document_is_broken_then_the_file_is_unreadable_with_the_position(content: str, reason: str):
    with pytest.raises(UnreadableFile, match=reason):
        _read(ZendeskConnector(), "tickets.json", content)


def test_when_the_tickets_key_is_not_a_list_then_the_file_says_so():
    records, skipped = _read(ZendeskConnector(), "tickets.json", '{"tickets": {"id": 1}}')

    assert records == []
    assert skipped == [Skipped("tickets.json", "'tickets' must be a list")]


def test_when_a_message_is_just_under_the_limit_then_it_is_kept():
    tickets = _tickets()
    tickets[1]["comments"][1]["plain_body"] = "y" * MAX_MESSAGE_CHARS

    records, _ = _read(ZendeskConnector(), "tickets.ndjson", _ndjson(tickets))

    assert len(_by_id(records)["ticket 4712"].messages[1].content) == MAX_MESSAGE_CHARS


# --- Every connector, every fixture --------------------------------------------------------------------------


def test_when_any_fixture_export_is_read_then_records_are_clean_chats_and_every_skip_names_its_file():
    for path in sorted(EXPORTS.glob("[!_]*")):
        connector = detect_export(path, path.read_bytes())
        assert connector is not None, path.name
        records, skipped = _read(connector, path.name, path.read_bytes())
        assert records, path.name
        for record in records:
            assert record.kind == "chat" and {"user", "assistant"} <= set(_roles(record))
            assert all(message.content and "<p>" not in message.content for message in record.messages)
            assert all(a.role != b.role for a, b in zip(record.messages, record.messages[1:], strict=False))
        assert all(item.where.startswith(f"{path.name} ") for item in skipped)


def test_when_the_fixtures_are_read_then_every_planted_pii_value_reaches_the_records_for_anonymization():
    planted = json.loads((EXPORTS / "_planted_pii.json").read_text())
    texts = []
    for path in sorted(EXPORTS.glob("[!_]*")):
        connector = detect_export(path, path.read_bytes())
        assert connector is not None
        texts += [text for record in _read(connector, path.name, path.read_bytes())[0] for text in record.texts()]
    everything = "\n".join(texts)

    for value in planted["names"] + planted["emails"] + planted["phones"]:
        if value != "Leonie Brandl" and value != "0176 5550 2291":  # her ticket has no reply and is skipped
            assert value in everything, value
