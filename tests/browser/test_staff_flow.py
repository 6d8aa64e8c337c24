"""Issue 5 in Chromium: the main account creates a sub-account and sets ¥50/¥200; the sub-account
pays ¥50, is refused ¥51 with the R3.1 message; the main account turns payouts off; R2.3."""
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from tests.browser.test_foundation_flows import sign_in


@pytest.fixture(scope="module")
def staff_world(make_live):
    m = make_live
    shop = m.shop(name="星河数码旗舰店")
    m.account(shop, role="main", login="boss", display_name="店主")
    m.funds(shop, 1_000_000)
    buyer = m.buyer(login="sf-buyer", display_name="张三")
    m.order(shop, buyer, order_no="6926300000000000001", item_summary="机械键盘", paid_fen=29_900, paid_at=m.now - timedelta(days=1))
    m.order(shop, buyer, order_no="6926300000000000002", item_summary="鼠标", paid_fen=29_900, paid_at=m.now - timedelta(days=1))
    return shop


def test_main_creates_sub_account_sets_quota_and_staff_is_limited(browser, live_server, staff_world, shot):
    main_ctx = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 860})
    staff_ctx = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 860})
    try:
        boss = main_ctx.new_page()
        sign_in(boss, live_server.url, "/login", "boss")
        boss.get_by_role("link", name="员工").click()
        boss.get_by_role("link", name="新建子账号").click()
        boss.get_by_label("登录名").fill("kefu-xiaozhou")
        boss.get_by_label("显示名称").fill("客服小周")
        boss.get_by_label("初始密码").fill("short")
        boss.get_by_role("button", name="创建子账号").click()
        expect(boss.locator(".error")).to_contain_text("密码至少 10 个字符")
        expect(boss.get_by_label("登录名")).to_have_value("kefu-xiaozhou")
        shot(boss, "issue5-01-create-error")
        boss.get_by_label("初始密码").fill("Zhou2026pay")
        boss.get_by_role("button", name="创建子账号").click()
        row = boss.locator("tr.staff-row", has_text="kefu-xiaozhou")
        expect(row).to_contain_text("不可打款")
        row.get_by_role("link", name="修改配额").click()
        row.get_by_label("允许打款").check()
        row.get_by_label("单笔上限（元）").fill("300")
        row.get_by_label("每日上限（元）").fill("200")
        row.get_by_role("button", name="保存").click()
        expect(row.locator(".error")).to_contain_text("单笔上限不能高于每日上限")  # a 422 swapped in place
        expect(row.get_by_label("单笔上限（元）")).to_have_value("300")
        row.get_by_label("单笔上限（元）").fill("50")
        shot(boss, "issue5-02-quota-editing")
        row.get_by_role("button", name="保存").click()
        expect(row).to_contain_text("¥50.00 / 笔 · ¥200.00 / 天")
        shot(boss, "issue5-03-quota-saved")

        staff = staff_ctx.new_page()
        sign_in(staff, live_server.url, "/login", "kefu-xiaozhou", password="Zhou2026pay")
        staff.goto(live_server.url + "/payouts/new?order=6926300000000000001")
        flow = staff.locator("#payout-flow")
        flow.get_by_label("打款金额（元）").fill("50")
        flow.get_by_role("button", name="下一步：核对").click()
        flow.get_by_role("button", name="确认打款").click()
        expect(flow.locator("tr.payout-row")).to_contain_text("¥50.00")
        staff.goto(live_server.url + "/payouts/new?order=6926300000000000002")
        flow.get_by_label("打款金额（元）").fill("51")
        flow.get_by_role("button", name="下一步：核对").click()
        expect(flow.locator(".error")).to_contain_text("超过你的单笔打款上限 ¥50.00")
        shot(staff, "issue5-04-staff-refused-51")

        row.get_by_role("link", name="修改配额").click()
        row.get_by_label("允许打款").uncheck()
        row.get_by_role("button", name="保存").click()
        expect(row).to_contain_text("不可打款")

        staff.goto(live_server.url + "/payouts/new?order=6926300000000000002")
        expect(flow).not_to_contain_text("R2.3")  # the reason in plain words, never the rule number
        expect(flow).to_contain_text("请联系主账号为你开启打款权限并设置额度")
        shot(staff, "issue5-05-staff-r2-3")

        boss.goto(live_server.url + "/activity")
        expect(boss.locator("main")).to_contain_text("关闭打款权限")
        expect(boss.locator("main")).to_contain_text("创建子账号")
        shot(boss, "issue5-06-activity")
    finally:
        main_ctx.close()
        staff_ctx.close()
