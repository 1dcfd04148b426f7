"""Which connector reads a configured source: a lazy map from `type` in ftbot.toml to its builder."""

from __future__ import annotations

from pathlib import Path

from connectors.base import Connector, FileConnector
from connectors.folder import FolderConnector, ReaderFor
from ftbot.config import AnySourceConfig, ExportSourceConfig, FilesSourceConfig, Settings, SlackSourceConfig


def build_connector(config: AnySourceConfig, settings: Settings) -> Connector:
    """The connector for one `[[sources]]` entry. Imports only what that source needs."""
    if isinstance(config, SlackSourceConfig):
        from connectors.slack_history import SlackHistoryConnector, slack_client

        return SlackHistoryConnector(config, slack_client(settings))
    if isinstance(config, FilesSourceConfig):
        from connectors.ingest import DocumentConnector, connector_for

        documents = DocumentConnector(settings.retrieval.chunk_chars, settings.retrieval.chunk_overlap)
        return FolderConnector(
            "files", _resolve(config.path), lambda path, content: connector_for(path, content, documents)
        )
    assert isinstance(config, ExportSourceConfig)
    return FolderConnector(config.type, _resolve(config.path), _export_reader(config.type))


def _export_reader(kind: str) -> ReaderFor:
    """Every file of an export source is read as that vendor's export, whatever its name."""
    from connectors.intercom import IntercomConnector
    from connectors.transcripts import TranscriptCsvConnector, TranscriptJsonlConnector
    from connectors.zendesk import ZendeskConnector

    def reader_for(path: Path, content: bytes) -> FileConnector:
        if kind == "zendesk":
            return ZendeskConnector()
        if kind == "intercom":
            return IntercomConnector()
        return TranscriptCsvConnector() if path.suffix.lower() == ".csv" else TranscriptJsonlConnector()

    return reader_for


def _resolve(path: Path) -> Path:
    return path.expanduser().resolve()
