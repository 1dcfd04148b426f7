"""The `[[sources]]` tables of ftbot.toml: the places `ftbot ingest` syncs from, one model per kind of source."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class SourceConfig(BaseModel):
    """One `[[sources]]` entry of ftbot.toml: a place `ftbot ingest` syncs from. `name` is its handle."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    # Records older than this (by their upstream date, else when stored) are erased like a `ftbot forget`;
    # None: the top-level retention_days.
    retention_days: float | None = Field(None, gt=0)


class SlackSourceConfig(SourceConfig):
    """Slack history: channel threads become Q&A pairs, unanswered threads context."""

    type: Literal["slack"] = "slack"
    # Public channels to read (ids such as C012AB3CD, or names); empty: every public channel the bot is in.
    channels: tuple[str, ...] = ()
    # Private channels are read only when listed here, by id or name (the bot must be a member).
    private_channels: tuple[str, ...] = ()
    # Slack user ids whose reply counts as the answer when no reply is marked ✅ or upvoted.
    experts: tuple[str, ...] = ()
    # Messages per conversations.history / conversations.replies page (Slack allows up to 1000; 200 is
    # what Slack recommends).
    page_size: int = Field(200, ge=1, le=1000)
    # Incremental syncs also re-read threads started this many days before the cursor, so late replies
    # and reactions to recent questions are picked up; older changes wait for a full sync.
    thread_lookback_days: float = Field(7.0, ge=0)


class ExportSourceConfig(SourceConfig):
    """Support-desk exports: a file or a folder of them, read again on every sync."""

    type: Literal["zendesk", "intercom", "transcripts"]
    path: Path


class FilesSourceConfig(SourceConfig):
    """A folder (or file) of Q&A files and documents, as `ftbot ingest PATH` reads them."""

    type: Literal["files"] = "files"
    path: Path


AnySourceConfig = Annotated[SlackSourceConfig | ExportSourceConfig | FilesSourceConfig, Field(discriminator="type")]
