"""one head again after the parallel branches

Revision ID: 0100
Revises: 0030, 0040, 0050, 0070
Create Date: 2026-11-25 11:02:57.959219
"""

from alembic import op
import sqlalchemy as sa
import signage.db


revision = '0100'
down_revision = ('0030', '0040', '0050', '0070')
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
