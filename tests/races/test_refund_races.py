"""R13 under a race: applications racing on one order (a double-tap, two devices) refund it at
most once, on SQLite and PostgreSQL."""
import pytest
from sqlalchemy import func, select

from tests.support import assert_money_invariants, both_backends, payout_world, race
from webapp.models import AfterSalesCase, Buyer
from webapp.services import refunds

pytestmark = [both_backends, pytest.mark.race]


@pytest.mark.parametrize("kind, intact", [("refund_only", None), ("return_and_refund", False)])
def test_r13_racing_applications_refund_at_most_once(app, db, make, clock, kind, intact):
    w = payout_world(make, db, paid_fen=3_000, funds_fen=1_000)  # short of funds: the advance path races too
    refunds.confirm_settings(db.session, w.main, "note", clock.now())
    order_no, buyer_id, now = w.order.order_no, w.buyer.id, clock.now()

    def attempt(i):
        applied = refunds.apply(db.session, db.session.get(Buyer, buyer_id), order_no, kind=kind, goods_intact=intact, now=now)
        return applied.case.id, applied.created

    results = race(app, 12, attempt)
    assert all(ok for ok, _ in results), [v for ok, v in results if not ok]
    assert len({cid for _, (cid, _) in results}) == 1
    assert sum(created for _, (_, created) in results) == 1
    cases = db.session.scalars(select(AfterSalesCase).where(AfterSalesCase.order_id == w.order.id)).all()
    assert len(cases) == 1
    refunded = db.session.scalar(select(func.coalesce(func.sum(AfterSalesCase.refund_fen), 0)).where(AfterSalesCase.order_id == w.order.id))
    assert refunded == (3_000 if intact is None else 0)
    assert_money_invariants(db, w.shop.id)


def test_r14_approvals_racing_refund_once(app, db, make, clock):
    w = payout_world(make, db, paid_fen=3_000, funds_fen=10_000, refund_quota=(100_000, 1_000_000))
    refunds.confirm_settings(db.session, w.main, "note", clock.now())
    case_id = refunds.apply(db.session, w.buyer, w.order.order_no, kind="return_and_refund", goods_intact=False,
                            now=clock.now()).case.id
    main_id, staff_id, now = w.main.id, w.staff.id, clock.now()
    from webapp.models import MerchantAccount

    def attempt(i):
        actor = db.session.get(MerchantAccount, main_id if i % 2 else staff_id)
        return refunds.approve(db.session, actor, case_id, now).id

    results = race(app, 10, attempt)
    assert sum(ok for ok, _ in results) == 1
    assert all(isinstance(v, refunds.CaseClosed) for ok, v in results if not ok)
    assert_money_invariants(db, w.shop.id)
