"""Step-up re-authentication in Chromium (issue 12 point 3): the staff page asks for the password
before anything is typed; an inline quota save after the password went stale sends the whole page
(HX-Redirect, not a swap into the row) to "confirm your password", a wrong one is said there in zh,
the right one returns to the staff page, and the save then works."""
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from tests.browser.test_foundation_flows import sign_in
from tests.support import PASSWORD


@pytest.fixture(scope="module")
def step_up_world(make_live):
    m = make_live
    shop = m.shop(name="星河数码旗舰店")
    m.account(shop, role="main", login="su-boss", display_name="店主")
    staff = m.account(shop, role="staff", login="su-kefu", display_name="客服小王")
    m.quota(staff, 5_000, 20_000)
    return shop


def test_stale_password_quota_save_goes_through_confirm_and_back(page, live_server, step_up_world, shot):
    cfg = live_server.app.config
    base = live_server.url
    sign_in(page, base, "/login", "su-boss")
    cfg["STEP_UP_MAX_AGE"] = timedelta(0)  # the sign-in is already too old (the live server runs on the real clock)
    try:
        page.goto(base + "/staff")
        notice = page.locator("section.step-up")
        expect(notice).to_contain_text("修改资金相关设置前，请再次输入登录密码")
        shot(page, "step-up-01-staff-page-asks-first")
        row = page.locator("tr.staff-row", has_text="su-kefu")
        row.get_by_role("link", name="修改配额").click()
        row.get_by_label("单笔上限（元）").fill("80")
        row.get_by_role("button", name="保存").click()
        expect(page).to_have_url(f"{base}/account/confirm-password?next=/staff")
        expect(page.get_by_role("heading", name="确认登录密码")).to_be_visible()
        cfg["STEP_UP_MAX_AGE"] = timedelta(minutes=5)
        page.get_by_label("密码").fill("not-the-password")
        page.get_by_role("button", name="确认").click()
        expect(page.locator(".error")).to_contain_text("密码不正确，请输入您登录时使用的密码。")
        shot(page, "step-up-02-wrong-password")
        page.get_by_label("密码").fill(PASSWORD)
        page.get_by_role("button", name="确认").click()
        expect(page).to_have_url(f"{base}/staff")
        expect(page.locator("section.step-up")).to_have_count(0)
        row = page.locator("tr.staff-row", has_text="su-kefu")
        expect(row).to_contain_text("¥50.00 / 笔 · ¥200.00 / 天")  # the refused save changed nothing
        row.get_by_role("link", name="修改配额").click()
        row.get_by_label("单笔上限（元）").fill("80")
        row.get_by_role("button", name="保存").click()
        expect(row).to_contain_text("¥80.00 / 笔 · ¥200.00 / 天")
        shot(page, "step-up-03-saved-after-confirming")
    finally:
        cfg["STEP_UP_MAX_AGE"] = timedelta(minutes=5)
