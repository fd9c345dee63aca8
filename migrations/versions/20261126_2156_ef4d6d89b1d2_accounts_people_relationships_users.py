"""Accounts, people, relationships, account teams, users and API tokens.

Revision ID: ef4d6d89b1d2
Revises: 
Create Date: 2026-11-26 21:56:21.181445+00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'ef4d6d89b1d2'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('accounts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False, comment="the account's display name"),
    sa.Column('kind', sa.Enum('customer', 'partner', name='kind', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('relationship_type', sa.Enum('transactional', 'regular', 'relationship', name='relationship_type', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('tier', sa.Enum('strategic', 'key', 'standard', name='tier', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('annual_value', sa.Numeric(precision=14, scale=2), nullable=False, comment='yearly revenue'),
    sa.Column('lifetime_value', sa.Numeric(precision=14, scale=2), nullable=True, comment='expected lifetime value'),
    sa.Column('renewal_date', sa.Date(), nullable=True),
    sa.Column('started_on', sa.Date(), nullable=True, comment='when the relationship began'),
    sa.Column('ended_on', sa.Date(), nullable=True, comment='churned or ended; kept for history'),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('crm_id', sa.String(length=100), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False, comment='when the row was created (UTC)'),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False, comment='when the row last changed (UTC)'),
    sa.CheckConstraint('annual_value >= 0', name=op.f('ck_accounts_annual_value_not_negative')),
    sa.CheckConstraint('lifetime_value IS NULL OR lifetime_value >= 0', name=op.f('ck_accounts_lifetime_value_not_negative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_accounts')),
    sa.UniqueConstraint('crm_id', name=op.f('uq_accounts_crm_id')),
    sa.UniqueConstraint('name', name=op.f('uq_accounts_name'))
    )
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_accounts_owner_id'), ['owner_id'], unique=False)

    op.create_table('people',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=True),
    sa.Column('side', sa.Enum('external', 'internal', name='side', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('first_name', sa.String(length=100), nullable=False),
    sa.Column('last_name', sa.String(length=100), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=True, comment='lower-cased'),
    sa.Column('title', sa.String(length=200), nullable=True),
    sa.Column('department', sa.String(length=100), nullable=True),
    sa.Column('seniority', sa.String(length=50), nullable=False, comment='a level of the configured seniority ladder'),
    sa.Column('active_from', sa.Date(), nullable=True),
    sa.Column('left_on', sa.Date(), nullable=True, comment='left the company; kept for history'),
    sa.Column('opted_out', sa.Boolean(), nullable=False, comment='asked not to be surveyed'),
    sa.Column('crm_id', sa.String(length=100), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False, comment='when the row was created (UTC)'),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False, comment='when the row last changed (UTC)'),
    sa.CheckConstraint("(side = 'external' AND account_id IS NOT NULL) OR (side = 'internal' AND account_id IS NULL)", name=op.f('ck_people_external_people_have_an_account')),
    sa.CheckConstraint('left_on IS NULL OR active_from IS NULL OR left_on >= active_from', name=op.f('ck_people_left_after_joining')),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_people_account_id_accounts'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_people')),
    sa.UniqueConstraint('crm_id', name=op.f('uq_people_crm_id')),
    sa.UniqueConstraint('email', name=op.f('uq_people_email'))
    )
    with op.batch_alter_table('people', schema=None) as batch_op:
        batch_op.create_index('ix_people_account_id_seniority', ['account_id', 'seniority'], unique=False)

    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False, comment='lower-cased'),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('role', sa.Enum('admin', 'executive', 'account_manager', 'partner_manager', 'viewer', name='role', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('password_hash', sa.String(length=300), nullable=True),
    sa.Column('is_enabled', sa.Boolean(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=True, comment='our own staff record, which joins account teams'),
    sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False, comment='when the row was created (UTC)'),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False, comment='when the row last changed (UTC)'),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_users_person_id_people'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('email', name=op.f('uq_users_email')),
    sa.UniqueConstraint('person_id', name=op.f('uq_users_person_id'))
    )
    # accounts -> users -> people -> accounts is a cycle: the owner key is added last.
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.create_foreign_key(
            batch_op.f('fk_accounts_owner_id_users'), 'users', ['owner_id'], ['id'], ondelete='SET NULL'
        )

    op.create_table('account_assignments',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_account_assignments_account_id_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_account_assignments_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'account_id', name=op.f('pk_account_assignments'))
    )
    with op.batch_alter_table('account_assignments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_account_assignments_account_id'), ['account_id'], unique=False)

    op.create_table('account_team_members',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.Enum('owner', 'executive_sponsor', 'member', name='team_role', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('started_on', sa.Date(), nullable=True),
    sa.Column('ended_on', sa.Date(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False, comment='when the row was created (UTC)'),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False, comment='when the row last changed (UTC)'),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_account_team_members_account_id_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_account_team_members_person_id_people'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_account_team_members')),
    sa.UniqueConstraint('account_id', 'person_id', name=op.f('uq_account_team_members_account_id_person_id'))
    )
    with op.batch_alter_table('account_team_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_account_team_members_person_id'), ['person_id'], unique=False)

    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('prefix', sa.String(length=12), nullable=False, comment='first characters, to recognise it'),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_api_tokens_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_tokens_token_hash'))
    )
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_tokens_user_id'), ['user_id'], unique=False)

    op.create_table('person_roles',
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.Enum('decision_maker', 'economic_buyer', 'champion', 'influencer', 'user', 'blocker', name='role', native_enum=False, create_constraint=True), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_person_roles_person_id_people'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('person_id', 'role', name=op.f('pk_person_roles'))
    )
    op.create_table('relationships',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.Column('target_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('reports_to', 'works_with', 'covers', 'sponsors', name='kind', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('strength', sa.Integer(), nullable=False, comment='1 (weak) to 5 (strong)'),
    sa.Column('last_contact_on', sa.Date(), nullable=True),
    sa.Column('ended_on', sa.Date(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False, comment='when the row was created (UTC)'),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False, comment='when the row last changed (UTC)'),
    sa.CheckConstraint('source_id <> target_id', name=op.f('ck_relationships_no_self_edge')),
    sa.CheckConstraint('strength BETWEEN 1 AND 5', name=op.f('ck_relationships_strength_1_to_5')),
    sa.ForeignKeyConstraint(['source_id'], ['people.id'], name=op.f('fk_relationships_source_id_people'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['target_id'], ['people.id'], name=op.f('fk_relationships_target_id_people'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_relationships')),
    sa.UniqueConstraint('source_id', 'target_id', 'kind', name=op.f('uq_relationships_source_id_target_id_kind'))
    )
    with op.batch_alter_table('relationships', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_relationships_target_id'), ['target_id'], unique=False)



def downgrade():
    with op.batch_alter_table('relationships', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_relationships_target_id'))

    op.drop_table('relationships')
    op.drop_table('person_roles')
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_tokens_user_id'))

    op.drop_table('api_tokens')
    with op.batch_alter_table('account_team_members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_account_team_members_person_id'))

    op.drop_table('account_team_members')
    with op.batch_alter_table('account_assignments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_account_assignments_account_id'))

    op.drop_table('account_assignments')
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_accounts_owner_id_users'), type_='foreignkey')

    op.drop_table('users')
    with op.batch_alter_table('people', schema=None) as batch_op:
        batch_op.drop_index('ix_people_account_id_seniority')

    op.drop_table('people')
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_accounts_owner_id'))

    op.drop_table('accounts')
