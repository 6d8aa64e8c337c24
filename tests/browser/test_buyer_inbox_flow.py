"""R25 in Chromium: a buyer whose payout fails on a frozen wallet sees the bell go to 1 by itself,
opens the message, reads what to do, and lands on the order; the bell is back to nothing."""
import re
import uuid
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from tests.browser.test_foundation_flows import sign_in


@pytest.fixture(scope="module")
def inbox_world(make_live, live_server):
    live_server.app.config["BELL_POLL_SECONDS"] = 1  # the bell's timer, shortened for the test
    m = make_live
    shop = m.shop(name="星河数码旗舰店")
    staff = m.account(shop, role="staff", login="inbox-staff", display_name="客服小李")
    m.quota(staff, 5_000, 20_000)
    m.funds(shop, 1_000_000)
    buyer = m.buyer(login="frozen-buyer", display_name="赵六")  # the simulated channel's frozen wallet
    order = m.order(shop, buyer, order_no="6926700000000000001", item_summary="保温杯", paid_fen=8_900,
                    paid_at=m.now - timedelta(days=1))
    return {"staff": staff, "order": order}


def test_r25_buyer_sees_the_bell_go_to_1_and_reads_the_failed_payout(page, live_server, inbox_world, shot):
    from webapp import clock
    from webapp.extensions import db
    from webapp.services import payouts as psvc

    sign_in(page, live_server.url, "/buyer/login", "frozen-buyer")
    page.goto(live_server.url + "/my/orders")
    bell = page.locator("header .bell")
    expect(bell).to_be_visible()
    expect(bell.locator(".bell-count")).to_have_count(0)

    # The shop pays ¥8.00 while the buyer looks at their orders; the channel refuses: wallet frozen.
    db.session.rollback()
    psvc.create_payout(db.session, inbox_world["staff"], psvc.PayoutIntent(
        inbox_world["order"].order_no, 800, "price_difference", "", uuid.uuid4().hex), clock.now())
    expect(bell.locator(".bell-count")).to_have_text("1", timeout=45_000)  # no reload: the bell polls
    shot(page, "issue10-r25-01-buyer-bell-1", full_page=False)

    bell.click()
    expect(page.get_by_role("heading", name="站内信")).to_be_visible()
    item = page.locator("li.message").first
    expect(item).to_contain_text("一笔打款未能到账")
    expect(item).to_contain_text("¥8.00")
    expect(item).to_contain_text("您的钱包已被冻结：请先解冻钱包，再请商家重新打款。")
    shot(page, "issue10-r25-02-buyer-messages")

    item.get_by_role("button", name="查看订单").click()
    expect(page).to_have_url(re.compile(r"/my/orders/6926700000000000001#payout-\d+$"))
    expect(page.locator("header .bell .bell-count")).to_have_count(0)
    page.goto(live_server.url + "/my/messages")
    expect(page.locator("li.message.unread")).to_have_count(0)
    expect(page.get_by_role("button", name="全部标为已读")).to_have_count(0)
    shot(page, "issue10-r25-03-buyer-messages-read", full_page=False)
