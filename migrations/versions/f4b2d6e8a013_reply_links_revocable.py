"""reply links a lead can end (issue 16 follow-up): site.reply_link_gen

Every site starts at generation 0, which is what the links already sent carry (a link made before this revision has
no generation and counts as 0), so that no link in anyone's mailbox stops working with the upgrade.

Revision ID: f4b2d6e8a013
Revises: e3a1c5d7f901
Create Date: 2026-12-06 12:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = 'f4b2d6e8a013'
down_revision = 'e3a1c5d7f901'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('site', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reply_link_gen', sa.Integer(), server_default='0', nullable=False))


def downgrade():
    with op.batch_alter_table('site', schema=None) as batch_op:
        batch_op.drop_column('reply_link_gen')
