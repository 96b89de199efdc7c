"""face and badge terminals: users' employee numbers, a room's terminal token, the
terminals' idempotency keys

Revision ID: 0193
Revises: 0150
Create Date: 2026-12-03 09:00:00
"""

import sqlalchemy as sa
from alembic import op

import signage.db

revision = '0193'
down_revision = '0150'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('employee_no', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_users_employee_no'), ['employee_no'])
    with op.batch_alter_table('room_doors', schema=None) as batch_op:
        batch_op.add_column(sa.Column('terminal_token_hash', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_room_doors_terminal_token_hash'), ['terminal_token_hash'])
    op.create_table(
        'terminal_keys',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('room_id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=200), nullable=False),
        sa.Column('fingerprint', sa.String(length=64), nullable=False),
        sa.Column('status', sa.Integer(), nullable=False),
        sa.Column('response', sa.JSON(), nullable=False),
        sa.Column('created_at', signage.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['room_id'], ['rooms.id'], name=op.f('fk_terminal_keys_room_id_rooms'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_terminal_keys')),
        sa.UniqueConstraint('room_id', 'key', name=op.f('uq_terminal_keys_room_id')),
    )


def downgrade() -> None:
    op.drop_table('terminal_keys')
    with op.batch_alter_table('room_doors', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_room_doors_terminal_token_hash'), type_='unique')
        batch_op.drop_column('terminal_token_hash')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_users_employee_no'), type_='unique')
        batch_op.drop_column('employee_no')
