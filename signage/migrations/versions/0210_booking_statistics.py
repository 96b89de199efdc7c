"""statistics: when a meeting was ended early, released or cancelled

Revision ID: 0210
Revises: 0195
Create Date: 2026-12-07 14:00:00
"""

import sqlalchemy as sa
from alembic import op

import signage.db

revision = '0210'
down_revision = '0195'
branch_labels = None
depends_on = None

COLUMNS = ('planned_end_at', 'released_at', 'cancelled_at')


def upgrade() -> None:
    with op.batch_alter_table('bookings') as batch:
        for name in COLUMNS:
            batch.add_column(sa.Column(name, signage.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('bookings') as batch:
        for name in reversed(COLUMNS):
            batch.drop_column(name)
