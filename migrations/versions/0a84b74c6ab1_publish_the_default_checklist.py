"""publish the default checklist on an install that has none

A fresh install has its checklist (CHECKLIST.md's, version 1) once `flask db upgrade` has run, so that no page has
to make it on a GET. An install that already has a checklist is left as it is.

Revision ID: 0a84b74c6ab1
Revises: a3d9f0c2b7e1
Create Date: 2026-12-02 12:00:00

"""
import sqlalchemy as sa
from alembic import op

import tracker.models
from tracker import clock
from tracker.services.checklist import DEFAULT_NAME, default_items

# revision identifiers, used by Alembic.
revision = '0a84b74c6ab1'
down_revision = 'a3d9f0c2b7e1'
branch_labels = None
depends_on = None

# The tables as this revision knows them, not the models as they may later become.
template = sa.table('checklist_template', sa.column('id', sa.Integer), sa.column('version', sa.Integer),
                    sa.column('name', sa.String), sa.column('created_at', tracker.models.UTCDateTime(timezone=True)))
item = sa.table('checklist_item', sa.column('template_id', sa.Integer), sa.column('key', sa.String),
                sa.column('label_ko', sa.String), sa.column('label_en', sa.String), sa.column('category', sa.String),
                sa.column('critical', sa.Boolean), sa.column('modes', sa.String), sa.column('position', sa.Integer))


def upgrade():
    conn = op.get_bind()
    if conn.scalar(sa.select(sa.func.count()).select_from(template)):
        return
    conn.execute(template.insert().values(version=1, name=DEFAULT_NAME, created_at=clock.now()))
    tpl_id = conn.scalar(sa.select(template.c.id).where(template.c.version == 1))
    op.bulk_insert(item, [{'template_id': tpl_id, 'position': pos, 'key': it['key'], 'label_ko': it['label_ko'],
                           'label_en': it['label_en'], 'category': it['category'], 'critical': it['critical'],
                           'modes': ','.join(it['modes'])} for pos, it in enumerate(default_items())])


def downgrade():
    # Inspections may already point at the checklist: it stays, as data published through the app would.
    pass
