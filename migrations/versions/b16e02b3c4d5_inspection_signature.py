"""the officer's optional on-site signature on an inspection (issue 16)

Revision ID: b16e02b3c4d5
Revises: b16e01a2c3d4
Create Date: 2026-12-06 07:30:00

"""
import sqlalchemy as sa
from alembic import op

revision = 'b16e02b3c4d5'
down_revision = 'b16e01a2c3d4'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('inspection', schema=None) as batch_op:
        batch_op.add_column(sa.Column('signature_sha256', sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table('inspection', schema=None) as batch_op:
        batch_op.drop_column('signature_sha256')
