"""Issue 13 point 3 in Chromium (zh): the refusal names the limit that binds, the limit chips beside
the amount refresh as the merchant types (a quota disabled meanwhile shows at once), 继续打款 says
what it did and the status follows, and a buyer sees why a payout did not arrive."""
from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from tests.browser.test_foundation_flows import sign_in

pytestmark = pytest.mark.parametrize(
    "live_server", ["sqlite", pytest.param("pg", marks=pytest.mark.pg)], indirect=True
)


@pytest.fixture(scope="module")
def explain_world(make_live):
    m = make_live
    shop = m.shop(name="星河数码旗舰店", undo_window_seconds=600)  # 继续打款 has something to skip
    m.account(shop, role="main", login="ex-boss", display_name="店长王")
    staff = m.account(shop, role="staff", login="ex-staff", display_name="客服小周")
    m.quota(staff, 5_000, 20_000)
    m.funds(shop, 1_000_000)
    buyer = m.buyer(login="ex-buyer", display_name="张三")
    frozen = m.buyer(login="frozen-buyer", display_name="赵六")
    m.order(shop, buyer, order_no="6926700000000000001", item_summary="手机壳", paid_fen=1_980,
            paid_at=m.now - timedelta(hours=3))
    m.order(shop, buyer, order_no="6926700000000000002", item_summary="蓝牙音箱", paid_fen=19_900)
    m.order(shop, buyer, order_no="6926700000000000003", item_summary="台灯", paid_fen=12_900)
    m.order(shop, frozen, order_no="6926700000000000004", item_summary="香薰蜡烛", paid_fen=3_900,
            paid_at=m.now - timedelta(days=1))
    return shop


def _account(login):
    from webapp.extensions import db
    from webapp.models import MerchantAccount

    db.session.rollback()
    return db.session.scalar(db.select(MerchantAccount).where(MerchantAccount.login == login))


def test_the_refusal_names_the_binding_limit_and_the_chips_follow_a_quota_change(page, live_server, explain_world, shot):
    from webapp import clock
    from webapp.extensions import db
    from webapp.services import staff as staff_svc

    sign_in(page, live_server.url, "/login", "ex-boss")
    page.goto(live_server.url + "/payouts/new?order=6926700000000000001")
    flow = page.locator("#payout-flow")
    flow.get_by_label("打款金额（元）").press_sequentially("99999", delay=30)
    feedback = flow.locator("#amount-feedback")
    expect(feedback).to_contain_text("该订单最多可打款 ¥19.80（即订单实付金额）")
    expect(feedback).not_to_contain_text("¥15,000.00")
    expect(flow.locator("#payout-allowances li.binding")).to_contain_text("¥19.80")
    shot(page, "issue13-explain-01-refusal-names-the-order")

    staff_context = page.context.browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 800})
    staff_page = staff_context.new_page()  # the sub-account, in its own browser
    sign_in(staff_page, live_server.url, "/login", "ex-staff")
    staff_page.goto(live_server.url + "/payouts/new?order=6926700000000000002")
    staff_flow = staff_page.locator("#payout-flow")
    chips = staff_flow.locator("#payout-allowances")
    expect(chips).to_contain_text("我的单笔上限 ¥50.00")
    staff_svc.update_quota(db.session, _account("ex-boss"), _account("ex-staff").id, enabled=False,
                           per_payout_fen=5_000, daily_fen=20_000, now=clock.now())
    staff_flow.get_by_label("打款金额（元）").press_sequentially("5", delay=30)
    expect(staff_flow.locator("#amount-feedback")).to_contain_text("你的账号没有打款配额")
    expect(chips).to_contain_text("我的打款配额 无配额")
    expect(chips).not_to_contain_text("¥50.00")
    expect(chips).to_contain_text("当前最多可打 ¥0.00")
    shot(staff_page, "issue13-explain-02-chips-after-quota-disabled")
    staff_svc.update_quota(db.session, _account("ex-boss"), _account("ex-staff").id, enabled=True,
                           per_payout_fen=3_000, daily_fen=20_000, now=clock.now())
    staff_flow.get_by_label("打款金额（元）").fill("6")
    expect(chips).to_contain_text("我的单笔上限 ¥30.00")
    expect(staff_flow.locator("#amount-feedback")).to_contain_text("在所有限额之内")
    staff_context.close()


def test_continue_payout_says_it_sent_the_payout_and_the_status_follows(page, live_server, explain_world, shot):
    sign_in(page, live_server.url, "/login", "ex-boss")
    page.goto(live_server.url + "/orders/6926700000000000003")
    section = page.locator("#payouts")
    section.get_by_label("打款金额（元）").fill("3")
    section.get_by_role("button", name="下一步：核对").click()
    section.get_by_role("button", name="确认打款").click()
    row = section.locator("tr.payout-row").first
    expect(row).to_contain_text("仍可撤回")  # the 600 s undo window runs
    row.get_by_role("button", name="立即发送").click()
    expect(row).to_contain_text("已立即发起打款")
    shot(page, "issue13-explain-03-continue-payout-said")
    expect(row).to_contain_text("打款成功", timeout=20_000)


def test_the_buyer_sees_why_a_payout_did_not_arrive_and_what_to_do(page, live_server, explain_world, shot):
    from webapp import clock, worker
    from webapp.extensions import db
    from webapp.models import Payout
    from webapp.services import payouts as svc

    boss = _account("ex-boss")
    created = svc.create_payout(db.session, boss, svc.PayoutIntent("6926700000000000004", 500, "compensation",
                                                                     "抱歉，补偿一下", "e" * 32), clock.now())
    pid = created.payout_id
    svc.continue_payout(db.session, boss, pid, clock.now())
    for _ in range(100):  # the embedded worker sends it; the channel refuses the frozen wallet
        db.session.rollback()
        if db.session.get(Payout, pid).status == "failed":
            break
        worker.run_once(clock.now())
        page.wait_for_timeout(200)
    sign_in(page, live_server.url, "/buyer/login", "frozen-buyer")
    expect(page.locator("main")).to_contain_text("星河数码旗舰店")
    page.goto(live_server.url + "/my/orders/6926700000000000004")
    payout = page.locator(f"#payout-{pid}")
    expect(payout).to_contain_text("未到账")
    expect(payout).to_contain_text("你的钱包已冻结，支付渠道无法打款到账。请先解冻钱包，再联系店铺重新给你打款。")
    expect(page.locator("main")).to_contain_text("星河数码旗舰店")
    shot(page, "issue13-explain-04-buyer-failed-payout")
