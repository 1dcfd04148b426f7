"""incremental sync of configured sources

sources: last_error, sync_generation, cursor as Text (a full sync removes records it did not see).
records: url, upstream timestamps and change key (so answers can cite and syncs can skip unchanged items),
sync_generation.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21 14:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sources') as batch:
        batch.add_column(sa.Column('last_error', sa.Text(), nullable=True))
        batch.add_column(sa.Column('sync_generation', sa.Integer(), nullable=False, server_default='0'))
        # A Slack cursor holds a position per channel: more than 256 characters.
        batch.alter_column('cursor', existing_type=sa.String(length=256), type_=sa.Text(), existing_nullable=True)
    with op.batch_alter_table('records') as batch:
        batch.add_column(sa.Column('url', sa.String(length=1024), nullable=False, server_default=''))
        batch.add_column(sa.Column('source_created_at', sa.DateTime(), nullable=True))
        batch.add_column(sa.Column('source_updated_at', sa.DateTime(), nullable=True))
        batch.add_column(sa.Column('change_key', sa.String(length=128), nullable=True))
        batch.add_column(sa.Column('sync_generation', sa.Integer(), nullable=False, server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('records') as batch:
        batch.drop_column('sync_generation')
        batch.drop_column('change_key')
        batch.drop_column('source_updated_at')
        batch.drop_column('source_created_at')
        batch.drop_column('url')
    with op.batch_alter_table('sources') as batch:
        batch.alter_column('cursor', existing_type=sa.Text(), type_=sa.String(length=256), existing_nullable=True)
        batch.drop_column('sync_generation')
        batch.drop_column('last_error')
