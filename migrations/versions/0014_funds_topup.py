"""funds page: top-ups through the payment channel, the running balance of every movement, memos
stored as codes (issue 13 point 4)

Revision ID: 0014_funds_topup
Revises: 0013_two_factor
Create Date: 2026-11-29 12:00:00

funds_topup holds the top-ups the main account asks for on the funds page (one per form: UNIQUE
shop + request key), and sim_channel_recharge the embedded simulated channel's books of them.

ledger_entry gets `available_after_fen`, the available balance right after each movement (the
funds page's running balance). It is filled here for the rows already there: per shop, the sum of
what each movement did to the available balance, in id order, which is the order the movements
were written in (each under its shop's funds lock); the last one per shop equals the funds
account's available balance. From now on the app writes it with every movement. A second index
(shop, movement, created_at, id) serves the funds page filtered by kind.

ledger_entry.memo held English text; it now holds a code the pages translate. The texts the app
and migration 0006 wrote are mapped to their codes (and back on downgrade); any other text is
left as it is and shown as it is.

Run it with the old app's writers stopped: a movement the old code writes after the fill would
have no running balance (the NOT NULL makes that an error rather than a wrong number).
"""
from alembic import op
import sqlalchemy as sa


revision = '0014_funds_topup'
down_revision = '0013_two_factor'
branch_labels = None
depends_on = None

FEN = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')

# Legacy memo text -> code (webapp/models/funds.py Memo). Keep in step with what older code wrote.
MEMO_CODES = {
    "cli topup": "topup_cli",
    "demo top-up": "topup_demo",
    "arrears recovered": "arrears_recovered",
    "platform advance (平台垫付)": "platform_advance",
    "0006 repair: refund recorded without money": "repair_0006",
    "platform advance (平台垫付); 0006 repair: refund recorded without money": "platform_advance_repair_0006",
}

# What each movement does to the available balance (models/funds.py MOVEMENT_LEGS, as of this revision).
AVAILABLE_DELTA = (
    "CASE WHEN to_account = 'available' THEN amount_fen "
    "WHEN from_account = 'available' THEN -amount_fen ELSE 0 END"
)


def upgrade():
    op.create_table('funds_topup',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('shop_id', sa.Integer(), nullable=False),
    sa.Column('request_key', sa.String(length=64), nullable=False),
    sa.Column('amount_fen', FEN, nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=True),
    sa.Column('channel_ref', sa.String(length=64), nullable=True),
    sa.Column('failure_reason', sa.String(length=64), nullable=True),
    sa.Column('not_after', sa.DateTime(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint('amount_fen > 0', name=op.f('ck_funds_topup_amount_positive')),
    sa.CheckConstraint("status IN ('pending', 'succeeded', 'failed')", name=op.f('ck_funds_topup_status_known')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['merchant_account.id'],
                            name=op.f('fk_funds_topup_requested_by_id_merchant_account')),
    sa.ForeignKeyConstraint(['shop_id'], ['shop.id'], name=op.f('fk_funds_topup_shop_id_shop')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_funds_topup')),
    sa.UniqueConstraint('shop_id', 'request_key', name='uq_funds_topup_shop_request_key')
    )
    op.create_index('ix_funds_topup_pending', 'funds_topup', ['shop_id', 'created_at'], unique=False,
                    sqlite_where=sa.text("status = 'pending'"), postgresql_where=sa.text("status = 'pending'"))
    op.create_table('sim_channel_recharge',
    sa.Column('topup_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('reference', sa.String(length=64), nullable=False),
    sa.Column('shop_ref', sa.String(length=64), nullable=False),
    sa.Column('amount_fen', FEN, nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=64), nullable=True),
    sa.Column('accepted_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('topup_id', name=op.f('pk_sim_channel_recharge'))
    )

    op.add_column('ledger_entry', sa.Column('available_after_fen', FEN, nullable=True))
    op.execute(
        "UPDATE ledger_entry SET available_after_fen = running.balance FROM ("
        f" SELECT id, SUM({AVAILABLE_DELTA}) OVER (PARTITION BY shop_id ORDER BY id ROWS UNBOUNDED PRECEDING) AS balance"
        " FROM ledger_entry) AS running WHERE running.id = ledger_entry.id"
    )
    with op.batch_alter_table('ledger_entry', schema=None) as batch_op:
        batch_op.alter_column('available_after_fen', existing_type=FEN, nullable=False)
        batch_op.create_check_constraint('available_after_not_negative', 'available_after_fen >= 0')
        batch_op.create_index('ix_ledger_entry_shop_movement_created', ['shop_id', 'movement', 'created_at', 'id'],
                              unique=False)

    ledger = sa.table('ledger_entry', sa.column('memo', sa.String))
    for text, code in MEMO_CODES.items():
        op.execute(ledger.update().where(ledger.c.memo == text).values(memo=code))


def downgrade():
    ledger = sa.table('ledger_entry', sa.column('memo', sa.String))
    for text, code in MEMO_CODES.items():
        op.execute(ledger.update().where(ledger.c.memo == code).values(memo=text))
    # The codes only 0014's code writes had no text before: the nearest older wording.
    op.execute(ledger.update().where(ledger.c.memo == 'topup_app').values(memo='app topup'))

    with op.batch_alter_table('ledger_entry', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_entry_shop_movement_created')
        batch_op.drop_constraint(op.f('ck_ledger_entry_available_after_not_negative'), type_='check')
        batch_op.drop_column('available_after_fen')

    op.drop_table('sim_channel_recharge')
    op.drop_index('ix_funds_topup_pending', table_name='funds_topup', sqlite_where=sa.text("status = 'pending'"),
                  postgresql_where=sa.text("status = 'pending'"))
    op.drop_table('funds_topup')
