"""erasure: keyed hashes of personal data per row, an append-only erasure log, marks on model versions

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 02:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

# The erasure log is append-only: the database itself refuses to change or remove an entry.
_SQLITE_GUARDS = [
    f"CREATE TRIGGER erasure_log_no_{verb.lower()} BEFORE {verb} ON erasure_log "
    "BEGIN SELECT RAISE(ABORT, 'the erasure log is append-only'); END"
    for verb in ("UPDATE", "DELETE")
]
_POSTGRES_GUARD = """
CREATE FUNCTION erasure_log_append_only() RETURNS trigger AS $$
BEGIN RAISE EXCEPTION 'the erasure log is append-only'; END; $$ LANGUAGE plpgsql;
CREATE TRIGGER erasure_log_append_only BEFORE UPDATE OR DELETE ON erasure_log
FOR EACH ROW EXECUTE FUNCTION erasure_log_append_only();
"""


def upgrade() -> None:
    op.create_table(
        'personal_data_keys',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('digest', sa.String(length=64), nullable=False),
        sa.Column('record_id', sa.Integer(), nullable=True),
        sa.Column('answer_id', sa.Integer(), nullable=True),
        sa.Column('feedback_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['record_id'], ['records.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['answer_id'], ['answers.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['feedback_id'], ['feedback.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    for column in ('digest', 'record_id', 'answer_id', 'feedback_id'):
        op.create_index(f'ix_personal_data_keys_{column}', 'personal_data_keys', [column])
    op.create_table(
        'erasure_log',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.Column('reason', sa.String(length=16), nullable=False),
        sa.Column('requested_by', sa.String(length=64), nullable=False),
        sa.Column('value_kinds', sa.String(length=128), nullable=False),
        sa.Column('counts', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(_POSTGRES_GUARD)
    else:
        for statement in _SQLITE_GUARDS:
            op.execute(statement)
    with op.batch_alter_table('model_versions') as batch:
        batch.add_column(sa.Column('trained_on_erased_at', sa.DateTime(), nullable=True))
        batch.add_column(sa.Column('adapter_deleted_at', sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('model_versions') as batch:
        batch.drop_column('adapter_deleted_at')
        batch.drop_column('trained_on_erased_at')
    op.drop_table('erasure_log')
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP FUNCTION erasure_log_append_only()')
    for column in ('digest', 'record_id', 'answer_id', 'feedback_id'):
        op.drop_index(f'ix_personal_data_keys_{column}', table_name='personal_data_keys')
    op.drop_table('personal_data_keys')
