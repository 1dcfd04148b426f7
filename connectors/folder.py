"""A configured folder (or file) as a source: Q&A files, documents and support-desk exports, re-read each sync.

Every sync is a full one: the folder is the truth, so a removed file's records go. A file whose modification
time is unchanged yields records with the stored `updated_at`, which the sync engine does not re-anonymize.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from connectors.base import SourceUnavailable, SyncBatch, UnreadableFile
from connectors.detect import ReaderFor, connector_for, export_reader
from connectors.documents import DocumentConnector
from ftbot.config import Settings
from ftbot.records import RawRecord, Skipped
from ftbot.source_config import AnySourceConfig, ExportSourceConfig, FilesSourceConfig

# Records per transaction: big enough to batch anonymization and embedding, small enough for flat memory.
BATCH_RECORDS = 256


class FolderConnector:
    """Reads every file below `path` with the connector `reader_for` picks for it."""

    def __init__(self, kind: str, path: Path, reader_for: ReaderFor) -> None:
        self.kind, self.path, self._reader_for = kind, path, reader_for

    @classmethod
    def from_config(cls, config: AnySourceConfig, settings: Settings) -> FolderConnector:
        """A files source reads each file as `ftbot ingest PATH` does; an export source, as its vendor's export."""
        if isinstance(config, FilesSourceConfig):
            documents = DocumentConnector(settings.retrieval.chunk_chars, settings.retrieval.chunk_overlap)
            return cls("files", _resolve(config.path), lambda file, content: connector_for(file, content, documents))
        if isinstance(config, ExportSourceConfig):
            return cls(config.type, _resolve(config.path), export_reader(config.type))
        raise TypeError(f"a {config.type} source is no folder")

    def sync(self, cursor: str | None) -> Iterator[SyncBatch]:
        del cursor  # a folder has no cursor: each sync reads it whole
        if not self.path.exists():
            raise SourceUnavailable(f"{self.path} does not exist")
        for file in iter_files([self.path]):
            yield from self._file_batches(file)

    def _file_batches(self, file: Path) -> Iterator[SyncBatch]:
        name = str(file.relative_to(self.path)) if self.path.is_dir() else file.name
        try:
            content = file.read_bytes()
            modified = datetime.fromtimestamp(file.stat().st_mtime, UTC).replace(tzinfo=None)
            items = self._reader_for(file, content).read(file, content)
            batch: list[RawRecord | Skipped] = []
            for item in items:
                batch.append(_qualified(item, name, modified))
                if len(batch) >= BATCH_RECORDS:
                    yield SyncBatch(batch)
                    batch = []
        except (UnreadableFile, OSError) as error:
            reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
            batch = [Skipped(name, reason)]
        if batch:
            yield SyncBatch(batch)


def _qualified(item: RawRecord | Skipped, file_name: str, modified: datetime) -> RawRecord | Skipped:
    """Ids unique within the folder ("faq.csv row 3"), and the file's time where the record has none."""
    if isinstance(item, Skipped):
        where = item.where if item.where.startswith(Path(file_name).name) else f"{file_name} {item.where}"
        return Skipped(where, item.reason)
    return replace(
        item,
        external_id=f"{file_name} {item.external_id}",
        created_at=item.created_at or modified,
        updated_at=item.updated_at or modified,
    )


def iter_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Files given directly, and every non-hidden file below given folders, in a stable order."""
    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                parts = child.relative_to(path).parts
                if child.is_file() and not any(part.startswith((".", "_")) for part in parts):
                    yield child
        else:
            yield path


def _resolve(path: Path) -> Path:
    return path.expanduser().resolve()
