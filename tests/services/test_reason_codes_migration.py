"""Migration 0015 (issue 13 point 3): after-sales case reasons the older code wrote in Chinese become
codes the pages translate, and back on downgrade; any other text stays as it is. SQLite and
PostgreSQL (`fresh_url`)."""
from __future__ import annotations

import sqlalchemy as sa

from tests.services.test_migrations import NOW, _insert, connect, current, downgrade, upgrade
from webapp.domain.refund_rules import CASE_REASON_LABELS, CaseReason

BEFORE, REVISION = "0014_funds_topup", "0015_reason_codes"
TEXTS = {"极速退款": "fast_refund", "退款申请": "refund_application", "商品破损": "damaged", "少发漏发": "missing_items",
         "尺寸不合适": "wrong_size", "七天无理由": "no_reason_7_days", "质量问题": "quality", "运费争议": "shipping_dispute"}


def _reasons(url) -> dict[int, str]:
    with connect(url) as conn:
        return dict(conn.execute(sa.text("SELECT id, reason FROM after_sales_case")).all())


def test_0015_maps_the_chinese_case_reasons_to_codes_and_back(fresh_url):
    assert set(TEXTS.values()) == {r.value for r in CaseReason} == set(CASE_REASON_LABELS)  # every code, one text each
    upgrade(fresh_url, BEFORE)
    with connect(fresh_url) as conn, conn.begin():
        shop = _insert(conn, "shop", name="星河", certified=True, setup_complete=True, daily_payout_cap_fen=1_500_000,
                       undo_window_seconds=0, created_at=NOW)
        buyer = _insert(conn, "buyer", login="b-0015", display_name="张三", password_hash="x", active=True,
                        session_epoch=0, created_at=NOW)
        order = _insert(conn, "orders", order_no="6926000000000015001", shop_id=shop, buyer_id=buyer,
                        item_summary="数据线", quantity=1, paid_fen=9_900, paid_at=NOW, status="paid")
        ids = {text: _insert(conn, "after_sales_case", shop_id=shop, order_id=order, buyer_id=buyer, kind="refund_only",
                             requested_fen=100, reason=text, status="awaiting_merchant", created_at=NOW)
               for text in [*TEXTS, "买家自己写的原因"]}
    upgrade(fresh_url, REVISION)
    assert current(fresh_url) == REVISION
    after = _reasons(fresh_url)
    assert {text: after[i] for text, i in ids.items()} == {**TEXTS, "买家自己写的原因": "买家自己写的原因"}
    downgrade(fresh_url, BEFORE)
    back = _reasons(fresh_url)
    assert {text: back[i] for text, i in ids.items()} == {text: text for text in ids}
