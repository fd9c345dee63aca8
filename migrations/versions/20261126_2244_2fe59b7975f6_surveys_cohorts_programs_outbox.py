"""Surveys and versions, cohorts, programs, waves, invitations, responses, the outbox.

Revision ID: 2fe59b7975f6
Revises: 84c4a5f3db43
Create Date: 2026-11-26 22:44:04.786525+00:00

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '2fe59b7975f6'
down_revision = '84c4a5f3db43'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('cohorts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('mode', sa.Enum('fixed', 'dynamic', name='mode', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('rule', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False, comment='account_ids, kinds, tiers, relationship_types, seniorities, sides, roles'),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False, comment='when the row was created (UTC)'),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False, comment='when the row last changed (UTC)'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cohorts')),
    sa.UniqueConstraint('name', name=op.f('uq_cohorts_name'))
    )
    op.create_table('outbox_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dedupe_key', sa.String(length=200), nullable=False, comment='one message per cause, e.g. invitation:42'),
    sa.Column('kind', sa.String(length=50), nullable=False),
    sa.Column('to_address', sa.String(length=254), nullable=False),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('body_text', sa.Text(), nullable=False),
    sa.Column('body_html', sa.Text(), nullable=True),
    sa.Column('headers', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('status', sa.Enum('queued', 'sent', 'failed', name='status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_messages')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_outbox_messages_dedupe_key'))
    )
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_messages_status_next_attempt_at', ['status', 'next_attempt_at'], unique=False)

    op.create_table('surveys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=50), nullable=False, comment='stable slug'),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False, comment='when the row was created (UTC)'),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False, comment='when the row last changed (UTC)'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_surveys')),
    sa.UniqueConstraint('key', name=op.f('uq_surveys_key'))
    )
    op.create_table('programs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('survey_id', sa.Integer(), nullable=False),
    sa.Column('cohort_id', sa.Integer(), nullable=False),
    sa.Column('rrule', sa.String(length=500), nullable=False, comment='RFC 5545 recurrence rule'),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False, comment='DTSTART of the rule (UTC)'),
    sa.Column('open_days', sa.Integer(), nullable=False, comment='how long a wave stays open'),
    sa.Column('reminder_days', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False, comment='days after opening to remind'),
    sa.Column('fatigue_days', sa.Integer(), nullable=False, comment='across all programs'),
    sa.Column('confidentiality', sa.Enum('identified', 'confidential', name='confidentiality', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('min_group_size', sa.Integer(), nullable=False, comment='k, when confidential'),
    sa.Column('trigger', sa.Enum('schedule', 'before_renewal', 'after_start', name='trigger', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('trigger_days', sa.Integer(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False, comment='when the row was created (UTC)'),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False, comment='when the row last changed (UTC)'),
    sa.CheckConstraint("trigger = 'schedule' OR trigger_days IS NOT NULL", name=op.f('ck_programs_event_trigger_has_days')),
    sa.CheckConstraint('fatigue_days >= 0', name=op.f('ck_programs_fatigue_days_not_negative')),
    sa.CheckConstraint('min_group_size >= 1', name=op.f('ck_programs_min_group_size_positive')),
    sa.CheckConstraint('open_days > 0', name=op.f('ck_programs_open_days_positive')),
    sa.ForeignKeyConstraint(['cohort_id'], ['cohorts.id'], name=op.f('fk_programs_cohort_id_cohorts'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['survey_id'], ['surveys.id'], name=op.f('fk_programs_survey_id_surveys'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_programs')),
    sa.UniqueConstraint('name', name=op.f('uq_programs_name'))
    )
    op.create_table('survey_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('survey_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('frozen_at', sa.DateTime(timezone=True), nullable=True, comment='set when a wave first uses it'),
    sa.ForeignKeyConstraint(['survey_id'], ['surveys.id'], name=op.f('fk_survey_versions_survey_id_surveys'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_survey_versions')),
    sa.UniqueConstraint('survey_id', 'number', name=op.f('uq_survey_versions_survey_id_number'))
    )
    op.create_table('cohort_members',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('cohort_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('added_on', sa.Date(), nullable=False),
    sa.Column('removed_on', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_cohort_members_account_id_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['cohort_id'], ['cohorts.id'], name=op.f('fk_cohort_members_cohort_id_cohorts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_cohort_members_person_id_people'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cohort_members')),
    sa.UniqueConstraint('cohort_id', 'person_id', 'account_id', name=op.f('uq_cohort_members_cohort_id_person_id_account_id'))
    )
    with op.batch_alter_table('cohort_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cohort_members_person_id'), ['person_id'], unique=False)

    op.create_table('complementary_cohorts',
    sa.Column('program_id', sa.Integer(), nullable=False),
    sa.Column('cohort_id', sa.Integer(), nullable=False),
    sa.Column('added_on', sa.Date(), nullable=False),
    sa.ForeignKeyConstraint(['cohort_id'], ['cohorts.id'], name=op.f('fk_complementary_cohorts_cohort_id_cohorts'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['program_id'], ['programs.id'], name=op.f('fk_complementary_cohorts_program_id_programs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('program_id', 'cohort_id', name=op.f('pk_complementary_cohorts'))
    )
    op.create_table('questions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=50), nullable=False, comment='stable across versions'),
    sa.Column('type', sa.Enum('nps', 'rating', 'choice', 'multi_choice', 'text', name='question_type', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('dimension', sa.String(length=50), nullable=True),
    sa.Column('text_external', sa.Text(), nullable=False, comment='wording for their people'),
    sa.Column('text_internal', sa.Text(), nullable=False, comment='mirrored wording for ours'),
    sa.Column('required', sa.Boolean(), nullable=False),
    sa.Column('scale_min', sa.Integer(), nullable=True),
    sa.Column('scale_max', sa.Integer(), nullable=True),
    sa.Column('options', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True, comment='choices, in order'),
    sa.CheckConstraint("type <> 'rating' OR (scale_min IS NOT NULL AND scale_max IS NOT NULL AND scale_min < scale_max)", name=op.f('ck_questions_rating_has_a_scale')),
    sa.ForeignKeyConstraint(['version_id'], ['survey_versions.id'], name=op.f('fk_questions_version_id_survey_versions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_questions')),
    sa.UniqueConstraint('version_id', 'key', name=op.f('uq_questions_version_id_key')),
    sa.UniqueConstraint('version_id', 'position', name=op.f('uq_questions_version_id_position'))
    )
    op.create_table('waves',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('program_id', sa.Integer(), nullable=False),
    sa.Column('occurrence', sa.String(length=100), nullable=False, comment='which occurrence: a date, or an account event; unique per program'),
    sa.Column('account_id', sa.Integer(), nullable=True, comment='for event-triggered waves'),
    sa.Column('survey_version_id', sa.Integer(), nullable=False),
    sa.Column('opens_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closes_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.Enum('open', 'closed', name='status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_waves_account_id_accounts'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['program_id'], ['programs.id'], name=op.f('fk_waves_program_id_programs'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['survey_version_id'], ['survey_versions.id'], name=op.f('fk_waves_survey_version_id_survey_versions'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_waves')),
    sa.UniqueConstraint('program_id', 'occurrence', name=op.f('uq_waves_program_id_occurrence'))
    )
    op.create_table('invitations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('wave_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('side', sa.Enum('external', 'internal', name='side', native_enum=False, create_constraint=True), nullable=False, comment='frozen at invitation'),
    sa.Column('seniority', sa.String(length=50), nullable=False, comment='frozen at invitation'),
    sa.Column('status', sa.Enum('invited', 'responded', 'skipped', 'expired', name='status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('skip_reason', sa.String(length=50), nullable=True),
    sa.Column('token_hash', sa.String(length=64), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('invited_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reminders_sent', sa.Integer(), nullable=False),
    sa.Column('last_reminded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('responded_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status <> 'skipped' OR skip_reason IS NOT NULL", name=op.f('ck_invitations_skips_have_a_reason')),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_invitations_account_id_accounts'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_invitations_person_id_people'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['wave_id'], ['waves.id'], name=op.f('fk_invitations_wave_id_waves'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invitations')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_invitations_token_hash')),
    sa.UniqueConstraint('wave_id', 'person_id', 'account_id', name=op.f('uq_invitations_wave_id_person_id_account_id'))
    )
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.create_index('ix_invitations_person_id_invited_at', ['person_id', 'invited_at'], unique=False)

    op.create_table('responses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('invitation_id', sa.Integer(), nullable=True, comment='one submission per invitation; empty for imported history'),
    sa.Column('wave_id', sa.Integer(), nullable=True),
    sa.Column('survey_version_id', sa.Integer(), nullable=True),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False, comment='the account answered about'),
    sa.Column('side', sa.Enum('external', 'internal', name='side', native_enum=False, create_constraint=True), nullable=False, comment='as at answer time'),
    sa.Column('seniority', sa.String(length=50), nullable=False, comment='as at answer time'),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('source', sa.Enum('form', 'api', 'import', name='source', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('external_ref', sa.String(length=100), nullable=True, comment='id in the system an import came from'),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_responses_account_id_accounts'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['invitation_id'], ['invitations.id'], name=op.f('fk_responses_invitation_id_invitations'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_responses_person_id_people'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['survey_version_id'], ['survey_versions.id'], name=op.f('fk_responses_survey_version_id_survey_versions'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['wave_id'], ['waves.id'], name=op.f('fk_responses_wave_id_waves'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_responses')),
    sa.UniqueConstraint('external_ref', name=op.f('uq_responses_external_ref')),
    sa.UniqueConstraint('invitation_id', name=op.f('uq_responses_invitation_id'))
    )
    with op.batch_alter_table('responses', schema=None) as batch_op:
        batch_op.create_index('ix_responses_account_id_submitted_at', ['account_id', 'submitted_at'], unique=False)
        batch_op.create_index('ix_responses_person_id_submitted_at', ['person_id', 'submitted_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_responses_wave_id'), ['wave_id'], unique=False)

    op.create_table('answers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('response_id', sa.Integer(), nullable=False),
    sa.Column('question_key', sa.String(length=50), nullable=False),
    sa.Column('question_type', sa.Enum('nps', 'rating', 'choice', 'multi_choice', 'text', name='question_type', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('dimension', sa.String(length=50), nullable=True),
    sa.Column('value', sa.Float(), nullable=True, comment='nps or rating as answered'),
    sa.Column('scaled', sa.Float(), nullable=True, comment="0-100 on the question's scale"),
    sa.Column('text', sa.Text(), nullable=True),
    sa.Column('choices', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('sentiment', sa.Float(), nullable=True, comment='of the text, -1..1'),
    sa.ForeignKeyConstraint(['response_id'], ['responses.id'], name=op.f('fk_answers_response_id_responses'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_answers')),
    sa.UniqueConstraint('response_id', 'question_key', name=op.f('uq_answers_response_id_question_key'))
    )


def downgrade():
    op.drop_table('answers')
    with op.batch_alter_table('responses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_responses_wave_id'))
        batch_op.drop_index('ix_responses_person_id_submitted_at')
        batch_op.drop_index('ix_responses_account_id_submitted_at')

    op.drop_table('responses')
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.drop_index('ix_invitations_person_id_invited_at')

    op.drop_table('invitations')
    op.drop_table('waves')
    op.drop_table('questions')
    op.drop_table('complementary_cohorts')
    with op.batch_alter_table('cohort_members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cohort_members_person_id'))

    op.drop_table('cohort_members')
    op.drop_table('survey_versions')
    op.drop_table('programs')
    op.drop_table('surveys')
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_messages_status_next_attempt_at')

    op.drop_table('outbox_messages')
    op.drop_table('cohorts')
