"""indexes that keep booking queries off the history: by end (a day's bookings) and by
room and end of buffer (a room's bookings, what is in a new booking's way), instead of by
room and start (which read a room's whole history); and by status and start (the
approvals inbox: a partial index of the pending ones by start)

Revision ID: 0110
Revises: 0100
Create Date: 2026-11-25 16:00:00
"""

import sqlalchemy as sa
from alembic import op


revision = '0110'
down_revision = '0100'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_bookings_end_at', 'bookings', ['end_at'], unique=False)
    op.create_index('ix_bookings_room_id_blocked_until', 'bookings', ['room_id', 'blocked_until'], unique=False)
    pending = sa.text("status = 'pending'")
    op.create_index(
        'ix_bookings_pending_start_at', 'bookings', ['start_at'], sqlite_where=pending, postgresql_where=pending
    )
    op.drop_index('ix_bookings_room_id_start_at', table_name='bookings')


def downgrade() -> None:
    op.create_index('ix_bookings_room_id_start_at', 'bookings', ['room_id', 'start_at'], unique=False)
    op.drop_index('ix_bookings_pending_start_at', table_name='bookings')
    op.drop_index('ix_bookings_room_id_blocked_until', table_name='bookings')
    op.drop_index('ix_bookings_end_at', table_name='bookings')
