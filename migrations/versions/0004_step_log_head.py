"""The step row carries its log's head (last seq and time): a transition appends without reading the log.

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

import onestop.core.db  # noqa: F401  (UTCDateTime in column types)

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('steps', schema=None) as batch_op:
        batch_op.add_column(sa.Column('log_seq', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('logged_at', onestop.core.db.UTCDateTime(timezone=True), nullable=True))
    op.execute("""
        UPDATE steps SET
            log_seq = COALESCE((SELECT max(t.seq) FROM step_transitions t WHERE t.step_id = steps.id), 0),
            logged_at = (SELECT max(t.at) FROM step_transitions t WHERE t.step_id = steps.id)
    """)


def downgrade():
    with op.batch_alter_table('steps', schema=None) as batch_op:
        batch_op.drop_column('logged_at')
        batch_op.drop_column('log_seq')
