"""auditor workspace: timing roll-ups of ended applications and steps, export jobs

Revision ID: 0040
Revises: 0070
"""
from alembic import op
import sqlalchemy as sa

import onestop.core.db  # noqa: F401  (UTCDateTime in column types)


revision = '0040'
down_revision = '0070'
branch_labels = None
depends_on = None

RUNNING = "state IN ('received', 'accepted')"


def upgrade():
    op.create_table(
        'application_timings',
        sa.Column('application_id', sa.Integer(), nullable=False),
        sa.Column('bundle_code', sa.String(length=64), nullable=False),
        sa.Column('state', sa.String(length=24), nullable=False),
        sa.Column('submitted_at', onestop.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('ended_at', onestop.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('elapsed_days', sa.Numeric(precision=10, scale=4), nullable=False),
        sa.Column('paused_days', sa.Numeric(precision=10, scale=4), nullable=False),
        sa.Column('on_time', sa.Boolean(), nullable=False),
        sa.Column('held_by_id', sa.Integer(), nullable=True),
        sa.Column('critical_path', sa.JSON(), nullable=False),
        sa.Column('supplemented', sa.Boolean(), nullable=False),
        sa.Column('extensions', sa.Integer(), nullable=False),
        sa.Column('rongque', sa.Integer(), nullable=False),
        sa.Column('commitment', sa.Integer(), nullable=False),
        sa.Column('computed_at', onestop.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint('elapsed_days >= 0 AND paused_days >= 0', name=op.f('ck_application_timings_non_negative')),
        sa.ForeignKeyConstraint(['application_id'], ['applications.id'],
                                name=op.f('fk_application_timings_application_id_applications'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['held_by_id'], ['departments.id'],
                                name=op.f('fk_application_timings_held_by_id_departments')),
        sa.PrimaryKeyConstraint('application_id', name=op.f('pk_application_timings')),
    )
    op.create_index('ix_application_timings_period', 'application_timings', ['ended_at', 'bundle_code'])
    op.create_table(
        'step_timings',
        sa.Column('step_id', sa.Integer(), nullable=False),
        sa.Column('application_id', sa.Integer(), nullable=False),
        sa.Column('bundle_code', sa.String(length=64), nullable=False),
        sa.Column('item_code', sa.String(length=64), nullable=False),
        sa.Column('department_id', sa.Integer(), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('received_at', onestop.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('decided_at', onestop.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('counted_days', sa.Numeric(precision=10, scale=4), nullable=False),
        sa.Column('paused_days', sa.Numeric(precision=10, scale=4), nullable=False),
        sa.Column('on_time', sa.Boolean(), nullable=True),
        sa.Column('extended', sa.Boolean(), nullable=False),
        sa.Column('supplemented', sa.Boolean(), nullable=False),
        sa.Column('rongque', sa.Boolean(), nullable=False),
        sa.Column('commitment', sa.Boolean(), nullable=False),
        sa.CheckConstraint('counted_days >= 0 AND paused_days >= 0', name=op.f('ck_step_timings_non_negative')),
        sa.ForeignKeyConstraint(['application_id'], ['applications.id'],
                                name=op.f('fk_step_timings_application_id_applications'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['department_id'], ['departments.id'],
                                name=op.f('fk_step_timings_department_id_departments')),
        sa.ForeignKeyConstraint(['step_id'], ['steps.id'], name=op.f('fk_step_timings_step_id_steps'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('step_id', name=op.f('pk_step_timings')),
    )
    op.create_index(op.f('ix_step_timings_application_id'), 'step_timings', ['application_id'])
    op.create_index('ix_step_timings_period', 'step_timings', ['decided_at', 'department_id'])
    op.create_table(
        'supervision_exports',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('requested_by_id', sa.Integer(), nullable=False),
        sa.Column('table', sa.String(length=32), nullable=False),
        sa.Column('fmt', sa.String(length=8), nullable=False),
        sa.Column('params', sa.JSON(), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('total_rows', sa.Integer(), nullable=True),
        sa.Column('done_rows', sa.Integer(), nullable=False),
        sa.Column('file_name', sa.String(length=128), nullable=True),
        sa.Column('error', sa.String(length=255), nullable=True),
        sa.Column('created_at', onestop.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('finished_at', onestop.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("state IN ('queued', 'running', 'done', 'failed')", name=op.f('ck_supervision_exports_state')),
        sa.CheckConstraint("fmt IN ('csv', 'xlsx')", name=op.f('ck_supervision_exports_fmt')),
        sa.CheckConstraint('done_rows >= 0', name=op.f('ck_supervision_exports_done_rows')),
        sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'],
                                name=op.f('fk_supervision_exports_requested_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_supervision_exports')),
    )
    op.create_index(op.f('ix_supervision_exports_requested_by_id'), 'supervision_exports', ['requested_by_id'])
    op.create_index('ix_steps_commitment_decided', 'steps', ['decided_at', 'post_check_outcome'],
                    postgresql_where=sa.text('on_commitment'), sqlite_where=sa.text('on_commitment'))
    op.create_index('ix_steps_running_due', 'steps', ['due_at'],
                    postgresql_where=sa.text(RUNNING), sqlite_where=sa.text(RUNNING))
    op.create_table(
        'timing_histogram',
        sa.Column('kind', sa.String(length=4), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('bundle_code', sa.String(length=64), nullable=False),
        sa.Column('department_id', sa.Integer(), nullable=False),
        sa.Column('item_code', sa.String(length=64), nullable=False),
        sa.Column('bucket', sa.Numeric(precision=8, scale=2), nullable=False),
        sa.Column('n', sa.Integer(), nullable=False),
        sa.Column('on_time', sa.Integer(), nullable=False),
        sa.Column('on_time_known', sa.Integer(), nullable=False),
        sa.Column('elapsed_sum', sa.Numeric(precision=14, scale=4), nullable=False),
        sa.Column('paused_sum', sa.Numeric(precision=14, scale=4), nullable=False),
        sa.Column('paused_n', sa.Integer(), nullable=False),
        sa.Column('extended', sa.Integer(), nullable=False),
        sa.Column('supplemented', sa.Integer(), nullable=False),
        sa.Column('rongque', sa.Integer(), nullable=False),
        sa.Column('commitment', sa.Integer(), nullable=False),
        sa.CheckConstraint("kind IN ('app', 'step', 'appm', 'stpm')", name=op.f('ck_timing_histogram_kind')),
        sa.PrimaryKeyConstraint('kind', 'day', 'bundle_code', 'department_id', 'item_code', 'bucket',
                                name=op.f('pk_timing_histogram')),
    )


def downgrade():
    op.drop_table('timing_histogram')
    op.drop_index('ix_steps_running_due', table_name='steps')
    op.drop_index('ix_steps_commitment_decided', table_name='steps')
    op.drop_index(op.f('ix_supervision_exports_requested_by_id'), table_name='supervision_exports')
    op.drop_table('supervision_exports')
    op.drop_index('ix_step_timings_period', table_name='step_timings')
    op.drop_index(op.f('ix_step_timings_application_id'), table_name='step_timings')
    op.drop_table('step_timings')
    op.drop_index('ix_application_timings_period', table_name='application_timings')
    op.drop_table('application_timings')
