"""directory: departments, memberships, sources and sync runs; users' title, directory link and search text

Revision ID: 0230
Revises: 0220
Create Date: 2026-12-07 23:00:00
"""

import sqlalchemy as sa
from alembic import op

import signage.db

revision = '0230'
down_revision = '0220'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('title', sa.String(length=200), server_default='', nullable=False))
        batch_op.add_column(sa.Column('directory_source', sa.String(length=20), server_default='', nullable=False))
        batch_op.add_column(sa.Column('directory_id', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('search', sa.String(length=600), server_default='', nullable=False))
        batch_op.create_unique_constraint(
            batch_op.f('uq_users_directory_source'), ['directory_source', 'directory_id']
        )
    op.create_table(
        'departments',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('parent_id', sa.Integer(), nullable=True),
        sa.Column('manager_id', sa.Integer(), nullable=True),
        sa.Column('source', sa.String(length=20), nullable=False),
        sa.Column('external_id', sa.String(length=200), nullable=True),
        sa.Column('sort', sa.Integer(), nullable=False),
        sa.Column('is_active', sa.Boolean(), nullable=False),
        sa.Column('search', sa.String(length=600), nullable=False),
        sa.ForeignKeyConstraint(['manager_id'], ['users.id'], name=op.f('fk_departments_manager_id_users'), ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['parent_id'], ['departments.id'], name=op.f('fk_departments_parent_id_departments'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_departments')),
        sa.UniqueConstraint('source', 'external_id', name=op.f('uq_departments_source')),
    )
    op.create_index(op.f('ix_departments_parent_id'), 'departments', ['parent_id'], unique=False)
    op.create_table(
        'user_departments',
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('department_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_user_departments_department_id_departments'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_departments_user_id_users'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('user_id', 'department_id', name=op.f('pk_user_departments')),
    )
    op.create_index('ix_user_departments_department_id', 'user_departments', ['department_id'], unique=False)
    op.create_table(
        'directory_sources',
        sa.Column('name', sa.String(length=20), nullable=False),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('base_url', sa.String(length=300), nullable=False),
        sa.Column('config', sa.Text(), nullable=False),
        sa.Column('every_minutes', sa.Integer(), nullable=False),
        sa.Column('signin', sa.Boolean(), nullable=False),
        sa.Column('next_run_at', signage.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('updated_at', signage.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('updated_by', sa.String(length=254), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_directory_sources')),
    )
    op.create_table(
        'directory_runs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('source', sa.String(length=20), nullable=False),
        sa.Column('dry_run', sa.Boolean(), nullable=False),
        sa.Column('started_at', signage.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('finished_at', signage.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('counts', sa.Text(), nullable=False),
        sa.Column('errors', sa.Text(), nullable=False),
        sa.Column('by', sa.String(length=254), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_directory_runs')),
    )
    op.create_index('ix_directory_runs_source_started', 'directory_runs', ['source', 'started_at'], unique=False)
    # the search text of the people already here (signage/directory/search.py)
    from signage.directory.search import search_text

    users = sa.table(
        'users', sa.column('id'), sa.column('name'), sa.column('email'), sa.column('employee_no'), sa.column('search')
    )
    conn = op.get_bind()
    rows = conn.execute(sa.select(users.c.id, users.c.name, users.c.email, users.c.employee_no)).all()
    if rows:
        conn.execute(
            users.update().where(users.c.id == sa.bindparam('uid')).values(search=sa.bindparam('text')),
            [{'uid': r.id, 'text': search_text(r.name, r.email, r.employee_no)} for r in rows],
        )


def downgrade() -> None:
    op.drop_index('ix_directory_runs_source_started', table_name='directory_runs')
    op.drop_table('directory_runs')
    op.drop_table('directory_sources')
    op.drop_index('ix_user_departments_department_id', table_name='user_departments')
    op.drop_table('user_departments')
    op.drop_index(op.f('ix_departments_parent_id'), table_name='departments')
    op.drop_table('departments')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_users_directory_source'), type_='unique')
        batch_op.drop_column('search')
        batch_op.drop_column('directory_id')
        batch_op.drop_column('directory_source')
        batch_op.drop_column('title')
