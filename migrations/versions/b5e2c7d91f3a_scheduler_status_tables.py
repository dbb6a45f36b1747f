"""scheduler status: the processes (leader and followers) and each job's last and next run

The leading `flask scheduler` process keeps these up to date; `flask scheduler-status` prints them, and the admin
pages warn when the leader's heartbeat or a job's last run is too old.

Revision ID: b5e2c7d91f3a
Revises: b71c4e2d9a05
Create Date: 2026-12-06 07:30:00

"""
import sqlalchemy as sa
from alembic import op

import tracker.models

# revision identifiers, used by Alembic.
revision = 'b5e2c7d91f3a'
down_revision = 'b71c4e2d9a05'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'scheduler_process',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('host', sa.String(length=255), nullable=False),
        sa.Column('pid', sa.Integer(), nullable=False),
        sa.Column('leading', sa.Boolean(), nullable=False),
        sa.Column('since', tracker.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('last_seen', tracker.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_scheduler_process')),
        sa.UniqueConstraint('host', 'pid', name=op.f('uq_scheduler_process_host_pid')),
    )
    op.create_table(
        'scheduler_job',
        sa.Column('job_id', sa.String(length=40), nullable=False),
        sa.Column('last_run_at', tracker.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column('last_ok', sa.Boolean(), nullable=True),
        sa.Column('last_result', sa.Text(), nullable=False),
        sa.Column('next_run_at', tracker.models.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('job_id', name=op.f('pk_scheduler_job')),
    )


def downgrade():
    op.drop_table('scheduler_job')
    op.drop_table('scheduler_process')
