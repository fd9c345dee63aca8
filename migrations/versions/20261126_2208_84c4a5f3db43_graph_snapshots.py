"""Graph snapshots: an account's stakeholder graph frozen when a wave opens or on demand.

Revision ID: 84c4a5f3db43
Revises: ef4d6d89b1d2
Create Date: 2026-11-26 22:08:43.308222+00:00

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '84c4a5f3db43'
down_revision = 'ef4d6d89b1d2'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('graph_snapshots',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('taken_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.Enum('wave', 'manual', name='reason', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('wave_id', sa.Integer(), nullable=True, comment='the survey wave that opened, if any'),
    sa.Column('graph', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False, comment='node-link JSON of the graph'),
    sa.Column('metrics', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False, comment='coverage and risk figures'),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_graph_snapshots_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_graph_snapshots'))
    )
    with op.batch_alter_table('graph_snapshots', schema=None) as batch_op:
        batch_op.create_index('ix_graph_snapshots_account_id_taken_at', ['account_id', 'taken_at'], unique=False)



def downgrade():
    with op.batch_alter_table('graph_snapshots', schema=None) as batch_op:
        batch_op.drop_index('ix_graph_snapshots_account_id_taken_at')

    op.drop_table('graph_snapshots')
