"""two-factor sign-in (issue 12 point 3; ASVS 2.8): an optional TOTP authenticator for merchant
accounts, its one-time recovery codes, and a shop setting that makes it compulsory for sub-accounts

Revision ID: 0013_two_factor
Revises: 0012_signin_throttle
Create Date: 2026-11-29 09:00:00

merchant_account gets the authenticator's secret (base32), when two-factor was turned on, and the
last 30-second time step whose code was accepted (a code is never accepted twice, ASVS 2.8.4). A
secret without `totp_enabled_at` is not possible (the one being set up lives in the session until
confirmed); the CHECK says two-factor on always has its secret. recovery_code holds only a salted
SHA-256 of each code (ASVS 2.6.2), never the code. shop gets "sub-accounts must use two-factor"
(off). The downgrade drops all of it: every account signs in with its password alone again.
"""
from alembic import op
import sqlalchemy as sa


revision = '0013_two_factor'
down_revision = '0012_signin_throttle'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('merchant_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('totp_secret', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('totp_enabled_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('totp_last_step', sa.BigInteger(), nullable=True))
        batch_op.create_check_constraint('totp_secret_when_enabled', 'totp_enabled_at IS NULL OR totp_secret IS NOT NULL')
    with op.batch_alter_table('shop', schema=None) as batch_op:
        batch_op.add_column(sa.Column('staff_two_factor_required', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    op.create_table(
        'recovery_code',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('account_id', sa.Integer(), nullable=False),
        sa.Column('salt', sa.String(length=32), nullable=False),
        sa.Column('code_hash', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('used_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['account_id'], ['merchant_account.id'],
                                name=op.f('fk_recovery_code_account_id_merchant_account')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_recovery_code')),
    )
    op.create_index(op.f('ix_recovery_code_account_id'), 'recovery_code', ['account_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_recovery_code_account_id'), table_name='recovery_code')
    op.drop_table('recovery_code')
    with op.batch_alter_table('shop', schema=None) as batch_op:
        batch_op.drop_column('staff_two_factor_required')
    with op.batch_alter_table('merchant_account', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_merchant_account_totp_secret_when_enabled'), type_='check')
        batch_op.drop_column('totp_last_step')
        batch_op.drop_column('totp_enabled_at')
        batch_op.drop_column('totp_secret')
