"""service-hall window: window clerks, intakes, activation codes, hand-overs (综合窗口)

Revision ID: 0050
Revises: 0020
"""
from alembic import op
import sqlalchemy as sa

import onestop.core.db  # noqa: F401  (UTCDateTime in column types)


# revision identifiers, used by Alembic.
revision = '0050'
down_revision = '0020'
branch_labels = None
depends_on = None


USER_KINDS = "'person', 'enterprise', 'staff', 'auditor', 'admin'"


def _user_kinds(kinds):
    """Replace the users' kind rule. SQLite's batch mode keeps a one-column CHECK with its column, so
    there the table is rebuilt from its reflection with the rule swapped."""
    check = f"kind IN ({kinds})"
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint(op.f('ck_users_kind'), 'users', type_='check')
        op.create_check_constraint(op.f('ck_users_kind'), 'users', check)
        return
    table = sa.Table('users', sa.MetaData(), autoload_with=op.get_bind())
    for constraint in list(table.constraints):
        if isinstance(constraint, sa.CheckConstraint) and constraint.name == 'ck_users_kind':
            table.constraints.remove(constraint)
    table.append_constraint(sa.CheckConstraint(check, name='ck_users_kind'))
    with op.batch_alter_table('users', copy_from=table, recreate='always'):
        pass


def upgrade():
    _user_kinds(f"{USER_KINDS}, 'window'")
    op.create_table('activation_codes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('code_hash', sa.String(length=200), nullable=False),
    sa.Column('issued_at', onestop.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('issued_by_id', sa.Integer(), nullable=False),
    sa.Column('expires_at', onestop.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('used_at', onestop.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('voided_at', onestop.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint('attempts >= 0', name=op.f('ck_activation_codes_attempts_non_negative')),
    sa.CheckConstraint('expires_at > issued_at', name=op.f('ck_activation_codes_expires_after_issue')),
    sa.CheckConstraint('used_at IS NULL OR voided_at IS NULL', name=op.f('ck_activation_codes_used_or_voided')),
    sa.ForeignKeyConstraint(['issued_by_id'], ['users.id'], name=op.f('fk_activation_codes_issued_by_id_users')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_activation_codes_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_activation_codes'))
    )
    with op.batch_alter_table('activation_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_activation_codes_user_id'), ['user_id'], unique=False)

    op.create_table('window_intakes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hall', sa.String(length=100), nullable=False),
    sa.Column('clerk_id', sa.Integer(), nullable=False),
    sa.Column('applicant_id', sa.Integer(), nullable=False),
    sa.Column('draft_id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=True),
    sa.Column('new_account', sa.Boolean(), nullable=False),
    sa.Column('consent_at', onestop.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('proxy_name', sa.String(length=50), nullable=True),
    sa.Column('proxy_id_number', sa.String(length=18), nullable=True),
    sa.Column('proxy_relation', sa.String(length=50), nullable=True),
    sa.Column('proxy_material_id', sa.Integer(), nullable=True),
    sa.Column('collection', sa.String(length=16), nullable=False),
    sa.Column('mail_recipient', sa.String(length=50), nullable=True),
    sa.Column('mail_phone', sa.String(length=20), nullable=True),
    sa.Column('mail_address', sa.String(length=200), nullable=True),
    sa.Column('created_at', onestop.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('submitted_at', onestop.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("collection != 'mail' OR (mail_recipient IS NOT NULL AND mail_phone IS NOT NULL AND mail_address IS NOT NULL)", name=op.f('ck_window_intakes_mail_address')),
    sa.CheckConstraint("collection IN ('online', 'window', 'mail')", name=op.f('ck_window_intakes_collection')),
    sa.CheckConstraint('(application_id IS NULL) = (submitted_at IS NULL)', name=op.f('ck_window_intakes_submitted_iff_application')),
    sa.CheckConstraint('(proxy_name IS NULL) = (proxy_id_number IS NULL) AND (proxy_name IS NULL) = (proxy_relation IS NULL) AND (proxy_name IS NULL) = (proxy_material_id IS NULL)', name=op.f('ck_window_intakes_proxy_complete')),
    sa.ForeignKeyConstraint(['applicant_id'], ['users.id'], name=op.f('fk_window_intakes_applicant_id_users')),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], name=op.f('fk_window_intakes_application_id_applications')),
    sa.ForeignKeyConstraint(['clerk_id'], ['users.id'], name=op.f('fk_window_intakes_clerk_id_users')),
    sa.ForeignKeyConstraint(['draft_id'], ['drafts.id'], name=op.f('fk_window_intakes_draft_id_drafts')),
    sa.ForeignKeyConstraint(['proxy_material_id'], ['materials.id'], name=op.f('fk_window_intakes_proxy_material_id_materials')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_window_intakes')),
    sa.UniqueConstraint('application_id', name=op.f('uq_window_intakes_application_id')),
    sa.UniqueConstraint('draft_id', name=op.f('uq_window_intakes_draft_id'))
    )
    with op.batch_alter_table('window_intakes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_window_intakes_applicant_id'), ['applicant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_window_intakes_clerk_id'), ['clerk_id'], unique=False)

    op.create_table('result_collections',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('method', sa.String(length=16), nullable=False),
    sa.Column('hall', sa.String(length=100), nullable=True),
    sa.Column('mail_recipient', sa.String(length=50), nullable=True),
    sa.Column('mail_phone', sa.String(length=20), nullable=True),
    sa.Column('mail_address', sa.String(length=200), nullable=True),
    sa.Column('chosen_at', onestop.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('chosen_by_id', sa.Integer(), nullable=False),
    sa.CheckConstraint("(method = 'window') = (hall IS NOT NULL)", name=op.f('ck_result_collections_window_hall')),
    sa.CheckConstraint("method != 'mail' OR (mail_recipient IS NOT NULL AND mail_phone IS NOT NULL AND mail_address IS NOT NULL)", name=op.f('ck_result_collections_mail_address')),
    sa.CheckConstraint("method IN ('online', 'window', 'mail')", name=op.f('ck_result_collections_method')),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], name=op.f('fk_result_collections_application_id_applications')),
    sa.ForeignKeyConstraint(['chosen_by_id'], ['users.id'], name=op.f('fk_result_collections_chosen_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_result_collections')),
    sa.UniqueConstraint('application_id', name=op.f('uq_result_collections_application_id'))
    )

    op.create_table('window_handovers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('intake_id', sa.Integer(), nullable=True),
    sa.Column('hall', sa.String(length=100), nullable=False),
    sa.Column('clerk_id', sa.Integer(), nullable=False),
    sa.Column('method', sa.String(length=16), nullable=False),
    sa.Column('collector_kind', sa.String(length=16), nullable=False),
    sa.Column('collector_name', sa.String(length=50), nullable=False),
    sa.Column('collector_id_masked', sa.String(length=18), nullable=True),
    sa.Column('collector_relation', sa.String(length=50), nullable=True),
    sa.Column('authorisation_material_id', sa.Integer(), nullable=True),
    sa.Column('carrier', sa.String(length=50), nullable=True),
    sa.Column('tracking_number', sa.String(length=50), nullable=True),
    sa.Column('results', sa.JSON(), nullable=False),
    sa.Column('handed_at', onestop.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(method = 'mail') = (carrier IS NOT NULL)", name=op.f('ck_window_handovers_mail_carrier')),
    sa.CheckConstraint("(method = 'mail') = (tracking_number IS NOT NULL)", name=op.f('ck_window_handovers_mail_tracking')),
    sa.CheckConstraint("collector_kind != 'authorised' OR authorisation_material_id IS NOT NULL", name=op.f('ck_window_handovers_authorised_has_document')),
    sa.CheckConstraint("collector_kind IN ('applicant', 'authorised', 'mail')", name=op.f('ck_window_handovers_collector_kind')),
    sa.CheckConstraint("method IN ('counter', 'mail')", name=op.f('ck_window_handovers_method')),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], name=op.f('fk_window_handovers_application_id_applications')),
    sa.ForeignKeyConstraint(['authorisation_material_id'], ['materials.id'], name=op.f('fk_window_handovers_authorisation_material_id_materials')),
    sa.ForeignKeyConstraint(['clerk_id'], ['users.id'], name=op.f('fk_window_handovers_clerk_id_users')),
    sa.ForeignKeyConstraint(['intake_id'], ['window_intakes.id'], name=op.f('fk_window_handovers_intake_id_window_intakes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_window_handovers'))
    )
    with op.batch_alter_table('window_handovers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_window_handovers_application_id'), ['application_id'], unique=False)



def downgrade():
    with op.batch_alter_table('window_handovers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_window_handovers_application_id'))

    op.drop_table('window_handovers')
    op.drop_table('result_collections')
    with op.batch_alter_table('window_intakes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_window_intakes_clerk_id'))
        batch_op.drop_index(batch_op.f('ix_window_intakes_applicant_id'))

    op.drop_table('window_intakes')
    with op.batch_alter_table('activation_codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_activation_codes_user_id'))

    op.drop_table('activation_codes')
    # Window clerks cannot stay under the older rule: their accounts go with the window.
    op.execute("DELETE FROM staff_roles WHERE user_id IN (SELECT id FROM users WHERE kind = 'window')")
    op.execute("UPDATE users SET is_active_account = false, kind = 'staff' WHERE kind = 'window'")
    _user_kinds(USER_KINDS)
