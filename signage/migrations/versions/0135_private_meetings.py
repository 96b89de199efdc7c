"""private meetings: a booking's `private` flag (outsiders see only "busy"), and each room's
default for it (`private_default`)

Revision ID: 0135
Revises: 0130
Create Date: 2026-12-02 04:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0135'
down_revision = '0130'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('bookings') as batch:
        batch.add_column(sa.Column('private', sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table('rooms') as batch:
        batch.add_column(sa.Column('private_default', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('rooms') as batch:
        batch.drop_column('private_default')
    with op.batch_alter_table('bookings') as batch:
        batch.drop_column('private')
