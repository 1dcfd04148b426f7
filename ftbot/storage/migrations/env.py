"""Alembic environment: runs migrations on the connection ftbot hands in (see ftbot.storage.db.upgrade)."""

from alembic import context

from ftbot.storage.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through ftbot.storage.db.upgrade(), which supplies the connection")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite needs batch mode to alter tables
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
