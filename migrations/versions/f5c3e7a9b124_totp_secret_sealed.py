"""TOTP secrets sealed at rest (issue 13 follow-up): user.totp_secret widened to hold a Fernet token

The secrets already stored stay as they are: each is sealed at its user's next good code (services/totp.py), so the
upgrade needs no key and locks no one out.

Revision ID: f5c3e7a9b124
Revises: f4b2d6e8a013
Create Date: 2026-12-06 12:30:00

"""
import sqlalchemy as sa
from alembic import op

revision = 'f5c3e7a9b124'
down_revision = 'f4b2d6e8a013'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.alter_column('totp_secret', existing_type=sa.String(length=64), type_=sa.String(length=200),
                              existing_nullable=True)


def downgrade():
    # A sealed secret does not fit the old width: those users enrol again.
    op.execute(sa.text("UPDATE \"user\" SET totp_secret = NULL, totp_last_step = NULL "
                       "WHERE length(totp_secret) > 64"))
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.alter_column('totp_secret', existing_type=sa.String(length=200), type_=sa.String(length=64),
                              existing_nullable=True)
