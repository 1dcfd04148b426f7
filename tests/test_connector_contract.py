"""The contract every connector keeps, run over each one: the sources in connectors.registry and the file
connectors ingest picks from.

- A bad item comes out as `Skipped` data with a reason (naming where it was, never quoting its content),
  not as an exception; the counts reconcile: what the input holds = records + skipped.
- A second sync from the cursor the first one returned brings nothing new.
- A garbled file or payload gives a clear error (UnreadableFile, SourceUnavailable) or a Skipped, never a crash.
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import FIXTURES

from bot.standins.slack import SlackStandIn
from bot.standins.slack.seed import ALICE, GENERAL
from connectors.base import Connector, FileConnector, SourceUnavailable, SyncBatch, UnreadableFile
from connectors.detect import connector_for
from connectors.documents import DocumentConnector
from connectors.intercom import IntercomConnector
from connectors.qa_files import CsvQaConnector, JsonlQaConnector, MarkdownFaqConnector
from connectors.registry import CONNECTORS, build_connector
from connectors.transcripts import TranscriptCsvConnector, TranscriptJsonlConnector
from connectors.zendesk import ZendeskConnector
from ftbot.config import Settings
from ftbot.records import RawRecord, Skipped
from ftbot.source_config import AnySourceConfig, ExportSourceConfig, FilesSourceConfig, SlackSourceConfig

# Raw content of a bad item: no Skipped may quote it (skips are logged and shown to admins).
CANARY = "CANARY-7f3a"
BOB = "U0BOB"  # the Slack source's expert

# --- the inputs: a small file per format, holding good items and bad ones ----------------------------------


@dataclass(frozen=True)
class FileCase:
    """A file connector, and a file of its format with `records` good items and `skipped` bad ones."""

    connector: Callable[[], FileConnector]
    name: str
    content: bytes
    records: int
    skipped: int


CSV_QA = f"""question,answer
How do I reset my password?,Use the reset link on the login page.
Where is the {CANARY} office?,
Which channel is IT?,#it-helpdesk
"""

JSONL_QA = f"""{{"question": "How do I reset my password?", "answer": "Use the reset link on the login page."}}
{{"question": "Where is the {CANARY} office?", "answer":
{{"question": "Only a question, {CANARY}?"}}
{{"messages": [{{"role": "user", "content": "Which channel is IT?"}}, {{"role": "assistant", "content": "#it"}}]}}
"""

MARKDOWN_FAQ = f"""# FAQ

## How do I reset my password?
Use the reset link on the login page.

## Where do I find the {CANARY} invoices?

## Which channel is IT?
Ask in #it-helpdesk.
"""

DOCUMENT = """# Office guide

## Plants
Water the plants on Mondays.

## Printers
The printer on floor 2 needs a badge.
"""


def _ticket(ticket_id: int, *bodies: tuple[int, str]) -> str:
    comments = ", ".join(
        f'{{"id": {ticket_id * 10 + n}, "author_id": {author}, "public": true, "body": "{body}"}}'
        for n, (author, body) in enumerate(bodies)
    )
    return (
        f'{{"id": {ticket_id}, "requester_id": 10, "subject": "Ticket {ticket_id}", '
        f'"created_at": "2024-03-01T09:00:00Z", "updated_at": "2024-03-01T10:00:00Z", "comments": [{comments}]}}'
    )


ZENDESK_NDJSON = "\n".join(
    [
        _ticket(1, (10, "How do I reset my password?"), (20, "Use the reset link.")),
        _ticket(2, (10, f"I am {CANARY}, nobody answered me.")),  # no agent reply
        f'{{"id": 3, "requester_id": 10, "comments": [{{"body": "{CANARY}',  # broken JSON
        _ticket(4, (10, "Is there an API?"), (20, "Yes, see the docs.")),
    ]
)


def _conversation(conversation_id: int, customer: str, agent: str | None) -> str:
    parts = (
        f'[{{"type": "conversation_part", "id": "p{conversation_id}", "part_type": "comment", '
        f'"body": "<p>{agent}</p>", "author": {{"type": "admin", "id": "a1"}}}}]'
        if agent
        else "[]"
    )
    return (
        f'{{"type": "conversation", "id": "{conversation_id}", "created_at": 1717000000, "updated_at": 1717000500, '
        f'"source": {{"type": "conversation", "id": "s{conversation_id}", "body": "<p>{customer}</p>", '
        f'"author": {{"type": "user", "id": "u1"}}}}, '
        f'"conversation_parts": {{"type": "conversation_part.list", "conversation_parts": {parts}}}}}'
    )


INTERCOM_JSON = (
    '{"type": "conversation.list", "conversations": ['
    + ", ".join(
        [
            _conversation(101, "How do I export my data?", "Settings, then Export."),
            _conversation(102, f"I am {CANARY}.", None),  # no agent reply
            _conversation(103, "Can I pay by invoice?", "Yes, from the billing page."),
        ]
    )
    + "]}"
)

TRANSCRIPTS_JSONL = f"""{{"conversation_id": "c1", "role": "customer", "text": "Can I pay by invoice?"}}
{{"conversation_id": "c1", "role": "agent", "text": "Yes, from the billing page."}}
{{"conversation_id": "c2", "role": "customer", "text": "{CANARY} here, hello?"}}
{{"role": "agent", "text": "A reply to nobody, {CANARY}."}}
{{"conversation_id": "c3", "role": "customer", "text": "Is there an API?"}}
{{"conversation_id": "c3", "role": "agent", "text": "Yes, see the docs."}}
"""

TRANSCRIPTS_CSV = f"""conversation_id,role,text,timestamp
c1,customer,Can I pay by invoice?,2024-05-06T09:00:00Z
c1,agent,"Yes, from the billing page.",2024-05-06T09:01:00Z
c2,customer,{CANARY} here,
c3,customer,Is there an API?,
c3,agent,"Yes, see the docs.",
"""

# Each file's bad items are named beside it.
FILE_CASES = {
    # an empty answer
    "csv-qa": FileCase(CsvQaConnector, "faq.csv", CSV_QA.encode(), records=2, skipped=1),
    # a line of broken JSON, a question without an answer
    "jsonl-qa": FileCase(JsonlQaConnector, "faq.jsonl", JSONL_QA.encode(), records=2, skipped=2),
    # a question with no answer below it
    "markdown-faq": FileCase(MarkdownFaqConnector, "faq.md", MARKDOWN_FAQ.encode(), records=2, skipped=1),
    # none: a document is read whole or refused (two sections, two chunks)
    "document": FileCase(DocumentConnector, "guide.md", DOCUMENT.encode(), records=2, skipped=0),
    # a ticket without an agent's reply, a line of broken JSON
    "zendesk": FileCase(ZendeskConnector, "tickets.ndjson", ZENDESK_NDJSON.encode(), records=2, skipped=2),
    # a conversation without an agent's reply
    "intercom": FileCase(IntercomConnector, "conversations.json", INTERCOM_JSON.encode(), records=2, skipped=1),
    # a conversation without an agent's reply, a message of no conversation
    "transcripts-jsonl": FileCase(TranscriptJsonlConnector, "chats.jsonl", TRANSCRIPTS_JSONL.encode(), 2, 2),
    # a conversation without an agent's reply
    "transcripts-csv": FileCase(TranscriptCsvConnector, "calls.csv", TRANSCRIPTS_CSV.encode(), records=2, skipped=1),
}

# What a file can be instead of what its name says. A document is also tried as each format it reads.
GARBLED = {
    "empty": lambda good: b"",
    "whitespace": lambda good: b" \n\t\n",
    "binary": lambda good: (FIXTURES / "bad" / "binary.txt").read_bytes(),
    "latin-1": lambda good: (FIXTURES / "bad" / "latin1.txt").read_bytes(),
    "broken-pdf": lambda good: (FIXTURES / "bad" / "broken.pdf").read_bytes(),
    "cut-in-half": lambda good: good[: len(good) // 2],
    "json-of-another-shape": lambda good: b'{"items": [1, "two", null, {"x": []}]}\n[3, 4]\n',
    "csv-of-another-shape": lambda good: b'a,b\n1,"2\n',
}
GARBLED_FILES = [(case_id, FILE_CASES[case_id].name) for case_id in FILE_CASES] + [
    ("document", name) for name in ("manual.pdf", "manual.docx", "page.html", "notes.txt")
]


@dataclass
class Items:
    """What a connector yielded, sorted into records and skips."""

    records: list[RawRecord] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    @classmethod
    def of(cls, items: Iterable[RawRecord | Skipped]) -> Items:
        sorted_out = cls()
        for item in items:
            assert isinstance(item, RawRecord | Skipped), f"a connector yielded {type(item).__name__}"
            if isinstance(item, RawRecord):
                sorted_out.records.append(item)
            else:
                sorted_out.skipped.append(item)
        return sorted_out

    def assert_skips_are_data(self) -> None:
        """Each skip names where it was and why, and quotes no raw content."""
        for skip in self.skipped:
            assert skip.where.strip() and skip.reason.strip(), skip
            assert CANARY not in skip.where and CANARY not in skip.reason, skip


def read(connector: FileConnector, name: str, content: bytes) -> Items:
    return Items.of(connector.read(Path(name), content))


# --- file connectors -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", FILE_CASES.values(), ids=FILE_CASES.keys())
def test_when_a_file_holds_bad_items_then_they_are_skipped_with_a_reason_and_the_counts_reconcile(
    case: FileCase,
) -> None:
    items = read(case.connector(), case.name, case.content)

    assert (len(items.records), len(items.skipped)) == (case.records, case.skipped), items.skipped
    items.assert_skips_are_data()
    assert len({record.external_id for record in items.records}) == len(items.records)  # ids are unique


@pytest.mark.parametrize("case", FILE_CASES.values(), ids=FILE_CASES.keys())
def test_when_ingest_meets_the_file_then_it_picks_this_connector(case: FileCase) -> None:
    # The files above are what ingest reads with each connector, so the contract covers what ingest stores.
    assert type(connector_for(Path(case.name), case.content, DocumentConnector())) is case.connector


@pytest.mark.parametrize("garble", GARBLED.values(), ids=GARBLED.keys())
@pytest.mark.parametrize(("case_id", "name"), GARBLED_FILES, ids=[f"{c}-{n}" for c, n in GARBLED_FILES])
def test_when_a_file_is_garbled_then_the_connector_refuses_it_with_a_reason_or_skips_never_crashes(
    case_id: str, name: str, garble: Callable[[bytes], bytes]
) -> None:
    content = garble(FILE_CASES[case_id].content)
    try:
        items = read(FILE_CASES[case_id].connector(), name, content)
    except UnreadableFile as error:
        assert str(error).strip()  # the reason ingest reports for the file
    else:
        items.assert_skips_are_data()


# --- sources: every connector in the registry ---------------------------------------------------------------


def test_when_a_source_type_can_be_configured_then_the_registry_has_its_connector() -> None:
    (union, *_) = typing.get_args(AnySourceConfig)  # Annotated[A | B | C, Field(discriminator="type")]
    configurable = {
        value for config in typing.get_args(union) for value in typing.get_args(config.model_fields["type"].annotation)
    }
    assert configurable == set(CONNECTORS)


@dataclass
class Source:
    """A registered connector over a small source holding `records` good items and `skipped` bad ones."""

    connector: Connector
    records: int
    skipped: int
    # The same source, with its input garbled, and unreachable or misconfigured.
    garbled: Callable[[], Connector]
    unreachable: Callable[[], Connector]


@dataclass
class Synced:
    items: Items
    cursor: str | None


def sync(connector: Connector, cursor: str | None = None) -> Synced:
    batches: list[SyncBatch] = list(connector.sync(cursor))
    cursors = [batch.cursor for batch in batches if batch.cursor is not None]
    return Synced(Items.of(item for batch in batches for item in batch.items), cursors[-1] if cursors else cursor)


# What each folder source holds: the files above, as their connectors' cases. A new source type needs its entry.
FOLDER_FILES = {
    "files": ("csv-qa", "document"),  # Q&A files and documents, as `ftbot ingest PATH` reads them
    "zendesk": ("zendesk",),
    "intercom": ("intercom",),
    "transcripts": ("transcripts-jsonl", "transcripts-csv"),
}


def _folder_source(kind: str, cases: list[FileCase], tmp_path: Path) -> Source:
    def connector(folder: Path) -> Connector:
        config: AnySourceConfig = (
            FilesSourceConfig(name=kind, path=folder)
            if kind == "files"
            else ExportSourceConfig(name=kind, type=kind, path=folder)  # type: ignore[arg-type]
        )
        return build_connector(config, Settings())

    def folder_of(name: str, files: dict[str, bytes]) -> Path:
        folder = tmp_path / name
        folder.mkdir()
        for file_name, content in files.items():
            (folder / file_name).write_bytes(content)
        return folder

    good = folder_of("good", {case.name: case.content for case in cases})
    garbled = {"binary.txt": GARBLED["binary"](b""), cases[0].name: GARBLED["cut-in-half"](cases[0].content)}
    return Source(
        connector(good),
        records=sum(case.records for case in cases),
        skipped=sum(case.skipped for case in cases),
        garbled=lambda: connector(folder_of("garbled", garbled)),
        unreachable=lambda: connector(tmp_path / "no such folder"),
    )


def _slack_source(standin: SlackStandIn, monkeypatch: pytest.MonkeyPatch) -> Source:
    standin.workspace.add_user("bob", "Bob Ferreira", user_id=BOB)
    standin.workspace.join(GENERAL, BOB)
    answered = standin.post_message(ALICE, GENERAL, "How do I reach the VPN?").ts
    standin.post_message(BOB, GENERAL, "Use the VPN portal.", thread_ts=answered)  # the expert's answer
    standin.post_message(ALICE, GENERAL, "Where is the printer?")  # unanswered: kept as context
    standin.post_message(ALICE, GENERAL, f"Lunch at noon, {CANARY}")  # chatter: skipped

    def connector(token: str) -> Connector:
        monkeypatch.setenv("SLACK_BOT_TOKEN", token)
        monkeypatch.setenv("SLACK_API_URL", standin.api_url)
        return build_connector(SlackSourceConfig(name="slack", experts=(BOB,)), Settings())

    return Source(
        connector(standin.bot_token),
        records=2,
        skipped=1,
        garbled=lambda: GarbledCursor(connector(standin.bot_token)),
        unreachable=lambda: connector("xoxb-revoked"),
    )


class GarbledCursor:
    """A connector handed a cursor it never wrote (a corrupted or hand-edited `sources.cursor`)."""

    def __init__(self, connector: Connector) -> None:
        self.kind, self._connector = connector.kind, connector

    def sync(self, cursor: str | None) -> Iterator[SyncBatch]:
        return self._connector.sync(f'{{"v": 1, "channels": {{"{GENERAL}": {{"done": "yesterday"}}}}}}')


@pytest.fixture
def standin() -> Iterator[SlackStandIn]:
    with SlackStandIn() as running:
        yield running


@pytest.fixture(params=sorted(CONNECTORS))
def source(request: pytest.FixtureRequest, tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch) -> Source:
    """Each registered connector over its small source (Slack: the local stand-in; others: a folder)."""
    if request.param == "slack":
        return _slack_source(request.getfixturevalue("standin"), monkeypatch)
    return _folder_source(request.param, [FILE_CASES[case] for case in FOLDER_FILES[request.param]], tmp_path)


def test_when_a_source_holds_bad_items_then_they_are_skipped_with_a_reason_and_the_counts_reconcile(
    source: Source,
) -> None:
    items = sync(source.connector).items

    assert (len(items.records), len(items.skipped)) == (source.records, source.skipped), items.skipped
    items.assert_skips_are_data()


def test_when_a_source_is_synced_again_from_its_cursor_then_nothing_new_comes(source: Source) -> None:
    first = sync(source.connector)
    again = sync(source.connector, first.cursor)

    if first.cursor is not None:  # an incremental source: only what changed since, which is nothing
        assert again.items.records == []
    else:  # a source read whole each time: the same records, each with the change key the engine stored
        seen = {record.external_id: record.change_key() for record in first.items.records}
        assert {record.external_id: record.change_key() for record in again.items.records} == seen
        assert None not in seen.values()  # without one, the engine would anonymize them all again


def test_when_a_source_is_garbled_then_its_sync_skips_with_reasons_and_never_crashes(source: Source) -> None:
    items = sync(source.garbled()).items

    items.assert_skips_are_data()
    assert items.records or items.skipped  # it said what it made of the input


def test_when_a_source_is_unreachable_then_the_sync_stops_with_a_reason(source: Source) -> None:
    with pytest.raises(SourceUnavailable) as stopped:
        sync(source.unreachable())

    assert str(stopped.value).strip()
