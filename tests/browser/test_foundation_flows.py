"""Issue 2 flows in Chromium: a staff member finds an order as they type; buyers stay in their lane."""
import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from tests.support import PASSWORD


@pytest.fixture(scope="module")
def shop_world(make_live):
    m = make_live
    shop = m.shop(name="星河数码旗舰店")
    other = m.shop(name="晨光家居小铺")
    staff = m.account(shop, role="staff", login="ui-staff", display_name="客服小李")
    m.account(shop, role="main", login="ui-main", display_name="店主")
    alice = m.buyer(login="ui-alice", display_name="张三")
    bob = m.buyer(login="ui-bob", display_name="李四")
    orders = [
        m.order(shop, alice, order_no=f"69261{i:014d}", item_summary=f"蓝牙耳机 降噪版 #{i}", paid_fen=49_900,
                paid_at=m.now - timedelta(hours=i))
        for i in range(30)
    ]
    target = m.order(shop, alice, order_no="6926777712345678901", item_summary="机械键盘 87键", paid_fen=29_900)
    m.case(target, reason="商品破损", requested_fen=5_000)
    bobs = m.order(other, bob, order_no="6926888800000000001", item_summary="纯棉四件套", paid_fen=39_900)
    return {"staff": staff, "alice": alice, "bob": bob, "target": target, "bobs": bobs, "orders": orders}


def sign_in(page, base, path, login, password=PASSWORD):
    page.goto(base + path)
    page.get_by_label("登录名").fill(login)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    # Wait for the sign-in to land before the test navigates on (a goto would cancel it).
    expect(page).not_to_have_url(re.compile(r"/(buyer/)?login"))


def test_staff_searches_an_order_as_they_type_and_opens_it(page, live_server, shop_world, shot):
    base = live_server.url
    sign_in(page, base, "/login", "ui-staff")
    expect(page.get_by_role("heading", name="订单管理")).to_be_visible()
    expect(page.locator("#orders-results tbody tr")).to_have_count(25)  # first page
    shot(page, "issue2-01-orders-list")

    box = page.get_by_placeholder("订单号、后 4 位、买家姓名或手机尾号")
    page.evaluate("window.__samePage = true")  # survives only if the page is not reloaded
    box.press_sequentially("69267777", delay=60)
    expect(page.locator("#orders-results tbody tr")).to_have_count(1)
    expect(page.locator("#orders-results")).to_contain_text("机械键盘 87键")
    assert page.evaluate("window.__samePage === true")  # results changed in place, no page load
    expect(page).to_have_url(re.compile(r"/orders\?q=69267777"))  # hx-push-url keeps the search in the address
    shot(page, "issue2-02-search-as-you-type")

    page.get_by_role("link", name="6926777712345678901").click()
    expect(page.get_by_role("heading", name="订单详情")).to_be_visible()
    expect(page.locator("main")).to_contain_text("¥299.00")
    expect(page.locator("main")).to_contain_text("张三")
    expect(page.locator("main")).to_contain_text("商品破损")
    expect(page.locator("#payouts")).to_contain_text("小额打款")
    shot(page, "issue2-03-order-detail")

    page.go_back()
    expect(page.get_by_placeholder("订单号、后 4 位、买家姓名或手机尾号")).to_have_value("69267777")
    expect(page.locator("#orders-results tbody tr")).to_have_count(1)


def test_search_with_no_match_says_so(page, live_server, shop_world):
    sign_in(page, live_server.url, "/login", "ui-staff")
    page.get_by_placeholder("订单号、后 4 位、买家姓名或手机尾号").press_sequentially("123", delay=30)
    expect(page.locator("#orders-results")).to_contain_text("没有找到。可以试试订单号或买家手机的后 4 位，或买家姓名。")


def test_buyer_cannot_open_another_buyers_order_by_url(page, live_server, shop_world, shot):
    base = live_server.url
    sign_in(page, base, "/buyer/login", "ui-alice")
    expect(page.get_by_role("heading", name="我的订单")).to_be_visible()
    expect(page.locator("main")).to_contain_text("机械键盘 87键")
    expect(page.locator("main")).not_to_contain_text("纯棉四件套")
    shot(page, "issue2-04-buyer-orders")
    resp = page.goto(base + "/my/orders/" + shop_world["bobs"].order_no)
    assert resp.status == 404
    expect(page.get_by_role("heading", name="未找到")).to_be_visible()
    expect(page.locator("main")).not_to_contain_text("纯棉四件套")
    shot(page, "issue2-05-buyer-other-order-404")


def test_english_switch_and_narrow_screen(page, live_server, shop_world, shot):
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, live_server.url, "/login", "ui-staff")
    expect(page.get_by_role("heading", name="订单管理")).to_be_visible()
    shot(page, "issue2-06-orders-390px-zh", full_page=False)
    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("heading", name="Order management")).to_be_visible()
    page.get_by_role("link", name="6926777712345678901").click()
    expect(page.get_by_role("heading", name="Order detail")).to_be_visible()
    shot(page, "issue2-07-order-detail-390px-en", full_page=False)


def test_wrong_password_shows_the_error_and_keeps_the_login(page, live_server, shop_world, shot):
    page.goto(live_server.url + "/login")
    page.get_by_label("登录名").fill("ui-staff")
    page.get_by_label("密码").fill("wrong-password")
    page.get_by_role("button", name="登录").click()
    expect(page.locator(".error")).to_have_text("登录名或密码错误，或账号已停用。")
    expect(page.get_by_label("登录名")).to_have_value("ui-staff")
    shot(page, "issue2-08-login-error")
