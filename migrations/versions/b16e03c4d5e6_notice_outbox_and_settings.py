"""the result notice through the outbox: not_before, the inspection and its attachment; admin settings (issue 16)

Revision ID: b16e03c4d5e6
Revises: b16e02b3c4d5
Create Date: 2026-12-06 08:00:00

"""
import sqlalchemy as sa
from alembic import op

import tracker.models

revision = 'b16e03c4d5e6'
down_revision = 'b16e02b3c4d5'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('not_before', tracker.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('inspection_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('attachment', sa.String(length=20), nullable=False, server_default=''))
        batch_op.create_index(batch_op.f('ix_outbox_inspection_id'), ['inspection_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_outbox_inspection_id_inspection'), 'inspection',
                                    ['inspection_id'], ['id'])
    op.create_table(
        'setting',
        sa.Column('key', sa.String(length=60), nullable=False),
        sa.Column('value', sa.String(length=200), nullable=False),
        sa.Column('updated_at', tracker.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_setting')))


def downgrade():
    op.drop_table('setting')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_outbox_inspection_id_inspection'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_outbox_inspection_id'))
        batch_op.drop_column('attachment')
        batch_op.drop_column('inspection_id')
        batch_op.drop_column('not_before')
