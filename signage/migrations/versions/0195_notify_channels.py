"""notifications on every channel: the channels' settings, users' contacts and choices,
per-user reminder minutes, what a fallback needs on each message

Revision ID: 0195
Revises: 0150
Create Date: 2026-12-03 09:00:00
"""

import sqlalchemy as sa
from alembic import op

import signage.db

revision = '0195'
down_revision = '0192'
branch_labels = None
depends_on = None

USER_TEXT = (('mobile', 30), ('dingtalk_id', 64), ('wecom_id', 64), ('wechat_openid', 64))


def upgrade() -> None:
    op.create_table(
        'notify_channels',
        sa.Column('name', sa.String(length=20), nullable=False),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('base_url', sa.String(length=300), nullable=False),
        sa.Column('config', sa.Text(), nullable=False),
        sa.Column('kinds', sa.String(length=300), nullable=False),
        sa.Column('fallback', sa.String(length=20), nullable=False),
        sa.Column('updated_at', signage.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('updated_by', sa.String(length=254), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_notify_channels')),
    )
    op.create_table(
        'notify_choices',
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=30), nullable=False),
        sa.Column('channels', sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ['user_id'], ['users.id'], name=op.f('fk_notify_choices_user_id_users'), ondelete='CASCADE'
        ),
        sa.PrimaryKeyConstraint('user_id', 'kind', name=op.f('pk_notify_choices')),
    )
    with op.batch_alter_table('users', schema=None) as batch_op:
        for name, length in USER_TEXT:
            batch_op.add_column(sa.Column(name, sa.String(length=length), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('reminder_minutes', sa.Integer(), nullable=True))
    with op.batch_alter_table('users', schema=None) as batch_op:
        for name, _length in USER_TEXT:
            batch_op.alter_column(name, server_default=None)
    with op.batch_alter_table('notify_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('user_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('data', sa.Text(), nullable=False, server_default=''))
    with op.batch_alter_table('notify_messages', schema=None) as batch_op:
        batch_op.alter_column('data', server_default=None)
    # reminders are now kept per lead time (the site's, or a user's own): the table holds a
    # day of marks only, so it is made again (a meeting within its reminder time when the
    # upgrade runs may be reminded a second time)
    op.drop_table('notify_reminders')
    op.create_table(
        'notify_reminders',
        sa.Column('booking_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('start_at', signage.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('minutes', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('queued', sa.Integer(), nullable=False),
        sa.Column('at', signage.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('booking_id', 'start_at', 'minutes', name=op.f('pk_notify_reminders')),
    )
    with op.batch_alter_table('notify_reminders', schema=None) as batch_op:
        batch_op.create_index('ix_notify_reminders_start_at', ['start_at'], unique=False)


def downgrade() -> None:
    op.drop_table('notify_reminders')
    op.create_table(
        'notify_reminders',
        sa.Column('booking_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('start_at', signage.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('queued', sa.Integer(), nullable=False),
        sa.Column('at', signage.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('booking_id', 'start_at', name=op.f('pk_notify_reminders')),
    )
    with op.batch_alter_table('notify_reminders', schema=None) as batch_op:
        batch_op.create_index('ix_notify_reminders_start_at', ['start_at'], unique=False)
    with op.batch_alter_table('notify_messages', schema=None) as batch_op:
        batch_op.drop_column('data')
        batch_op.drop_column('user_id')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('reminder_minutes')
        for name, _length in USER_TEXT:
            batch_op.drop_column(name)
    op.drop_table('notify_choices')
    op.drop_table('notify_channels')
