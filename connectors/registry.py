"""Which connector reads a configured source: one map from `type` in ftbot.toml to its connector class.

To add a source: its config class in ftbot/config.py, its connector module here in connectors/, one line in
CONNECTORS. A connector class has `from_config(config, settings)`, and its module is imported only when a
source of its type is built (Slack's client library is not loaded for a folder of exports).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Protocol, cast

from connectors.base import Connector
from ftbot.config import Settings
from ftbot.source_config import AnySourceConfig


class ConnectorClass(Protocol):
    """What CONNECTORS names: a class that builds its connector from one `[[sources]]` entry."""

    def from_config(self, config: AnySourceConfig, settings: Settings) -> Connector: ...


@dataclass(frozen=True)
class ConnectorMapping:
    """Where a connector class lives: imported on first use."""

    module: str
    class_name: str


_FOLDER = ConnectorMapping("connectors.folder", "FolderConnector")

# A source's `type` -> its connector class.
CONNECTORS: dict[str, ConnectorMapping] = {
    "slack": ConnectorMapping("connectors.slack_history", "SlackHistoryConnector"),
    "files": _FOLDER,
    "zendesk": _FOLDER,
    "intercom": _FOLDER,
    "transcripts": _FOLDER,
}


def connector_class(source_type: str) -> ConnectorClass:
    """The connector class for a source type, its module imported now."""
    mapping = CONNECTORS.get(source_type)
    if mapping is None:
        raise ValueError(f"no connector for source type {source_type!r}: add one to connectors.registry.CONNECTORS")
    return cast(ConnectorClass, getattr(importlib.import_module(mapping.module), mapping.class_name))


def build_connector(config: AnySourceConfig, settings: Settings) -> Connector:
    """The connector for one `[[sources]]` entry."""
    return connector_class(config.type).from_config(config, settings)
