"""R20/R21 in Chromium: a staff payout above the approval threshold waits, the main account
approves it in its own browser, and the staff member's row turns to 打款成功 without a reload; a
payout withdrawn inside the undo window never reaches the channel (checked in its books)."""
import re

import pytest
from playwright.sync_api import expect

from tests.browser.test_foundation_flows import sign_in
from tests.browser.test_payout_flow import start_payout


@pytest.fixture(scope="module")
def controls_world(make_live):
    m = make_live
    shop = m.shop(name="审批测试店", payout_approval_fen=20_000)
    m.account(shop, role="main", login="ctl-main", display_name="店主老王")
    staff = m.account(shop, role="staff", login="ctl-staff", display_name="客服小周")
    m.quota(staff, 50_000, 100_000)
    m.funds(shop, 1_000_000)
    buyer = m.buyer(login="ctl-buyer", display_name="钱七")
    slow = m.shop(name="撤回测试店", undo_window_seconds=600)
    slow_staff = m.account(slow, role="staff", login="ctl-slow-staff", display_name="客服小吴")
    m.quota(slow_staff, 5_000, 20_000)
    m.funds(slow, 100_000)
    return {
        "big": m.order(shop, buyer, order_no="6927100000000000001", item_summary="投影仪", paid_fen=99_900),
        "undo": m.order(slow, buyer, order_no="6927100000000000002", item_summary="台灯", paid_fen=9_900),
    }


def test_r20_staff_payout_waits_main_approves_staff_sees_it_paid(page, browser, browser_context_args, live_server,
                                                                  controls_world, shot):
    sign_in(page, live_server.url, "/login", "ctl-staff")
    page.goto(live_server.url + "/orders/6927100000000000001")
    page.evaluate("window.__samePage = true")
    start_payout(page, "200")
    page.locator("#payouts").get_by_role("button", name="确认打款").click()
    row = page.locator("#payouts tr.payout-row").first
    expect(row).to_contain_text("待审批")
    expect(row).to_contain_text("等待主账号或审批人审批")
    shot(page, "issue10-01-staff-payout-awaits-approval")

    main = browser.new_context(**browser_context_args)
    try:
        approver = main.new_page()
        sign_in(approver, live_server.url, "/login", "ctl-main")
        expect(approver.locator("nav.mainnav")).to_contain_text("审批1")
        approver.goto(live_server.url + "/payouts/approvals")
        queue_row = approver.locator("tr", has_text="6927100000000000001")
        expect(queue_row).to_contain_text("¥200.00")
        shot(approver, "issue10-02-approval-queue")
        queue_row.get_by_role("button", name="批准").click()
        expect(queue_row).to_contain_text(re.compile("待打款|打款中|打款成功"))
    finally:
        main.close()

    expect(row).to_contain_text("打款成功", timeout=20_000)
    assert page.evaluate("window.__samePage === true")  # no reload: the row followed the decision itself
    shot(page, "issue10-03-approved-and-paid")


def test_r21_withdrawn_inside_the_undo_window_never_reaches_the_channel(page, live_server, controls_world, shot):
    sign_in(page, live_server.url, "/login", "ctl-slow-staff")
    page.goto(live_server.url + "/orders/6927100000000000002")
    start_payout(page, "5")
    page.locator("#payouts").get_by_role("button", name="确认打款").click()
    row = page.locator("#payouts tr.payout-row").first
    expect(row).to_contain_text(re.compile(r"\d+ 秒后发出"))
    shot(page, "issue10-04-undo-window-countdown")
    row.get_by_role("button", name="撤回").click()
    expect(row).to_contain_text("已取消")
    expect(row).to_contain_text("发送前已撤回")
    shot(page, "issue10-05-withdrawn")

    from webapp.extensions import db
    from webapp.models import Order, Payout

    db.session.rollback()
    payout = db.session.query(Payout).join(Order, Order.id == Payout.order_id).filter(
        Order.order_no == "6927100000000000002").one()
    assert payout.status == "cancelled"
    books = live_server.app.extensions["afterdesk.channel"].transfers()
    assert [t for t in books if t["payout_id"] == payout.id] == []
