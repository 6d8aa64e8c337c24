"""Issue 6 in Chromium: a buyer applies for a refund-only fast refund and sees "refunded"; a buyer
with damaged goods sees "awaiting merchant"; the merchant approves and the buyer's page turns
to refunded live. Plus the main account's settlement settings."""
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from tests.browser.test_foundation_flows import sign_in


@pytest.fixture(scope="module")
def refund_world(make_live):
    m = make_live
    shop = m.shop(name="星河数码旗舰店")
    m.account(shop, role="main", login="rf-boss", display_name="店主")
    staff = m.account(shop, role="staff", login="rf-staff", display_name="客服小李")
    m.quota(staff, 5_000, 20_000, refunds=(100_000, 500_000))  # R22: the main account lets it decide refunds
    m.funds(shop, 1_000_000)
    buyer = m.buyer(login="rf-buyer", display_name="张三")
    m.order(shop, buyer, order_no="6926400000000000001", item_summary="蓝牙耳机 降噪版", paid_fen=49_900, paid_at=m.now - timedelta(days=2))
    m.order(shop, buyer, order_no="6926400000000000002", item_summary="空气炸锅 5L", paid_fen=39_900, paid_at=m.now - timedelta(days=3))
    return shop


def test_settlement_settings_fill_review_confirm(page, live_server, refund_world, shot):
    sign_in(page, live_server.url, "/login", "rf-boss")
    page.goto(live_server.url + "/settings/settlement")
    page.get_by_label("退款说明").fill("七天内未拆封可极速退款，退款原路返回，1-3 个工作日到账。")
    page.get_by_label("支持极速退款").check()  # a real choice now, not a pre-ticked disabled box
    page.get_by_role("button", name="下一步：核对").click()
    expect(page.get_by_text("核对：买家将看到以下内容")).to_be_visible()
    shot(page, "issue6-01-settings-review")
    page.get_by_role("button", name="确认并开通极速退款").click()
    expect(page.get_by_text("已固定，不可修改")).to_be_visible()
    expect(page.locator("textarea")).to_have_count(0)
    shot(page, "issue6-02-settings-confirmed")


def test_buyer_refund_only_sees_refunded(page, live_server, refund_world, shot):
    sign_in(page, live_server.url, "/buyer/login", "rf-buyer")
    page.goto(live_server.url + "/my/orders/6926400000000000001")
    page.get_by_role("link", name="申请退款").click()
    page.get_by_label("仅退款").check()
    shot(page, "issue6-03-buyer-apply")
    page.get_by_role("button", name="提交申请").click()
    expect(page.locator("#refund-status")).to_contain_text("已退款")
    expect(page.locator("#refund-status")).to_contain_text("¥499.00")
    expect(page.locator("main")).to_contain_text("七天内未拆封可极速退款")
    shot(page, "issue6-04-buyer-refunded")


def test_damaged_goods_await_merchant_then_turn_refunded_live(browser, live_server, refund_world, shot):
    buyer_ctx = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844})
    staff_ctx = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 860})
    try:
        buyer = buyer_ctx.new_page()
        sign_in(buyer, live_server.url, "/buyer/login", "rf-buyer")
        buyer.goto(live_server.url + "/my/orders/6926400000000000002/refund")
        buyer.get_by_label("退货退款").check()
        buyer.get_by_label("有损坏或已使用").check()
        buyer.get_by_role("button", name="提交申请").click()
        status = buyer.locator("#refund-status")
        expect(status).to_contain_text("待商家处理")
        expect(status).to_contain_text("商品不完好，需由商家审核退货")
        buyer.evaluate("window.__samePage = true")
        shot(buyer, "issue6-05-buyer-awaiting-390", full_page=False)

        staff = staff_ctx.new_page()
        sign_in(staff, live_server.url, "/login", "rf-staff")
        expect(staff.locator(".mainnav .nav-count")).to_have_text("1")
        staff.locator(".mainnav").get_by_role("link", name="售后").click()
        staff.get_by_role("link", name="待审核").click()
        staff.locator("table a", has_text="#").first.click()
        shot(staff, "issue6-06-merchant-review")
        staff.get_by_role("button", name="同意并退款 ¥399.00").click()
        expect(staff.locator(".flash-success")).to_contain_text("已向买家退款 ¥399.00")

        expect(status).to_contain_text("已退款", timeout=10_000)
        assert buyer.evaluate("window.__samePage === true")  # no reload
        expect(status).to_contain_text("商家同意退款")
        shot(buyer, "issue6-07-buyer-refunded-live-390", full_page=False)
    finally:
        buyer_ctx.close()
        staff_ctx.close()
