"""the site's replies to its actions through a signed link (조치 보고, issue 16)

Revision ID: b16e04d5e6f7
Revises: b16e03c4d5e6
Create Date: 2026-12-06 08:30:00

"""
import sqlalchemy as sa
from alembic import op

import tracker.models

revision = 'b16e04d5e6f7'
down_revision = 'b16e03c4d5e6'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'action_reply',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('action_id', sa.Integer(), nullable=False),
        sa.Column('site_id', sa.Integer(), nullable=False),
        sa.Column('note', sa.Text(), nullable=False),
        sa.Column('photo1_sha256', sa.String(length=64), nullable=True),
        sa.Column('photo2_sha256', sa.String(length=64), nullable=True),
        sa.Column('created_at', tracker.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('outcome', sa.String(length=10), nullable=True),
        sa.Column('reviewed_at', tracker.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column('reviewed_by_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['action_id'], ['action.id'], name=op.f('fk_action_reply_action_id_action')),
        sa.ForeignKeyConstraint(['reviewed_by_id'], ['user.id'], name=op.f('fk_action_reply_reviewed_by_id_user')),
        sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_action_reply_site_id_site')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_action_reply')))
    with op.batch_alter_table('action_reply', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_action_reply_action_id'), ['action_id'], unique=False)
        batch_op.create_index('ix_action_reply_site_created', ['site_id', 'created_at'], unique=False)


def downgrade():
    op.drop_table('action_reply')
