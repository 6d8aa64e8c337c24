"""R27 in Chromium: a main account signed in on three devices opens 登录设备 from the top bar, sees
each device (this one marked), signs out its phone in place (htmx), then every other device; the
phone and the other computer are back on the sign-in page, this browser stays in."""
import re

import pytest
from playwright.sync_api import expect

from tests.browser.test_foundation_flows import sign_in

IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/17.5 Mobile/15E148 Safari/604.1")
WINDOWS_EDGE = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
                "Safari/537.36 Edg/131.0.2903.86")


@pytest.fixture(scope="module")
def sessions_world(make_live):
    shop = make_live.shop(name="星河数码旗舰店")
    make_live.account(shop, role="main", login="sess-boss", display_name="店主")
    return shop


def test_r27_a_merchant_sees_its_sessions_and_signs_out_the_others(browser, live_server, sessions_world, shot):
    base = live_server.url
    desk = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 800})
    phone = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844}, user_agent=IPHONE)
    office = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 800}, user_agent=WINDOWS_EDGE)
    try:
        pages = {}
        for name, ctx in (("phone", phone), ("office", office), ("desk", desk)):
            pages[name] = ctx.new_page()
            sign_in(pages[name], base, "/login", "sess-boss")
        me = pages["desk"]
        me.get_by_role("link", name="登录设备").click()
        expect(me.get_by_role("heading", name="登录设备")).to_be_visible()
        rows = me.locator("#sessions tbody tr")
        expect(rows).to_have_count(3)
        this = me.locator("#sessions tr.current")
        expect(this).to_contain_text("本设备")
        expect(this).to_contain_text("当前")
        expect(this.get_by_role("button")).to_have_count(0)  # this one signs out with the top bar's button
        iphone_row = rows.filter(has_text="iPhone")
        expect(iphone_row).to_contain_text("Safari 17 · iPhone")
        expect(rows.filter(has_text="Edge 131 · Windows")).to_have_count(1)
        expect(iphone_row).to_contain_text("127.0.0.1")
        shot(me, "r27-01-my-sessions")
        pages["phone"].goto(base + "/account/sessions")  # the same page on the phone (stacked rows)
        expect(pages["phone"].locator("#sessions tr.current")).to_contain_text("Safari 17 · iPhone")
        shot(pages["phone"], "r27-01b-my-sessions-phone")

        iphone_row.get_by_role("button", name="退出登录").click()
        expect(me.locator("#sessions .flash")).to_contain_text("该设备已退出登录")
        expect(rows).to_have_count(2)
        expect(me).to_have_url(re.compile(r"/account/sessions$"))  # swapped in place
        shot(me, "r27-02-phone-signed-out")

        pages["phone"].goto(base + "/orders")
        expect(pages["phone"]).to_have_url(re.compile(r"/login\?next="))
        pages["office"].goto(base + "/orders")
        expect(pages["office"].get_by_role("heading", name="订单管理")).to_be_visible()

        me.get_by_role("button", name="退出其他所有设备").click()
        expect(me.locator("#sessions .flash")).to_contain_text("已退出其他 1 个设备的登录")
        expect(rows).to_have_count(1)
        expect(me.locator("#sessions")).to_contain_text("没有其他浏览器或设备登录此账号")
        shot(me, "r27-03-signed-out-everywhere-else")
        pages["office"].goto(base + "/orders")
        expect(pages["office"]).to_have_url(re.compile(r"/login\?next="))
        me.goto(base + "/orders")
        expect(me.get_by_role("heading", name="订单管理")).to_be_visible()  # this browser stays in

        me.goto(base + "/activity")
        expect(me.locator("main")).to_contain_text("退出了一个登录设备")
        expect(me.locator("main")).to_contain_text("退出了其他所有设备")
        shot(me, "r27-04-activity")
    finally:
        for ctx in (desk, phone, office):
            ctx.close()
