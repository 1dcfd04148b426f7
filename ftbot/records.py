"""Frozen records passed between packages: what a connector yields, before and after anonymization."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal

RecordKind = Literal["qa", "chunk", "chat"]


@dataclass(frozen=True)
class Message:
    role: Literal["system", "user", "assistant"]
    content: str


@dataclass(frozen=True)
class RawRecord:
    """One unit a connector read, still holding raw text. Lives in memory only, never stored or logged."""

    external_id: str  # stable within its source: "row 12", "chunk 3", "line 7"
    kind: RecordKind
    title: str = ""
    text: str = ""  # for chunks
    messages: tuple[Message, ...] = ()  # for qa pairs and chats
    # Where the record lives upstream, so answers can cite it: a Slack permalink, a ticket URL.
    url: str = ""
    # When upstream created and last changed it (naive UTC); an unchanged updated_at skips re-anonymizing.
    created_at: datetime | None = None
    updated_at: datetime | None = None
    # Upstream changes that move no timestamp (a ✅ reaction choosing another answer), as an opaque string.
    version: str = ""

    def texts(self) -> list[str]:
        """Every text field, in a fixed order, so anonymization can pseudonymize them consistently."""
        return [self.title, self.text, *(m.content for m in self.messages)]

    def with_texts(self, texts: list[str]) -> RawRecord:
        """The same record with its texts replaced (the inverse of `texts`)."""
        title, text, *contents = texts
        messages = tuple(Message(m.role, c) for m, c in zip(self.messages, contents, strict=True))
        return replace(self, title=title, text=text, messages=messages)

    def change_key(self) -> str | None:
        """What says the record is unchanged upstream; None when the source can't tell (re-read it)."""
        if self.updated_at is None:
            return None
        return f"{self.updated_at.isoformat()} {self.version}".strip()

    def retrieval_text(self) -> str:
        """The text the model reads as context when this record is retrieved."""
        if self.kind == "chunk":
            return f"{self.title}\n{self.text}".strip() if self.title else self.text
        if self.kind == "qa":
            question, answer = self.messages[0].content, self.messages[-1].content
            return f"Q: {question}\nA: {answer}"
        labels = {"user": "Customer", "assistant": "Agent", "system": "Note"}
        return "\n".join(f"{labels[m.role]}: {m.content}" for m in self.messages)


def qa_question(text: str) -> str | None:
    """The question of a Q&A record's text as RawRecord.retrieval_text writes it ("Q: …\nA: …"), else None."""
    question, separator, _ = text.partition("\nA: ")
    if not separator or not question.startswith("Q: "):
        return None
    return question.removeprefix("Q: ").strip() or None


@dataclass(frozen=True)
class Skipped:
    """A file or record that was not stored, and why. Never holds the raw content."""

    where: str  # "faq.csv row 7", "broken.pdf"
    reason: str


@dataclass
class IngestReport:
    """What one ingest did. Files and records each reconcile: seen = stored + unchanged + skipped."""

    files_seen: int = 0
    files_stored: int = 0
    files_unchanged: int = 0
    files_skipped: int = 0
    records_seen: int = 0
    records_stored: int = 0
    records_skipped: int = 0
    skipped: list[Skipped] = field(default_factory=list)

    @property
    def reconciles(self) -> bool:
        files = self.files_seen == self.files_stored + self.files_unchanged + self.files_skipped
        return files and self.records_seen == self.records_stored + self.records_skipped


def source_uri(name: str) -> str:
    """The `sources.uri` of a configured source; files ingested by path use their absolute path."""
    return f"source:{name}"
