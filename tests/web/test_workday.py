"""工作台, the merchant's home (issue 13): what needs this account now, each figure a link to the
list it counts, live by one block that answers 204 while nothing changed; R20 (never one's own
approval, the 24 h deadline), R21 (the undo window), R18 (only this shop)."""
from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import event

from tests.support import T0, both_backends, payout_world
from webapp.services import payouts as svc
from webapp.services import workday

pytestmark = both_backends


def pay(db, actor, order, amount_fen, key, now):
    return svc.create_payout(db.session, actor, svc.PayoutIntent(order.order_no, amount_fen, "shipping_fee", "", key),
                             now).payout


def tiles(html: str) -> dict[str, str]:
    """label -> number shown, from the tiles."""
    return {m.group(2).strip(): m.group(1) for m in re.finditer(
        r'<span class="tile-n">([^<]+)</span>\s*<span class="tile-label">([^<]+)</span>', html)}


def test_approvals_wait_for_the_main_account_never_for_the_requester(db, make, clock):
    w = payout_world(make, db, quota=(50_000, 100_000))
    w.shop.payout_approval_fen = 2_000
    make.db.session.commit()
    approver = make.account(w.shop, role="staff", is_approver=True)
    make.quota(approver, 50_000, 100_000)
    other = make.order(w.shop, w.buyer)
    pay(db, w.staff, w.order, 3_000, "big-1", clock.now())
    clock.advance(minutes=5)
    pay(db, approver, other, 3_000, "big-2", clock.now())

    main = workday.needs_me(db.session, w.main, clock.now())
    assert main.may_approve and main.awaiting_my_approval == 2
    assert main.approval_deadline == T0 + timedelta(hours=24)  # R20: the oldest is cancelled then
    mine_excluded = workday.needs_me(db.session, approver, clock.now())
    assert mine_excluded.awaiting_my_approval == 1  # R20: never one's own request
    staff = workday.needs_me(db.session, w.staff, clock.now())
    assert not staff.may_approve and staff.awaiting_my_approval == 0


def test_r21_my_payouts_in_the_undo_window_then_none_once_it_passed(db, make, clock):
    w = payout_world(make, db)
    w.shop.undo_window_seconds = 30
    make.db.session.commit()
    pay(db, w.staff, w.order, 100, "undo-1", clock.now())
    assert workday.needs_me(db.session, w.staff, clock.now()).in_my_undo_window == 1
    assert workday.needs_me(db.session, w.main, clock.now()).in_my_undo_window == 0  # someone else's
    assert workday.needs_me(db.session, w.main, clock.now()).pending == 1  # but the shop's pending
    clock.advance(seconds=31)
    assert workday.needs_me(db.session, w.staff, clock.now()).in_my_undo_window == 0


def test_failed_today_cases_arrears_and_todays_spend(db, make, clock, world):
    svc.withdraw(db.session, world.main_a, world.payout_a.id, clock.now())  # the world's own: out of the way
    p = pay(db, world.main_a, make.order(world.shop_a, world.buyer_x), 200, "to-fail", clock.now())
    svc.record_accepted(db.session, p.id, "ref-1", clock.now(), poll_in=timedelta(seconds=5))
    assert workday.needs_me(db.session, world.main_a, clock.now()).paying_out == 1
    svc.settle_failed(db.session, p.id, "account_frozen", clock.now())
    w = workday.needs_me(db.session, world.main_a, clock.now())
    assert (w.failed_today, w.pending, w.paying_out) == (1, 0, 0)
    assert w.cases_awaiting == 1 and w.oldest_case_at == world.case_a.created_at
    assert w.arrears_fen == 0 and not w.nothing_needs_me
    assert w.today.shop_used_fen == 0  # the failed payout gave its allowance back
    clock.advance(days=1)
    assert workday.needs_me(db.session, world.main_a, clock.now()).failed_today == 0  # a new day
    other = workday.needs_me(db.session, world.main_b, clock.now())  # R18: shop B's own figures
    assert (other.failed_today, other.cases_awaiting) == (0, 1)


def test_the_page_links_every_figure_to_its_list(client, login_as, world, clock):
    login_as(world.main_a)
    html = client.get("/home").get_data(as_text=True)
    assert "<h1>工作台</h1>" in html and 'aria-current="page"' in html
    shown = tiles(html)
    assert shown["待审核的售后单"] == "1" and shown["待打款（全店）"] == "1"
    assert 'href="/after-sales?status=awaiting_merchant"' in html
    assert 'href="/payouts?status=pending"' in html
    assert f'href="/payouts?status=failed&amp;from={T0.date().isoformat()}' in html
    assert "今日支出" in html and "店铺今日打款" in html and "¥1.00 / ¥15,000.00" in html  # the world's payout
    # the lists they open show what they count
    cases = client.get("/after-sales?status=awaiting_merchant").get_data(as_text=True)
    assert f"/after-sales/{world.case_a.id}" in cases
    assert f"/orders/{world.order_a.order_no}" in client.get("/payouts?status=pending").get_data(as_text=True)


def test_the_home_is_where_the_brand_leads_merchants(client, login_as, world):
    login_as(world.staff_a)
    assert client.get("/").headers["Location"] == "/home"


def test_live_block_answers_204_while_nothing_changed_and_the_new_figures_after(client, login_as, world, clock, db):
    login_as(world.main_a)
    hx = {"HX-Request": "true"}
    first = client.get("/home/live", headers=hx)
    assert first.status_code == 200 and "<html" not in first.get_data(as_text=True)
    version = re.search(r"/home/live\?v=([0-9a-f]+)", first.get_data(as_text=True)).group(1)
    assert client.get(f"/home/live?v={version}", headers=hx).status_code == 204
    svc.withdraw(db.session, world.main_a, world.payout_a.id, clock.now())  # the pending one is cancelled
    changed = client.get(f"/home/live?v={version}", headers=hx)
    assert changed.status_code == 200 and tiles(changed.get_data(as_text=True))["待打款（全店）"] == "0"


def test_buyers_and_strangers_have_no_workbench(client, login_as, world):
    assert client.get("/home").status_code in (302, 303)
    login_as(world.buyer_x)
    assert client.get("/home").status_code in (302, 303, 403)


def test_the_home_reads_the_same_few_statements_however_much_history(client, login_as, world, make, clock, db):
    login_as(world.main_a)
    client.get("/home/live", headers={"HX-Request": "true"})  # warm: the session row written

    def count() -> int:
        seen: list[str] = []
        listener = lambda *a: seen.append(a[2])  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            assert client.get("/home/live", headers={"HX-Request": "true"}).status_code == 200
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        return len(seen)

    few = count()
    for i in range(12):
        order = make.order(world.shop_a, world.buyer_x)
        pay(db, world.main_a, order, 100, f"history-{i}", clock.now() - timedelta(days=i))
        make.case(order)
    assert count() == few <= 12
