"""a meeting's files: each content once (`material_files`), attached to an occurrence or a
series as materials before it or minutes after it (`materials`)

Revision ID: 0180
Revises: 0160
Create Date: 2026-12-02 05:10:00
"""

import sqlalchemy as sa
from alembic import op

import signage.db

revision = '0180'
down_revision = '0160'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'material_files',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('type', sa.String(length=10), nullable=False),
        sa.Column('ext', sa.String(length=10), nullable=False),
        sa.Column('mime', sa.String(length=100), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('has_preview', sa.Boolean(), nullable=False),
        sa.Column('created_at', signage.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_material_files')),
        sa.UniqueConstraint('sha256', name=op.f('uq_material_files_sha256')),
    )
    op.create_table(
        'materials',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('booking_id', sa.Integer(), nullable=True),
        sa.Column('series_id', sa.Integer(), nullable=True),
        sa.Column('file_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=255), nullable=False),
        sa.Column('kind', sa.String(length=10), nullable=False),
        sa.Column('uploaded_by', sa.Integer(), nullable=True),
        sa.Column('created_at', signage.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint('(booking_id IS NULL) <> (series_id IS NULL)', name=op.f('ck_materials_one_owner')),
        sa.CheckConstraint("kind IN ('before', 'minutes')", name=op.f('ck_materials_kind')),
        sa.ForeignKeyConstraint(['booking_id'], ['bookings.id'], name=op.f('fk_materials_booking_id_bookings'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['file_id'], ['material_files.id'], name=op.f('fk_materials_file_id_material_files'), ondelete='RESTRICT'),
        sa.ForeignKeyConstraint(['series_id'], ['booking_series.id'], name=op.f('fk_materials_series_id_booking_series'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['uploaded_by'], ['users.id'], name=op.f('fk_materials_uploaded_by_users'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_materials')),
    )
    with op.batch_alter_table('materials') as batch:
        batch.create_index(batch.f('ix_materials_booking_id'), ['booking_id'], unique=False)
        batch.create_index(batch.f('ix_materials_file_id'), ['file_id'], unique=False)
        batch.create_index(batch.f('ix_materials_series_id'), ['series_id'], unique=False)


def downgrade() -> None:
    op.drop_table('materials')
    op.drop_table('material_files')
