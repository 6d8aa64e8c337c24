"""Issue 4 in Chromium: the workspace from the after-sales side, the 360 px chat panel, the
bell going up when a payout fails, records."""
import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from tests.browser.test_foundation_flows import sign_in
from tests.browser.test_payout_flow import payouts_for

# The whole payout flow in Chromium on both databases (issue 4: "on SQLite and on PostgreSQL").
pytestmark = pytest.mark.parametrize(
    "live_server", ["sqlite", pytest.param("pg", marks=pytest.mark.pg)], indirect=True
)


@pytest.fixture(scope="module")
def screens_world(make_live):
    m = make_live
    shop = m.shop(name="星河数码旗舰店")
    staff = m.account(shop, role="staff", login="ws-staff", display_name="客服小王")
    m.quota(staff, 5_000, 20_000)
    m.funds(shop, 1_000_000)
    buyer = m.buyer(login="ws-buyer", display_name="王五")
    frozen = m.buyer(login="frozen-buyer", display_name="赵六")
    o1 = m.order(shop, buyer, order_no="6926200000000000001", item_summary="蓝牙耳机", paid_fen=49_900,
                 paid_at=m.now - timedelta(days=1))
    m.case(o1, reason="运费争议", requested_fen=1_000)
    m.order(shop, buyer, order_no="6926200000000000002", item_summary="台灯", paid_fen=12_900)
    m.order(shop, buyer, order_no="6926200000000000003", item_summary="收纳箱", paid_fen=4_990)
    m.order(shop, frozen, order_no="6926200000000000004", item_summary="香薰蜡烛", paid_fen=3_900)
    return shop


def review_and_confirm(page, scope, amount, reason="补运费", double=False):
    scope.get_by_label("打款金额（元）").press_sequentially(amount, delay=40)
    expect(scope.locator("#amount-feedback")).to_contain_text("在所有限额之内")
    scope.get_by_label("原因").select_option(label=reason)
    scope.get_by_role("button", name="下一步：核对").click()
    confirm = scope.get_by_role("button", name="确认打款")
    expect(confirm).to_be_visible()
    if double:
        confirm.dblclick()
    else:
        confirm.click()


def test_staff_pays_5_yuan_shipping_fee_from_after_sales_and_watches_it_live(page, live_server, screens_world, shot):
    sign_in(page, live_server.url, "/login", "ws-staff")
    page.locator(".mainnav").get_by_role("link", name="售后").click()
    page.get_by_role("navigation").get_by_role("link", name="小额打款").click()
    expect(page.get_by_role("heading", name="小额打款", exact=True)).to_be_visible()
    page.evaluate("window.__samePage = true")
    page.get_by_placeholder("输入或粘贴订单号").fill("6926200000000000001")
    page.get_by_role("button", name="查找订单").click()
    flow = page.locator("#payout-flow")
    expect(flow).to_contain_text("王五")
    expect(flow).to_contain_text("0/5")
    shot(page, "issue4-01-workspace-order-found")
    flow.get_by_label("打款金额（元）").press_sequentially("60", delay=40)
    expect(flow.locator("#amount-feedback")).to_contain_text("超过你的单笔打款上限 ¥50.00")
    shot(page, "issue4-02-inline-check-refusal")
    flow.get_by_label("打款金额（元）").fill("")
    review_and_confirm(page, flow, "5")
    row = flow.locator("tr.payout-row")
    expect(row).to_contain_text(re.compile("待打款|打款中"))
    shot(page, "issue4-03-result-pending")
    expect(row).to_contain_text("打款成功", timeout=15_000)
    assert page.evaluate("window.__samePage === true")
    shot(page, "issue4-04-result-succeeded")
    assert payouts_for("6926200000000000001") == 1


def test_double_click_on_confirm_in_the_workspace_makes_one_payout(page, live_server, screens_world):
    sign_in(page, live_server.url, "/login", "ws-staff")
    page.goto(live_server.url + "/payouts/new?order=6926200000000000002")
    review_and_confirm(page, page.locator("#payout-flow"), "3", double=True)
    expect(page.locator("#payout-flow tr.payout-row")).to_have_count(1)
    page.wait_for_timeout(500)
    assert payouts_for("6926200000000000002") == 1


def test_embedded_panel_at_360px_completes_a_payout(page, live_server, screens_world, shot):
    page.set_viewport_size({"width": 360, "height": 720})
    sign_in(page, live_server.url, "/login", "ws-staff")
    page.goto(live_server.url + "/embed/payout?order=6926200000000000003")
    expect(page.locator(".topbar")).to_have_count(0)
    shot(page, "issue4-05-embed-360-amount", full_page=False)
    review_and_confirm(page, page.locator("#payout-flow"), "2")
    row = page.locator("#payout-flow tr.payout-row")
    expect(row).to_contain_text("打款成功", timeout=15_000)
    assert page.evaluate("document.documentElement.scrollWidth") <= 360  # nothing wider than the panel
    shot(page, "issue4-06-embed-360-succeeded", full_page=False)


def test_frozen_wallet_fails_live_and_the_bell_goes_up(page, live_server, screens_world, shot):
    sign_in(page, live_server.url, "/login", "ws-staff")
    page.goto(live_server.url + "/payouts/new?order=6926200000000000004")
    bell = page.locator("a.bell")
    before = bell.locator(".bell-count").text_content() if bell.locator(".bell-count").count() else "0"
    review_and_confirm(page, page.locator("#payout-flow"), "4", reason="补差价")
    row = page.locator("#payout-flow tr.payout-row")
    expect(row).to_contain_text("打款失败", timeout=15_000)
    expect(row).to_contain_text("买家钱包已冻结")
    expect(bell.locator(".bell-count")).to_have_text(str(int(before) + 1))
    shot(page, "issue4-07-failed-bell")
    bell.click()
    expect(page.get_by_role("heading", name="站内信")).to_be_visible()
    expect(page.locator("main")).to_contain_text("6926200000000000004")
    shot(page, "issue4-08-messages")
    page.get_by_role("button", name="查看打款").first.click()
    expect(page).to_have_url(re.compile(r"/orders/6926200000000000004#payout-\d+"))


def test_records_page(page, live_server, screens_world, shot):
    sign_in(page, live_server.url, "/login", "ws-staff")
    page.goto(live_server.url + "/payouts")
    expect(page.get_by_role("heading", name="打款记录")).to_be_visible()
    page.get_by_label("状态").select_option(label="打款失败")
    expect(page.locator("#records-results")).to_contain_text("共 1 笔")
    shot(page, "issue4-09-records-failed")
