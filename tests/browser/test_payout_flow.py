"""Small payouts in Chromium: a staff member pays a shipping fee from the order page and watches
the status change live; a double-click never pays twice; a frozen wallet fails live."""
import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from tests.browser.test_foundation_flows import sign_in


@pytest.fixture(scope="module")
def pay_world(make_live):
    m = make_live
    shop = m.shop(name="星河数码旗舰店")
    staff = m.account(shop, role="staff", login="pay-staff", display_name="客服小李")
    m.quota(staff, 5_000, 20_000)
    m.funds(shop, 1_000_000)
    buyer = m.buyer(login="pay-buyer", display_name="张三")
    frozen = m.buyer(login="frozen-buyer", display_name="赵六")
    orders = {
        "ok": m.order(shop, buyer, order_no="6926100000000000001", item_summary="机械键盘 87键", paid_fen=29_900,
                      paid_at=m.now - timedelta(days=2)),
        "dbl": m.order(shop, buyer, order_no="6926100000000000002", item_summary="无线鼠标", paid_fen=5_990),
        "frozen": m.order(shop, frozen, order_no="6926100000000000003", item_summary="保温杯", paid_fen=8_900),
        "nojs": m.order(shop, buyer, order_no="6926100000000000004", item_summary="数据线", paid_fen=990),
        "race": m.order(shop, buyer, order_no="6926100000000000005", item_summary="笔记本支架", paid_fen=6_900),
    }
    return {"orders": orders}


def payouts_for(order_no):
    from webapp.extensions import db
    from webapp.models import Order, Payout

    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(Payout).join(Order, Order.id == Payout.order_id)
                             .where(Order.order_no == order_no))


def start_payout(page, amount, reason="补运费", note=""):
    section = page.locator("#payouts")
    section.get_by_label("打款金额（元）").fill(amount)
    section.get_by_label("原因").select_option(label=reason)
    if note:
        section.get_by_label("给买家的留言").fill(note)
    section.get_by_role("button", name="下一步：核对").click()
    expect(section.get_by_role("heading", name="确认打款")).to_be_visible()


def test_staff_pays_a_shipping_fee_and_watches_it_succeed(page, live_server, pay_world, shot):
    sign_in(page, live_server.url, "/login", "pay-staff")
    page.goto(live_server.url + "/orders/6926100000000000001")
    expect(page.locator("#payouts")).to_contain_text("当前最多可打 ¥50.00")
    shot(page, "issue3-01-order-payout-form")
    page.evaluate("window.__samePage = true")
    start_payout(page, "5", note="补偿运费，抱歉")
    expect(page.locator("#payouts")).to_contain_text("¥5.00")
    shot(page, "issue3-02-review")
    page.locator("#payouts").get_by_role("button", name="确认打款").click()
    row = page.locator("#payouts tr.payout-row").first
    expect(row).to_contain_text(re.compile("待打款|打款中"))
    shot(page, "issue3-03-pending")
    expect(row).to_contain_text("打款成功", timeout=15_000)
    assert page.evaluate("window.__samePage === true")  # no reload: the row refreshed itself
    shot(page, "issue3-04-succeeded")
    assert payouts_for("6926100000000000001") == 1


def test_double_click_on_confirm_makes_one_payout(page, live_server, pay_world):
    sign_in(page, live_server.url, "/login", "pay-staff")
    page.goto(live_server.url + "/orders/6926100000000000002")
    start_payout(page, "3")
    page.locator("#payouts").get_by_role("button", name="确认打款").dblclick()
    expect(page.locator("#payouts tr.payout-row")).to_have_count(1)
    page.reload()
    expect(page.locator("#payouts tr.payout-row")).to_have_count(1)
    assert payouts_for("6926100000000000002") == 1


def test_without_javascript_the_flow_works_and_a_resubmitted_confirm_pays_once(browser, live_server, pay_world, shot):
    ctx = browser.new_context(java_script_enabled=False, locale="zh-CN")
    page = ctx.new_page()
    try:
        sign_in(page, live_server.url, "/login", "pay-staff")
        page.goto(live_server.url + "/orders/6926100000000000004")
        start_payout(page, "2")
        form = page.locator("form.payout-review")
        fields = {name: form.locator(f'input[name="{name}"]').input_value()
                  for name in ("csrf_token", "amount", "reason", "note", "request_key")}
        page.locator("#payouts").get_by_role("button", name="确认打款").click()
        expect(page.locator(".flash-success")).to_contain_text("已发起 ¥2.00 的打款")
        # The browser resubmits the same confirm form (reload after POST, back + resubmit).
        again = page.request.post(live_server.url + "/orders/6926100000000000004/payouts", form=fields, max_redirects=0)
        assert again.status == 303
        page.reload()
        expect(page.locator("#payouts tr.payout-row")).to_have_count(1)
        shot(page, "issue3-06-no-javascript")
    finally:
        ctx.close()
    assert payouts_for("6926100000000000004") == 1


def test_frozen_wallet_payout_fails_live_with_the_reason(page, live_server, pay_world, shot):
    sign_in(page, live_server.url, "/login", "pay-staff")
    page.goto(live_server.url + "/orders/6926100000000000003")
    start_payout(page, "8", reason="补差价")
    page.locator("#payouts").get_by_role("button", name="确认打款").click()
    row = page.locator("#payouts tr.payout-row").first
    expect(row).to_contain_text("打款失败", timeout=15_000)
    expect(row).to_contain_text("买家钱包已冻结")
    shot(page, "issue3-05-failed")


def test_a_refusal_at_confirm_time_is_shown_in_place(page, live_server, pay_world, shot):
    """Someone else paid out on the order between review and confirm: R2.2 is shown, nothing made."""
    from webapp import clock
    from webapp.extensions import db
    from webapp.models import MerchantAccount
    from webapp.services import payouts as svc

    sign_in(page, live_server.url, "/login", "pay-staff")
    page.goto(live_server.url + "/orders/6926100000000000005")
    start_payout(page, "1")
    db.session.rollback()
    colleague = db.session.scalar(db.select(MerchantAccount).where(MerchantAccount.login == "pay-staff"))
    svc.create_payout(db.session, colleague, svc.PayoutIntent("6926100000000000005", 100, "other", "", "f" * 32), clock.now())
    page.locator("#payouts").get_by_role("button", name="确认打款").click()
    expect(page.locator("#payout-flow")).to_contain_text("打款过于频繁")
    expect(page.locator("#payout-flow")).not_to_contain_text("R2.2")
    shot(page, "issue4-10-refused-at-confirm")
    assert payouts_for("6926100000000000005") == 1
