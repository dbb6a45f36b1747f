"""the site's prevention officer's e-mail (issue 16)

Revision ID: b16e01a2c3d4
Revises: b5e2c9a41d07
Create Date: 2026-12-06 07:15:00

"""
import sqlalchemy as sa
from alembic import op

revision = 'b16e01a2c3d4'
down_revision = 'b5e2c9a41d07'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('site', schema=None) as batch_op:
        batch_op.add_column(sa.Column('manager_email', sa.String(length=254), nullable=False, server_default=''))


def downgrade():
    with op.batch_alter_table('site', schema=None) as batch_op:
        batch_op.drop_column('manager_email')
