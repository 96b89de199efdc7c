"""billing: rooms' rate cards and their versions, bookings' charges; users' billing tag

Revision ID: 0220
Revises: 0210
Create Date: 2026-12-07 20:30:00
"""

import sqlalchemy as sa
from alembic import op

import signage.db

revision = '0220'
down_revision = '0210'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'rate_cards',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('room_id', sa.Integer(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('rules', sa.JSON(), nullable=False),
        sa.Column('cancel_free_hours', sa.Integer(), nullable=False),
        sa.Column('cancel_percent', sa.Integer(), nullable=False),
        sa.Column('updated_at', signage.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('updated_by', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['room_id'], ['rooms.id'], name=op.f('fk_rate_cards_room_id_rooms'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['updated_by'], ['users.id'], name=op.f('fk_rate_cards_updated_by_users'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_rate_cards')),
        sa.UniqueConstraint('room_id', name=op.f('uq_rate_cards_room_id')),
    )
    op.create_table(
        'rate_card_versions',
        sa.Column('card_id', sa.Integer(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('rules', sa.JSON(), nullable=False),
        sa.Column('cancel_free_hours', sa.Integer(), nullable=False),
        sa.Column('cancel_percent', sa.Integer(), nullable=False),
        sa.Column('created_at', signage.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('created_by', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['card_id'], ['rate_cards.id'], name=op.f('fk_rate_card_versions_card_id_rate_cards'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_rate_card_versions_created_by_users'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('card_id', 'version', name=op.f('pk_rate_card_versions')),
    )
    op.create_table(
        'booking_charges',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('booking_id', sa.Integer(), nullable=False),
        sa.Column('room_id', sa.Integer(), nullable=False),
        sa.Column('card_id', sa.Integer(), nullable=False),
        sa.Column('card_version', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=10), nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('amount', sa.Integer(), nullable=False),
        sa.Column('difference', sa.Integer(), nullable=False),
        sa.Column('lines', sa.JSON(), nullable=False),
        sa.Column('event_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
        sa.Column('at', signage.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['booking_id'], ['bookings.id'], name=op.f('fk_booking_charges_booking_id_bookings'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_booking_charges')),
        sa.UniqueConstraint('event_id', name=op.f('uq_booking_charges_event_id')),
    )
    op.create_index(op.f('ix_booking_charges_booking_id'), 'booking_charges', ['booking_id'], unique=False)
    with op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('billing_tag', sa.String(length=60), server_default='', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('users') as batch:
        batch.drop_column('billing_tag')
    op.drop_index(op.f('ix_booking_charges_booking_id'), table_name='booking_charges')
    op.drop_table('booking_charges')
    op.drop_table('rate_card_versions')
    op.drop_table('rate_cards')
