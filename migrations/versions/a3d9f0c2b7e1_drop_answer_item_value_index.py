"""drop ix_answer_item_value

Every figure by checklist item now comes from the rollup summary_week, and the exports find an inspection's answers
by (inspection_id, item_key); nothing reads answers by item and value any more, while every submit paid for the
index (one entry an answer, 17 a submit).

Revision ID: a3d9f0c2b7e1
Revises: c17585096e24
Create Date: 2026-12-02 00:15:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'a3d9f0c2b7e1'
down_revision = 'c17585096e24'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('answer', schema=None) as batch_op:
        batch_op.drop_index('ix_answer_item_value')


def downgrade():
    with op.batch_alter_table('answer', schema=None) as batch_op:
        batch_op.create_index('ix_answer_item_value', ['item_key', 'value'], unique=False)
