"""工作台 in Chromium (issue 13): the main account lands on what needs it now, the live block takes
new figures when the page hears an event, and each tile opens its list; at 1280 and 390 px."""
import re

import pytest
from playwright.sync_api import expect

from tests.browser.test_foundation_flows import sign_in


@pytest.fixture(scope="module")
def home_world(make_live):
    m = make_live
    shop = m.shop(name="星河数码旗舰店")
    m.account(shop, role="main", login="home-main", display_name="店主")
    buyer = m.buyer(login="home-buyer", display_name="张三")
    order = m.order(shop, buyer, order_no="6926555500000000001", item_summary="机械键盘 87键", paid_fen=29_900)
    m.case(order, requested_fen=5_000)
    return {"m": m, "shop": shop, "buyer": buyer}


def tile(page, label: str):
    return page.locator(".tile", has=page.get_by_text(label, exact=True)).locator(".tile-n")


def test_main_account_sees_what_needs_it_and_the_block_updates_in_place(page, live_server, home_world, shot):
    sign_in(page, live_server.url, "/login", "home-main")
    page.goto(live_server.url + "/")
    expect(page).to_have_url(re.compile(r"/home$"))
    expect(page.get_by_role("heading", name="工作台", level=1)).to_be_visible()
    expect(tile(page, "待审核的售后单")).to_have_text("1")
    shot(page, "issue13-home-01-1280")

    m = home_world["m"]
    m.case(m.order(home_world["shop"], home_world["buyer"], item_summary="鼠标垫"), requested_fen=1_000)
    page.evaluate("window.__samePage = true")
    page.evaluate("htmx.trigger(document.body, 'messages-changed')")  # what the bell sends when news arrive
    expect(tile(page, "待审核的售后单")).to_have_text("2")
    assert page.evaluate("window.__samePage === true")  # swapped in place, no reload

    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # no sideways scroll
    shot(page, "issue13-home-02-390")
    page.set_viewport_size({"width": 1280, "height": 800})
    page.get_by_role("link", name=re.compile("待审核的售后单")).click()
    expect(page).to_have_url(re.compile(r"/after-sales\?status=awaiting_merchant"))
    expect(page.locator("#cases-results tbody tr")).to_have_count(2)


def test_the_first_tab_offers_to_skip_to_the_content(page, live_server, home_world):
    sign_in(page, live_server.url, "/login", "home-main")
    page.goto(live_server.url + "/home")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="跳到主要内容")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
