"""the service desk: service calls and cleaning tasks

Revision ID: 0150
Revises: 0140
Create Date: 2026-12-02 04:30:00.000000
"""

from alembic import op
import sqlalchemy as sa
import signage.db


revision = '0150'
down_revision = '0140'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('desk_room_care',
    sa.Column('room_id', sa.Integer(), nullable=False),
    sa.Column('cleaning', sa.String(length=10), nullable=False),
    sa.Column('walkup_until_clean', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['room_id'], ['rooms.id'], name=op.f('fk_desk_room_care_room_id_rooms'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('room_id', name=op.f('pk_desk_room_care'))
    )
    op.create_table('desk_call_ins',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('booking_id', sa.Integer(), nullable=False),
    sa.Column('room_id', sa.Integer(), nullable=False),
    sa.Column('called_at', signage.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('called_by', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['booking_id'], ['bookings.id'], name=op.f('fk_desk_call_ins_booking_id_bookings'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['room_id'], ['rooms.id'], name=op.f('fk_desk_call_ins_room_id_rooms'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_desk_call_ins'))
    )
    with op.batch_alter_table('desk_call_ins', schema=None) as batch_op:
        batch_op.create_index('ix_desk_call_ins_called_at', ['called_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_desk_call_ins_booking_id'), ['booking_id'], unique=False)

    op.create_table('desk_tasks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('room_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=False),
    sa.Column('origin', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('after_booking_id', sa.Integer(), nullable=True),
    sa.Column('created_at', signage.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('accepted_at', signage.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('accepted_by', sa.String(length=200), nullable=False),
    sa.Column('escalated_at', signage.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('done_at', signage.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('done_by', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['room_id'], ['rooms.id'], name=op.f('fk_desk_tasks_room_id_rooms'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_desk_tasks')),
    sa.UniqueConstraint('after_booking_id', name=op.f('uq_desk_tasks_after_booking_id'))
    )
    with op.batch_alter_table('desk_tasks', schema=None) as batch_op:
        batch_op.create_index('ix_desk_tasks_status_created_at', ['status', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_desk_tasks_room_id'), ['room_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('desk_tasks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_desk_tasks_room_id'))
        batch_op.drop_index('ix_desk_tasks_status_created_at')

    op.drop_table('desk_tasks')
    with op.batch_alter_table('desk_call_ins', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_desk_call_ins_booking_id'))
        batch_op.drop_index('ix_desk_call_ins_called_at')

    op.drop_table('desk_call_ins')
    op.drop_table('desk_room_care')
