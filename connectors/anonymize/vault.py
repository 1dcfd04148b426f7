"""The optional reversible mode: what each record's pseudonyms stood for, encrypted, in a database of its own."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from contextlib import closing, contextmanager
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from ftbot.config import Settings
from ftbot.personal_keys import PSEUDONYM

MAKE_KEY = "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
_KEY_CHECK = b"ftbot pseudonym vault"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS key_check (id INTEGER PRIMARY KEY CHECK (id = 1), token BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS pseudonyms (
    source_uri TEXT NOT NULL,
    external_id TEXT NOT NULL,
    token BLOB NOT NULL,  -- Fernet-encrypted JSON object: pseudonym -> original value
    PRIMARY KEY (source_uri, external_id)
);
"""


class VaultKeyError(Exception):
    """The key is missing, is no Fernet key, or is not the key the vault was written with."""


class PseudonymVault:
    """Per record, each pseudonym's original value, encrypted with a Fernet key, in a SQLite file of its own.

    The file is apart from the main database, so the training data can be copied, backed up or shared without
    it, and without the key its values are unreadable. Records are keyed like the records table: by the
    source's uri and the record's external id. Only a caller holding the key can reveal a text. Nothing here
    logs a value, and error messages never quote one.
    """

    def __init__(self, path: Path, key: str | bytes) -> None:
        self.path = path
        self._fernet = _fernet(key)
        # Owner-only, like a private key: the values are encrypted, but the file says which records had any.
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.touch(mode=0o600, exist_ok=True)
        with self._connect() as db:
            db.executescript(_SCHEMA)
            self._check_key(db)

    def replace_source(self, source_uri: str, originals: Mapping[str, Mapping[str, str]]) -> None:
        """Keep `originals` (external id -> pseudonym -> value) as everything known about the source's records.

        Like ingest, where a changed file replaces all its records, the source's previous entries are dropped.
        """
        with self._connect() as db:
            db.execute("DELETE FROM pseudonyms WHERE source_uri = ?", (source_uri,))
            self._insert(db, source_uri, originals)

    def put_records(self, source_uri: str, originals: Mapping[str, Mapping[str, str]]) -> None:
        """Keep `originals` for these records of the source, replacing what was kept for them before.

        For synced sources, which change record by record; a record without personal data keeps nothing.
        """
        with self._connect() as db:
            self._delete(db, source_uri, originals)
            self._insert(db, source_uri, originals)

    def delete_records(self, source_uri: str, external_ids: Iterable[str]) -> None:
        """Drop what was kept for these records (deleted upstream)."""
        with self._connect() as db:
            self._delete(db, source_uri, external_ids)

    def _insert(self, db: sqlite3.Connection, source_uri: str, originals: Mapping[str, Mapping[str, str]]) -> None:
        rows = [
            (source_uri, external_id, self._fernet.encrypt(json.dumps(dict(table)).encode()))
            for external_id, table in originals.items()
            if table
        ]
        db.executemany("INSERT INTO pseudonyms (source_uri, external_id, token) VALUES (?, ?, ?)", rows)

    @staticmethod
    def _delete(db: sqlite3.Connection, source_uri: str, external_ids: Iterable[str]) -> None:
        db.executemany(
            "DELETE FROM pseudonyms WHERE source_uri = ? AND external_id = ?",
            [(source_uri, external_id) for external_id in external_ids],
        )

    def forget(self, source_uri: str) -> None:
        """Drop everything kept for a source (its file was removed, or its people asked to be forgotten)."""
        self.replace_source(source_uri, {})

    def originals(self, source_uri: str, external_id: str) -> dict[str, str]:
        """The record's pseudonym -> original value table (empty if the record had no personal data)."""
        with self._connect() as db:
            row = db.execute(
                "SELECT token FROM pseudonyms WHERE source_uri = ? AND external_id = ?", (source_uri, external_id)
            ).fetchone()
        if row is None:
            return {}
        table: dict[str, str] = json.loads(self._decrypt(row[0]))
        return table

    def reveal(self, source_uri: str, external_id: str, text: str) -> str:
        """`text` of that record with its pseudonyms replaced by the originals; unknown ones are left as they are."""
        table = self.originals(source_uri, external_id)
        return PSEUDONYM.sub(lambda match: table.get(match.group(), match.group()), text)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        # One short connection per call: safe from any thread, and the file is never held open.
        with closing(sqlite3.connect(self.path)) as db, db:  # the inner `db` commits, or rolls back on error
            yield db

    def _check_key(self, db: sqlite3.Connection) -> None:
        # A vault remembers a token made with its first key, so a wrong key fails here, at start-up.
        row = db.execute("SELECT token FROM key_check WHERE id = 1").fetchone()
        if row is None:
            db.execute("INSERT INTO key_check (id, token) VALUES (1, ?)", (self._fernet.encrypt(_KEY_CHECK),))
        elif self._decrypt(row[0]) != _KEY_CHECK:
            raise VaultKeyError(f"the pseudonym vault {self.path} holds an unexpected key check")

    def _decrypt(self, token: bytes) -> bytes:
        try:
            return self._fernet.decrypt(token)
        except InvalidToken:
            raise VaultKeyError(
                f"FTBOT_PSEUDONYM_KEY is not the key the pseudonym vault {self.path} was written with"
            ) from None


def open_vault(reversible: bool, path: Path, key: str | None) -> PseudonymVault | None:
    """The vault when reversible mode is on, else None; nothing is created when it is off."""
    if not reversible:
        return None
    if not key:
        raise VaultKeyError(f"reversible anonymization needs FTBOT_PSEUDONYM_KEY; make one with: {MAKE_KEY}")
    return PseudonymVault(path, key)


def vault_for(settings: Settings) -> PseudonymVault | None:
    """open_vault with the settings' mode, path and key."""
    key = settings.pseudonym_key.get_secret_value() if settings.pseudonym_key else None
    return open_vault(settings.anonymization_reversible, settings.vault_path, key)


def _fernet(key: str | bytes) -> Fernet:
    try:
        return Fernet(key)
    except (ValueError, TypeError):
        # `from None`: the original message may quote the key.
        raise VaultKeyError(f"FTBOT_PSEUDONYM_KEY is not a Fernet key; make one with: {MAKE_KEY}") from None
