"""after-sales case reasons stored as codes, said in the reader's language (issue 13 point 3)

Revision ID: 0015_reason_codes
Revises: 0014_funds_topup
Create Date: 2026-11-30 08:00:00

after_sales_case.reason held Chinese text ("极速退款", "退款申请" from the refund service; the demo's
"商品破损" …), so the English pages showed Chinese. It now holds a code
(webapp/domain/refund_rules.py CaseReason) the pages translate. The texts the app wrote are mapped
to their codes here, and back on downgrade; any other text is left as it is and shown as it is.
No schema change.
"""
from alembic import op
import sqlalchemy as sa


revision = '0015_reason_codes'
down_revision = '0014_funds_topup'
branch_labels = None
depends_on = None

# Text older code wrote -> code (webapp/domain/refund_rules.py CaseReason). Keep in step with it.
REASON_CODES = {
    "极速退款": "fast_refund",
    "退款申请": "refund_application",
    "商品破损": "damaged",
    "少发漏发": "missing_items",
    "尺寸不合适": "wrong_size",
    "七天无理由": "no_reason_7_days",
    "质量问题": "quality",
    "运费争议": "shipping_dispute",
}


def upgrade():
    case = sa.table('after_sales_case', sa.column('reason', sa.String))
    for text, code in REASON_CODES.items():
        op.execute(case.update().where(case.c.reason == text).values(reason=code))


def downgrade():
    case = sa.table('after_sales_case', sa.column('reason', sa.String))
    for text, code in REASON_CODES.items():
        op.execute(case.update().where(case.c.reason == code).values(reason=text))
