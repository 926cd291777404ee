"""reviewer desk: claims, queue indexes, name search, quality samples (抽查)

Revision ID: 0020
Revises: 0030
"""
from alembic import op
import sqlalchemy as sa

import onestop.core.db  # noqa: F401  (UTCDateTime in column types)


revision = '0020'
down_revision = '0030'
branch_labels = None
depends_on = None

RUNNING = "state IN ('received', 'accepted')"


def upgrade():
    with op.batch_alter_table('steps', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claimed_at', onestop.core.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('claim_expires_at', onestop.core.db.UTCDateTime(timezone=True), nullable=True))
    # Claims taken before this revision had no time: they are released rather than invented.
    op.execute("UPDATE steps SET claimed_by_id = NULL")
    with op.batch_alter_table('steps', schema=None) as batch_op:
        batch_op.create_check_constraint('claim_holder_time', '(claimed_by_id IS NULL) = (claimed_at IS NULL)')
        batch_op.create_check_constraint('claim_expiry_needs_holder',
                                         'claimed_by_id IS NOT NULL OR claim_expires_at IS NULL')
        batch_op.create_index('ix_steps_queue_due', ['department_id', 'state', 'due_at', 'id'], unique=False)
        batch_op.create_index('ix_steps_queue_received', ['department_id', 'state', 'received_at', 'id'],
                              unique=False)
        batch_op.create_index('ix_steps_queue_decided', ['department_id', 'decided_at', 'id'], unique=False)
        batch_op.create_index('ix_steps_queue_running', ['department_id', 'due_at', 'id'], unique=False,
                              postgresql_where=sa.text(RUNNING), sqlite_where=sa.text(RUNNING))
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_users_name'), ['name'], unique=False)
    with op.batch_alter_table('enterprises', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enterprises_name'), ['name'], unique=False)

    op.create_table('quality_samples',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('rate_percent', sa.Integer(), nullable=False),
    sa.Column('seed', sa.String(length=64), nullable=False),
    sa.Column('population', sa.Integer(), nullable=False),
    sa.Column('sample_size', sa.Integer(), nullable=False),
    sa.Column('drawn_by_id', sa.Integer(), nullable=False),
    sa.Column('drawn_at', onestop.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('period_end >= period_start', name=op.f('ck_quality_samples_period')),
    sa.CheckConstraint('population >= sample_size AND sample_size >= 0', name=op.f('ck_quality_samples_sizes')),
    sa.CheckConstraint('rate_percent >= 5 AND rate_percent <= 100', name=op.f('ck_quality_samples_rate_at_least_5')),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_quality_samples_department_id_departments')),
    sa.ForeignKeyConstraint(['drawn_by_id'], ['users.id'], name=op.f('fk_quality_samples_drawn_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quality_samples'))
    )
    with op.batch_alter_table('quality_samples', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_quality_samples_department_id'), ['department_id'], unique=False)

    op.create_table('quality_sample_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sample_id', sa.Integer(), nullable=False),
    sa.Column('step_id', sa.Integer(), nullable=False),
    sa.Column('verdict', sa.String(length=16), nullable=True),
    sa.Column('finding', sa.Text(), nullable=True),
    sa.Column('reviewed_by_id', sa.Integer(), nullable=True),
    sa.Column('reviewed_at', onestop.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("verdict IS NULL OR verdict IN ('sound', 'minor', 'serious')", name=op.f('ck_quality_sample_entries_verdict')),
    sa.CheckConstraint('(verdict IS NULL) = (reviewed_at IS NULL) AND (verdict IS NULL) = (finding IS NULL) AND (verdict IS NULL) = (reviewed_by_id IS NULL)', name=op.f('ck_quality_sample_entries_finding_complete')),
    sa.ForeignKeyConstraint(['reviewed_by_id'], ['users.id'], name=op.f('fk_quality_sample_entries_reviewed_by_id_users')),
    sa.ForeignKeyConstraint(['sample_id'], ['quality_samples.id'], name=op.f('fk_quality_sample_entries_sample_id_quality_samples'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['step_id'], ['steps.id'], name=op.f('fk_quality_sample_entries_step_id_steps')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quality_sample_entries')),
    sa.UniqueConstraint('sample_id', 'step_id', name=op.f('uq_quality_sample_entries_sample_id_step_id'))
    )
    with op.batch_alter_table('quality_sample_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_quality_sample_entries_sample_id'), ['sample_id'], unique=False)


def downgrade():
    with op.batch_alter_table('quality_sample_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_quality_sample_entries_sample_id'))
    op.drop_table('quality_sample_entries')
    with op.batch_alter_table('quality_samples', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_quality_samples_department_id'))
    op.drop_table('quality_samples')
    with op.batch_alter_table('enterprises', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_enterprises_name'))
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_users_name'))
    with op.batch_alter_table('steps', schema=None) as batch_op:
        batch_op.drop_index('ix_steps_queue_running')
        batch_op.drop_index('ix_steps_queue_decided')
        batch_op.drop_index('ix_steps_queue_received')
        batch_op.drop_index('ix_steps_queue_due')
        batch_op.drop_constraint(batch_op.f('ck_steps_claim_expiry_needs_holder'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_steps_claim_holder_time'), type_='check')
        batch_op.drop_column('claim_expires_at')
        batch_op.drop_column('claimed_at')
