"""the service desk: rooms out of service (with a reason), and the tasks a meeting's wanted
services make before it starts (one per meeting and start)

Revision ID: 0192
Revises: 0150
Create Date: 2026-12-03 10:00:00
"""

import sqlalchemy as sa
from alembic import op

import signage.db

revision = '0192'
down_revision = '0193'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('rooms') as batch:
        batch.add_column(sa.Column('out_of_service_since', signage.db.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('out_of_service_reason', sa.String(length=500), nullable=False, server_default=''))
    with op.batch_alter_table('desk_tasks') as batch:
        batch.add_column(sa.Column('before_booking_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('before_start_at', signage.db.UTCDateTime(timezone=True), nullable=True))
        batch.create_unique_constraint('uq_desk_tasks_before_booking', ['before_booking_id', 'before_start_at'])


def downgrade() -> None:
    with op.batch_alter_table('desk_tasks') as batch:
        batch.drop_constraint('uq_desk_tasks_before_booking', type_='unique')
        batch.drop_column('before_start_at')
        batch.drop_column('before_booking_id')
    with op.batch_alter_table('rooms') as batch:
        batch.drop_column('out_of_service_reason')
        batch.drop_column('out_of_service_since')
