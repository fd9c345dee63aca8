"""Reports: the archive of rendered reports (each a job until done), subscriptions and their
delivery log; outbox messages gain attachments, by reference to files in the instance folder.

Revision ID: d9702812ede5
Revises: 8110c7192cad
Create Date: 2026-11-27 02:20:14.733656+00:00

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = 'd9702812ede5'
down_revision = '8110c7192cad'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('report_subscriptions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False, comment='who receives it'),
    sa.Column('kind', sa.Enum('account', 'partner', 'portfolio', name='kind', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=True, comment='the account of an account or partner report'),
    sa.Column('filters', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False, comment="a portfolio report's filters: kind, tier, owner_id"),
    sa.Column('rrule', sa.String(length=500), nullable=False, comment='RFC 5545 recurrence rule'),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False, comment='DTSTART of the rule (UTC)'),
    sa.Column('next_run_at', sa.DateTime(timezone=True), nullable=True, comment='the next occurrence to deliver; none once the rule has ended'),
    sa.Column('active', sa.Boolean(), nullable=False, comment='false once unsubscribed'),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind = 'portfolio' OR account_id IS NOT NULL", name=op.f('ck_report_subscriptions_account_given')),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_report_subscriptions_account_id_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_report_subscriptions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_subscriptions'))
    )
    with op.batch_alter_table('report_subscriptions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_report_subscriptions_account_id'), ['account_id'], unique=False)
        batch_op.create_index('ix_report_subscriptions_active_next_run_at', ['active', 'next_run_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_report_subscriptions_user_id'), ['user_id'], unique=False)

    op.create_table('reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('account', 'partner', 'portfolio', name='kind', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=True, comment='the account reported on; none for a portfolio report'),
    sa.Column('parameters', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False, comment='what was asked: kind, account_id, filters'),
    sa.Column('status', sa.Enum('queued', 'running', 'done', 'failed', name='status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('error', sa.Text(), nullable=True, comment='why rendering failed'),
    sa.Column('sha256', sa.String(length=64), nullable=True, comment='hex SHA-256 of the PDF; archived as reports/<sha256>.pdf'),
    sa.Column('size', sa.Integer(), nullable=True, comment='bytes of the PDF'),
    sa.Column('requested_by_id', sa.Integer(), nullable=True, comment="who asked for it (a subscription's user for a delivered report)"),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("kind = 'portfolio' OR account_id IS NOT NULL", name=op.f('ck_reports_account_given')),
    sa.CheckConstraint("status <> 'done' OR (sha256 IS NOT NULL AND size IS NOT NULL AND finished_at IS NOT NULL)", name=op.f('ck_reports_done_is_archived')),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_reports_account_id_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_reports_requested_by_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reports'))
    )
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reports_account_id'), ['account_id'], unique=False)
        batch_op.create_index('ix_reports_requested_by_id_created_at', ['requested_by_id', 'created_at'], unique=False)

    op.create_table('report_deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subscription_id', sa.Integer(), nullable=False),
    sa.Column('occurrence', sa.DateTime(timezone=True), nullable=False, comment="the rule's occurrence delivered"),
    sa.Column('report_id', sa.Integer(), nullable=True),
    sa.Column('outbox_message_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.Enum('queued', 'failed', name='status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status <> 'queued' OR outbox_message_id IS NOT NULL", name=op.f('ck_report_deliveries_queued_has_a_message')),
    sa.ForeignKeyConstraint(['outbox_message_id'], ['outbox_messages.id'], name=op.f('fk_report_deliveries_outbox_message_id_outbox_messages'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['report_id'], ['reports.id'], name=op.f('fk_report_deliveries_report_id_reports'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['subscription_id'], ['report_subscriptions.id'], name=op.f('fk_report_deliveries_subscription_id_report_subscriptions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_deliveries')),
    sa.UniqueConstraint('subscription_id', 'occurrence', name=op.f('uq_report_deliveries_subscription_id_occurrence'))
    )
    with op.batch_alter_table('report_deliveries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_report_deliveries_outbox_message_id'), ['outbox_message_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_report_deliveries_report_id'), ['report_id'], unique=False)

    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attachments', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True, comment='files to attach, by reference: [{path, filename, content_type, sha256}], path inside the instance folder'))



def downgrade():
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_column('attachments')

    with op.batch_alter_table('report_deliveries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_report_deliveries_report_id'))
        batch_op.drop_index(batch_op.f('ix_report_deliveries_outbox_message_id'))

    op.drop_table('report_deliveries')
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.drop_index('ix_reports_requested_by_id_created_at')
        batch_op.drop_index(batch_op.f('ix_reports_account_id'))

    op.drop_table('reports')
    with op.batch_alter_table('report_subscriptions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_report_subscriptions_user_id'))
        batch_op.drop_index('ix_report_subscriptions_active_next_run_at')
        batch_op.drop_index(batch_op.f('ix_report_subscriptions_account_id'))

    op.drop_table('report_subscriptions')
