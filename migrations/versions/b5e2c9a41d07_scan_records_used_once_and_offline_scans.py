"""scan records used once (used_scan) and the offline scan's own field (inspection.offline_scanned_at)

A scan record proves presence for one inspection: its nonce goes into used_scan, unique. A code scanned with no
signal is a weaker proof, at the phone's time, kept apart from qr_scanned_at.

Revision ID: b5e2c9a41d07
Revises: b5e2c8d41f07
Create Date: 2026-12-06 07:20:00

"""
import sqlalchemy as sa
from alembic import op

from tracker.models import UTCDateTime

# revision identifiers, used by Alembic.
revision = 'b5e2c9a41d07'
down_revision = 'b5e2c8d41f07'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'used_scan',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('nonce', sa.String(length=32), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('site_id', sa.Integer(), nullable=False),
        sa.Column('used_at', UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_used_scan_site_id_site')),
        sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_used_scan_user_id_user')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_used_scan')),
        sa.UniqueConstraint('nonce', name=op.f('uq_used_scan_nonce')),
    )
    with op.batch_alter_table('inspection', schema=None) as batch_op:
        batch_op.add_column(sa.Column('offline_scanned_at', UTCDateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('inspection', schema=None) as batch_op:
        batch_op.drop_column('offline_scanned_at')
    op.drop_table('used_scan')
