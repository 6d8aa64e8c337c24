"""R7 quotas and sub-accounts through the services, on SQLite and PostgreSQL; R19 audit."""
import json

import pytest
from sqlalchemy import select

from tests.support import intent, payout_world, both_backends
from webapp.domain.payout_rules import Code
from webapp.models import AuditEvent, MerchantAccount, PayoutQuota
from webapp.services import payouts as psvc
from webapp.services import staff as svc

pytestmark = both_backends


def actions(db, shop_id):
    return [e.action for e in db.session.scalars(select(AuditEvent).where(AuditEvent.shop_id == shop_id).order_by(AuditEvent.id))]


def test_r7_create_sub_account_starts_without_payout_permission(db, make, clock):
    w = payout_world(make, db)
    acc = svc.create_staff(db.session, w.main, login="kefu-new", display_name="新客服", password="Kefu2026abc", now=clock.now())
    assert acc.role == "staff" and acc.shop_id == w.shop.id
    q = db.session.get(PayoutQuota, acc.id)
    assert q.enabled is False and q.per_payout_fen is None
    with pytest.raises(psvc.PayoutRefused) as info:
        psvc.create_payout(db.session, acc, intent(w.order, 100), clock.now())
    assert info.value.refusals[0].code == Code.NO_QUOTA
    assert actions(db, w.shop.id)[-1] == "staff.create"


def test_create_sub_account_validation(db, make, clock):
    w = payout_world(make, db)
    with pytest.raises(svc.StaffError) as info:
        svc.create_staff(db.session, w.main, login="X", display_name="", password="short", now=clock.now())
    assert set(info.value.problems) == {"login", "display_name", "password"}
    with pytest.raises(svc.StaffError) as info:
        svc.create_staff(db.session, w.main, login=w.staff.login, display_name="x", password="Kefu2026abc", now=clock.now())
    assert info.value.problems == {"login": ["login_taken"]}


def test_r7_quota_change_takes_effect_for_the_very_next_payout(db, make, clock):
    w = payout_world(make, db, paid_fen=100_000, quota=(5_000, 20_000))
    o2 = make.order(w.shop, w.buyer, paid_fen=100_000)
    svc.update_quota(db.session, w.main, w.staff.id, enabled=True, per_payout_fen=1_000, daily_fen=20_000, now=clock.now())
    with pytest.raises(psvc.PayoutRefused) as info:
        psvc.create_payout(db.session, w.staff, intent(w.order, 1_001), clock.now())
    assert info.value.refusals[0].code == Code.OVER_PER_PAYOUT_LIMIT
    psvc.create_payout(db.session, w.staff, intent(w.order, 1_000), clock.now())
    svc.update_quota(db.session, w.main, w.staff.id, enabled=False, per_payout_fen=1_000, daily_fen=20_000, now=clock.now())
    with pytest.raises(psvc.PayoutRefused) as info:
        psvc.create_payout(db.session, w.staff, intent(o2, 100), clock.now())
    assert info.value.refusals[0].code == Code.NO_QUOTA


def test_r7_lowering_the_daily_limit_below_todays_use_is_allowed_and_blocks(db, make, clock):
    w = payout_world(make, db, paid_fen=100_000, quota=(5_000, 20_000))
    o2 = make.order(w.shop, w.buyer, paid_fen=100_000)
    psvc.create_payout(db.session, w.staff, intent(w.order, 5_000), clock.now())
    saved = svc.update_quota(db.session, w.main, w.staff.id, enabled=True, per_payout_fen=3_000, daily_fen=4_000, now=clock.now())
    assert saved.below_used_today and saved.used_today_fen == 5_000
    with pytest.raises(psvc.PayoutRefused) as info:
        psvc.create_payout(db.session, w.staff, intent(o2, 1), clock.now())
    assert info.value.refusals[0].code == Code.OVER_ACCOUNT_DAILY_LIMIT


@pytest.mark.parametrize(
    "kw, field",
    [(dict(enabled=True, per_payout_fen=0, daily_fen=100), "per_payout"),
     (dict(enabled=True, per_payout_fen=200, daily_fen=100), "per_payout"),
     (dict(enabled=True, per_payout_fen=100, daily_fen=1_500_001), "daily"),
     (dict(enabled=True, per_payout_fen=None, daily_fen=100), "enabled")],
)
def test_r7_invalid_quota_is_refused_and_nothing_changes(db, make, clock, kw, field):
    w = payout_world(make, db, quota=(5_000, 20_000))
    with pytest.raises(svc.StaffError) as info:
        svc.update_quota(db.session, w.main, w.staff.id, now=clock.now(), **kw)
    assert field in info.value.problems
    q = db.session.get(PayoutQuota, w.staff.id, populate_existing=True)
    assert (q.enabled, q.per_payout_fen, q.daily_fen) == (True, 5_000, 20_000)
    assert "quota.update" not in actions(db, w.shop.id)


def test_r18_a_main_account_cannot_touch_another_shops_staff(db, make, clock):
    w = payout_world(make, db)
    other = payout_world(make, db)
    with pytest.raises(svc.NotInShop):
        svc.update_quota(db.session, other.main, w.staff.id, enabled=False, per_payout_fen=None, daily_fen=None, now=clock.now())
    with pytest.raises(svc.NotInShop):
        svc.set_active(db.session, other.main, w.staff.id, False, clock.now())
    with pytest.raises(svc.NotInShop):
        svc.reset_password(db.session, other.main, w.staff.id, "Another2026x", clock.now())
    with pytest.raises(svc.NotInShop):
        svc.set_active(db.session, w.main, w.main.id, False, clock.now())  # the main account is not managed here
    assert db.session.get(MerchantAccount, w.staff.id).active


def test_r19_every_change_is_audited_with_before_after_and_ip(db, make, clock):
    w = payout_world(make, db, quota=(5_000, 20_000))
    svc.update_quota(db.session, w.main, w.staff.id, enabled=True, per_payout_fen=5_000, daily_fen=8_000, now=clock.now(), ip="10.1.2.3")
    svc.update_quota(db.session, w.main, w.staff.id, enabled=False, per_payout_fen=5_000, daily_fen=8_000, now=clock.now())
    svc.update_quota(db.session, w.main, w.staff.id, enabled=False, per_payout_fen=5_000, daily_fen=8_000, now=clock.now())  # no change
    svc.set_active(db.session, w.main, w.staff.id, False, clock.now())
    svc.set_active(db.session, w.main, w.staff.id, True, clock.now())
    epoch = db.session.get(MerchantAccount, w.staff.id).session_epoch
    svc.reset_password(db.session, w.main, w.staff.id, "Another2026x", clock.now())
    assert db.session.get(MerchantAccount, w.staff.id, populate_existing=True).session_epoch == epoch + 1
    assert actions(db, w.shop.id)[-5:] == ["quota.update", "quota.disable", "staff.disable", "staff.enable", "staff.password_reset"]
    ev = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "quota.update")).one()
    assert json.loads(ev.before)["daily_fen"] == 20_000 and json.loads(ev.after)["daily_fen"] == 8_000
    assert ev.ip == "10.1.2.3" and ev.actor_id == w.main.id and ev.target_id == str(w.staff.id)
