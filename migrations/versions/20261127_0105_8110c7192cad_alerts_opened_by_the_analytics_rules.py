"""Alerts: what the analytics rules noticed about an account, deduplicated by their cause.

Also indexes invitations by account, which the per-account analytics read across waves.

Revision ID: 8110c7192cad
Revises: 2fe59b7975f6
Create Date: 2026-11-27 01:05:24.283144+00:00

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '8110c7192cad'
down_revision = '2fe59b7975f6'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('alerts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('significant_decline', 'executive_detractor', 'gap_widened', 'key_person_silent', 'coverage_lost', name='kind', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=True, comment='the person it is about; never set in a confidential program'),
    sa.Column('wave_id', sa.Integer(), nullable=True, comment='the wave that showed it (for coverage: the wave whose snapshot did)'),
    sa.Column('dimension', sa.String(length=50), nullable=True),
    sa.Column('severity', sa.Enum('low', 'medium', 'high', name='severity', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('confidential', sa.Boolean(), nullable=False, comment='from a confidential program: group figures only'),
    sa.Column('message', sa.Text(), nullable=False, comment='plain language, with figures and n'),
    sa.Column('evidence', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False, comment='the figures behind the alert'),
    sa.Column('dedupe_key', sa.String(length=200), nullable=False, comment='names the cause; re-evaluating never duplicates'),
    sa.Column('status', sa.Enum('open', 'acknowledged', 'resolved', name='status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_by_id', sa.Integer(), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolved_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("status <> 'resolved' OR resolved_at IS NOT NULL", name=op.f('ck_alerts_resolved_has_a_time')),
    sa.CheckConstraint("status = 'open' OR acknowledged_at IS NOT NULL", name=op.f('ck_alerts_acknowledged_has_a_time')),
    sa.CheckConstraint('NOT confidential OR person_id IS NULL', name=op.f('ck_alerts_confidential_names_nobody')),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_alerts_account_id_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['acknowledged_by_id'], ['users.id'], name=op.f('fk_alerts_acknowledged_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_alerts_person_id_people'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['resolved_by_id'], ['users.id'], name=op.f('fk_alerts_resolved_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['wave_id'], ['waves.id'], name=op.f('fk_alerts_wave_id_waves'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alerts')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_alerts_dedupe_key'))
    )
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.create_index('ix_alerts_account_id_status', ['account_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_alerts_person_id'), ['person_id'], unique=False)
        batch_op.create_index('ix_alerts_status_opened_at', ['status', 'opened_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_alerts_wave_id'), ['wave_id'], unique=False)

    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.create_index('ix_invitations_account_id_wave_id', ['account_id', 'wave_id'], unique=False)


def downgrade():
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.drop_index('ix_invitations_account_id_wave_id')

    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alerts_wave_id'))
        batch_op.drop_index('ix_alerts_status_opened_at')
        batch_op.drop_index(batch_op.f('ix_alerts_person_id'))
        batch_op.drop_index('ix_alerts_account_id_status')

    op.drop_table('alerts')
