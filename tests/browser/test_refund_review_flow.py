"""R23/R24 in Chromium: a buyer of a shop without fast refund still applies (the page says why it
goes to the shop's review); the main account approves in its own browser; the buyer's page turns
to refunded live, and the order follows its money (closed, refunded)."""
import pytest
from playwright.sync_api import expect

from tests.browser.test_foundation_flows import sign_in


@pytest.fixture(scope="module")
def review_world(make_live):
    m = make_live
    shop = m.shop(name="晨光家居小铺", certified=False)
    m.account(shop, role="main", login="rv-boss", display_name="店主老陈")
    m.funds(shop, 100_000)
    buyer = m.buyer(login="rv-buyer", display_name="孙八")
    m.order(shop, buyer, order_no="6928100000000000001", item_summary="竹制收纳盒", paid_fen=4_990)


def test_r23_buyer_without_fast_refund_applies_and_the_merchant_decides(browser, live_server, review_world, shot):
    buyer_ctx = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844})
    boss_ctx = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 860})
    try:
        buyer = buyer_ctx.new_page()
        sign_in(buyer, live_server.url, "/buyer/login", "rv-buyer")
        buyer.goto(live_server.url + "/my/orders/6928100000000000001")
        refunds = buyer.locator("#refunds")
        expect(refunds.locator(".refund-why")).to_be_visible()  # why it goes to review, not fast refund
        shot(buyer, "issue10-06-buyer-no-fast-refund-offer-390", full_page=False)
        refunds.get_by_role("link", name="申请退款").click()
        buyer.get_by_label("仅退款").check()
        buyer.get_by_role("button", name="提交申请").click()
        status = buyer.locator("#refund-status")
        expect(status).to_contain_text("待商家处理")
        buyer.evaluate("window.__samePage = true")

        boss = boss_ctx.new_page()
        sign_in(boss, live_server.url, "/login", "rv-boss")
        boss.locator(".mainnav").get_by_role("link", name="售后").click()
        boss.locator("table a", has_text="#").first.click()
        boss.get_by_role("button", name="同意并退款 ¥49.90").click()
        expect(boss.locator(".flash-success")).to_contain_text("已向买家退款 ¥49.90")
        boss.goto(live_server.url + "/orders/6928100000000000001")
        expect(boss.locator("main")).to_contain_text("交易关闭")
        shot(boss, "issue10-07-merchant-order-closed-after-refund")

        expect(status).to_contain_text("已退款", timeout=10_000)
        assert buyer.evaluate("window.__samePage === true")
        shot(buyer, "issue10-08-buyer-refunded-390", full_page=False)
    finally:
        buyer_ctx.close()
        boss_ctx.close()
