"""The demo seed produces only consistent refunds (R24), on SQLite and PostgreSQL: every seeded
case is walked and its money checked against the ledger and its order."""
from sqlalchemy import func, select

from tests.support import assert_money_invariants, both_backends
from webapp.models import AfterSalesCase, LedgerEntry, Order, Shop
from webapp.services import refunds

pytestmark = both_backends


def test_r24_demo_seed_cases_have_their_money_and_orders_follow(app, db, runner, clock):
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    cases = db.session.scalars(select(AfterSalesCase).order_by(AfterSalesCase.id)).all()
    assert len(cases) == 24
    statuses = {c.status for c in cases}
    assert {"refunded", "awaiting_merchant"} <= statuses
    for case in cases:
        moved = db.session.scalar(select(func.coalesce(func.sum(LedgerEntry.amount_fen), 0)).where(
            LedgerEntry.case_id == case.id, LedgerEntry.movement.in_(("refund", "advance"))))
        if case.status == "refunded":
            assert case.refund_fen and case.refund_fen > 0, case.id
            assert moved == case.refund_fen, case.id
        else:
            assert case.refund_fen is None and moved == 0, case.id
    for order in db.session.scalars(select(Order)):
        refunded = db.session.scalar(select(func.coalesce(func.sum(AfterSalesCase.refund_fen), 0)).where(
            AfterSalesCase.order_id == order.id, AfterSalesCase.status == "refunded"))
        assert order.refunded_fen == refunded <= order.paid_fen, order.order_no
        if order.refund_state == "full":
            assert order.status == "closed", order.order_no
        # R23: the buyer is never offered a second refund of money already refunded.
        offer = refunds.buyer_offer(db.session, order, clock.now())
        if order.refunded_fen >= order.paid_fen:
            assert offer.offer in ("none", "open"), order.order_no
    for shop in db.session.scalars(select(Shop)):
        assert_money_invariants(db, shop.id)
