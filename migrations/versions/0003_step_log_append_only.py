"""The processing-time log (step_transitions) is append-only, like the audit trail.

Revision ID: 0003
Revises: 0002
"""
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE FUNCTION step_transitions_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'step_transitions is append-only'; END $$;
        """)
        op.execute("""
            CREATE TRIGGER step_transitions_append_only BEFORE UPDATE OR DELETE ON step_transitions
            FOR EACH ROW EXECUTE FUNCTION step_transitions_append_only();
        """)
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(f"""
                CREATE TRIGGER step_transitions_no_{verb.lower()} BEFORE {verb} ON step_transitions
                BEGIN SELECT RAISE(ABORT, 'step_transitions is append-only'); END;
            """)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS step_transitions_append_only ON step_transitions")
        op.execute("DROP FUNCTION IF EXISTS step_transitions_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS step_transitions_no_update")
        op.execute("DROP TRIGGER IF EXISTS step_transitions_no_delete")
