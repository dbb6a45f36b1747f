"""self-checks of sites (자체점검, issue 16 §5): self_check and self_check_answer, and site.self_check

Both tables are new and start empty; every site starts with weekly self-check requests switched off.

Revision ID: e3a1c5d7f901
Revises: b16e04d5e6f7
Create Date: 2026-12-06 08:20:00

"""
import sqlalchemy as sa
from alembic import op

import tracker.models

revision = 'e3a1c5d7f901'
down_revision = 'b16e04d5e6f7'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('site', schema=None) as batch_op:
        batch_op.add_column(sa.Column('self_check', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_table('self_check',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client_uuid', sa.String(length=36), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('template_id', sa.Integer(), nullable=False),
    sa.Column('week', sa.String(length=8), nullable=False),
    sa.Column('officer_name', sa.String(length=100), nullable=False),
    sa.Column('submitted_at', tracker.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_self_check_site_id_site')),
    sa.ForeignKeyConstraint(['template_id'], ['checklist_template.id'],
                            name=op.f('fk_self_check_template_id_checklist_template')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_self_check')),
    sa.UniqueConstraint('client_uuid', name=op.f('uq_self_check_client_uuid'))
    )
    with op.batch_alter_table('self_check', schema=None) as batch_op:
        batch_op.create_index('ix_self_check_site_week', ['site_id', 'week'], unique=False)
        batch_op.create_index('ix_self_check_week', ['week'], unique=False)
    op.create_table('self_check_answer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('self_check_id', sa.Integer(), nullable=False),
    sa.Column('item_key', sa.String(length=60), nullable=False),
    sa.Column('value', sa.String(length=3), nullable=False),
    sa.CheckConstraint("value in ('yes','no','na')", name=op.f('ck_self_check_answer_value')),
    sa.ForeignKeyConstraint(['self_check_id'], ['self_check.id'],
                            name=op.f('fk_self_check_answer_self_check_id_self_check'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_self_check_answer')),
    sa.UniqueConstraint('self_check_id', 'item_key', name=op.f('uq_self_check_answer_self_check_id_item_key'))
    )


def downgrade():
    op.drop_table('self_check_answer')
    with op.batch_alter_table('self_check', schema=None) as batch_op:
        batch_op.drop_index('ix_self_check_week')
        batch_op.drop_index('ix_self_check_site_week')
    op.drop_table('self_check')
    with op.batch_alter_table('site', schema=None) as batch_op:
        batch_op.drop_column('self_check')
