"""user: reminder preferences (the inspector's day-before reminder, the lead's digest), on by default

Existing users get both switched on, as new ones do: the server default fills the rows already there.

Revision ID: b5e2c8d41f07
Revises: 420d47cf650f
Create Date: 2026-12-06 07:40:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'b5e2c8d41f07'
down_revision = '420d47cf650f'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mail_task_reminder', sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.add_column(sa.Column('mail_lead_digest', sa.Boolean(), server_default=sa.true(), nullable=False))


def downgrade():
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_column('mail_lead_digest')
        batch_op.drop_column('mail_task_reminder')
