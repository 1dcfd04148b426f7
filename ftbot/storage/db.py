"""The engine, sessions, and schema migration to head (Alembic)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, make_url
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# The one PostgreSQL driver ftbot ships (psycopg 3); a plain postgresql:// URL would ask for psycopg2.
POSTGRES_DRIVER = "postgresql+psycopg"


class Database:
    """An engine plus a session factory; constructing it brings the schema to the latest migration."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        url = with_driver(url)
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.url = url
        self.engine = _make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        if migrate:
            upgrade(self.engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: commits on success, rolls back on any error."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()


def with_driver(url: str) -> str:
    """postgresql:// and postgres:// URLs (as hosting providers hand them out) get ftbot's driver, psycopg."""
    parsed = make_url(url)
    if parsed.drivername not in ("postgresql", "postgres"):
        return url
    return parsed.set(drivername=POSTGRES_DRIVER).render_as_string(hide_password=False)


def _make_engine(url: str) -> Engine:
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(url, connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        # WAL lets the bot read while a training run writes; foreign keys make cascades real.
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = None
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision` in place (Alembic)."""
    _migrate(engine, command.upgrade, revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Take the schema back to `revision` in place (Alembic); what later revisions added is dropped."""
    _migrate(engine, command.downgrade, revision)


def _migrate(engine: Engine, step: Callable[[Config, str], None], revision: str) -> None:
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # SQLite alters a table by copying it and dropping the old one (Alembic's batch mode); with
            # foreign keys on, that drop would cascade to the rows referencing it (every run's training
            # examples). The pragma only takes effect outside a transaction, hence the commits.
            _sqlite_foreign_keys(connection, on=False)
        try:
            with connection.begin():  # one transaction: on PostgreSQL a failed migration leaves nothing behind
                config = alembic_config(engine)
                config.attributes["connection"] = connection
                step(config, revision)
        finally:
            if sqlite:
                _sqlite_foreign_keys(connection, on=True)


def _sqlite_foreign_keys(connection: Connection, *, on: bool) -> None:
    connection.exec_driver_sql(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    connection.commit()
