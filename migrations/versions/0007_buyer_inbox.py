"""buyer in-site messages (R25)

Revision ID: 0007_buyer_inbox
Revises: 0006_refund_consistency
Create Date: 2026-11-25 12:30:00

A message has exactly one audience: a shop (shop_id) or a buyer (buyer_id). Buyer messages are
about a payout or an after-sales case; one per (audience, kind, payout or case).
"""
from alembic import op
import sqlalchemy as sa


revision = '0007_buyer_inbox'
down_revision = '0006_refund_consistency'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('insite_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('buyer_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('case_id', sa.Integer(), nullable=True))
        batch_op.alter_column('shop_id', existing_type=sa.Integer(), nullable=True)
        batch_op.drop_constraint('uq_insite_message_kind_payout', type_='unique')
        batch_op.create_unique_constraint('uq_insite_message_shop_kind_payout', ['shop_id', 'kind', 'payout_id'])
        batch_op.create_unique_constraint('uq_insite_message_buyer_kind_payout', ['buyer_id', 'kind', 'payout_id'])
        batch_op.create_unique_constraint('uq_insite_message_buyer_kind_case', ['buyer_id', 'kind', 'case_id'])
        batch_op.create_foreign_key(batch_op.f('fk_insite_message_buyer_id_buyer'), 'buyer', ['buyer_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_insite_message_case_id_after_sales_case'), 'after_sales_case',
                                    ['case_id'], ['id'])
        batch_op.create_check_constraint(batch_op.f('ck_insite_message_one_audience'),
                                         '(shop_id IS NULL) <> (buyer_id IS NULL)')
        batch_op.create_check_constraint(batch_op.f('ck_insite_message_one_subject'),
                                         'payout_id IS NULL OR case_id IS NULL')
        batch_op.create_index('ix_insite_message_buyer_created', ['buyer_id', 'created_at', 'id'], unique=False)


def downgrade():
    op.execute("DELETE FROM insite_message WHERE buyer_id IS NOT NULL")  # the old schema has no buyer audience
    with op.batch_alter_table('insite_message', schema=None) as batch_op:
        batch_op.drop_index('ix_insite_message_buyer_created')
        batch_op.drop_constraint(batch_op.f('ck_insite_message_one_subject'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_insite_message_one_audience'), type_='check')
        batch_op.drop_constraint(batch_op.f('fk_insite_message_case_id_after_sales_case'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_insite_message_buyer_id_buyer'), type_='foreignkey')
        batch_op.drop_constraint('uq_insite_message_buyer_kind_case', type_='unique')
        batch_op.drop_constraint('uq_insite_message_buyer_kind_payout', type_='unique')
        batch_op.drop_constraint('uq_insite_message_shop_kind_payout', type_='unique')
        batch_op.create_unique_constraint('uq_insite_message_kind_payout', ['kind', 'payout_id'])
        batch_op.alter_column('shop_id', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column('case_id')
        batch_op.drop_column('buyer_id')
