"""Which connector reads a configured source: a lazy map from `type` in ftbot.toml to its builder."""

from __future__ import annotations

from pathlib import Path

from connectors.base import Connector
from ftbot.config import AnySourceConfig, ExportSourceConfig, FilesSourceConfig, Settings, SlackSourceConfig


def build_connector(config: AnySourceConfig, settings: Settings) -> Connector:
    """The connector for one `[[sources]]` entry. Imports only what that source needs."""
    if isinstance(config, SlackSourceConfig):
        from connectors.slack_history import SlackHistoryConnector, slack_client

        return SlackHistoryConnector(config, slack_client(settings))
    from connectors.folder import FolderConnector

    if isinstance(config, FilesSourceConfig):
        from connectors.ingest import DocumentConnector, connector_for

        documents = DocumentConnector(settings.retrieval.chunk_chars, settings.retrieval.chunk_overlap)
        return FolderConnector(
            "files", _resolve(config.path), lambda path, content: connector_for(path, content, documents)
        )
    assert isinstance(config, ExportSourceConfig)
    from connectors.exports import export_reader

    reader = export_reader(config.type)
    return FolderConnector(config.type, _resolve(config.path), lambda path, content: reader)


def _resolve(path: Path) -> Path:
    return path.expanduser().resolve()
