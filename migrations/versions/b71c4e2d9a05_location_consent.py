"""location_consent: each user's answers to recording their position at on-site checks (issue 13)

Revision ID: b71c4e2d9a05
Revises: 0a84b74c6ab1
Create Date: 2026-12-06 07:30:00

"""
from alembic import op
import sqlalchemy as sa

import tracker.models


# revision identifiers, used by Alembic.
revision = 'b71c4e2d9a05'
down_revision = '0a84b74c6ab1'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'location_consent',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('given', sa.Boolean(), nullable=False),
        sa.Column('at', tracker.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('withdrawn_at', tracker.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_location_consent_user_id_user')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_location_consent')),
    )
    with op.batch_alter_table('location_consent', schema=None) as batch_op:
        batch_op.create_index('ix_location_consent_user', ['user_id', 'id'], unique=False)


def downgrade():
    with op.batch_alter_table('location_consent', schema=None) as batch_op:
        batch_op.drop_index('ix_location_consent_user')
    op.drop_table('location_consent')
