"""Issue 13 points 4 and 5 in Chromium, on SQLite and PostgreSQL: the main account tops up on the
funds page (arrears paid back first) and sees the new balance and the signed movements; a refused
amount keeps what was typed; the records page's Excel export downloads and opens with openpyxl,
order numbers as text and money as numbers. Screenshots of the funds page at 1280 and 390 px."""
import io
import re
from datetime import timedelta

import openpyxl
import pytest
from playwright.sync_api import expect

from tests.browser.test_foundation_flows import sign_in

pytestmark = pytest.mark.parametrize(
    "live_server", ["sqlite", pytest.param("pg", marks=pytest.mark.pg)], indirect=True
)

ORDER_NO = "6926300000000000019"


@pytest.fixture(scope="module")
def funds_world(make_live, live_server):
    """A shop whose fast refund of ¥30 found ¥10 in its funds account (¥20 in arrears, R13), and a
    ¥12.50 payout made before the refund."""
    from webapp.extensions import db
    from webapp.services import payouts as svc
    from webapp.services import refunds

    m = make_live
    shop = m.shop(name="晨光数码专营店")
    main = m.account(shop, role="main", login="fb-main", display_name="店主老陈")
    m.account(shop, role="staff", login="fb-staff", display_name="客服小李")
    m.funds(shop, 2_250)
    buyer = m.buyer(login="fb-buyer", display_name="周七")
    paid = m.order(shop, buyer, order_no=ORDER_NO, item_summary="机械键盘", paid_fen=39_900,
                   paid_at=m.now - timedelta(days=1))
    svc.create_payout(db.session, main, svc.PayoutIntent(ORDER_NO, 1_250, "shipping_fee", "=补运费", "fb-payout-1"),
                      m.now)
    refunded = m.order(shop, buyer, order_no="6926300000000000027", item_summary="鼠标垫", paid_fen=3_000,
                       paid_at=m.now - timedelta(hours=2))
    refunds.confirm_settings(db.session, main, "7天内未发货可极速退款。", m.now)
    refunds.apply(db.session, buyer, refunded.order_no, kind="refund_only", goods_intact=None, now=m.now)
    db.session.commit()
    return {"shop": shop, "paid": paid}


def test_the_main_account_tops_up_and_sees_the_balance_and_the_signed_movements(page, live_server, funds_world, shot):
    sign_in(page, live_server.url, "/login", "fb-main")
    page.locator(".mainnav").get_by_role("link", name="资金").click()
    expect(page.get_by_role("heading", name="货款账户", exact=False)).to_be_visible()
    expect(page.locator("#available-balance")).to_have_text("¥0.00")
    expect(page.get_by_role("alert")).to_contain_text("¥20.00")  # the arrears notice

    amount = page.get_by_label("充值金额（元）")
    amount.fill("0.5")
    page.get_by_role("button", name="充值", exact=True).click()
    expect(page.locator("#amount-error")).to_have_text("每次充值至少 ¥1.00。")
    expect(page.get_by_label("充值金额（元）")).to_have_value("0.5")  # what was typed is kept
    expect(page.get_by_label("充值金额（元）")).to_have_attribute("aria-invalid", "true")
    shot(page, "issue13-funds-01-refused-amount-1280")

    page.get_by_label("充值金额（元）").fill("100")
    page.get_by_role("button", name="充值", exact=True).click()
    expect(page.locator(".flash-success")).to_contain_text("已充值 ¥100.00。")
    expect(page.locator(".flash-success")).to_contain_text("其中 ¥20.00 先用于偿还欠款。")
    expect(page.locator("#available-balance")).to_have_text("¥80.00")
    expect(page.get_by_role("alert")).to_have_count(0)  # the arrears are cleared
    rows = page.locator("table.ledger tbody tr")
    expect(rows.nth(0)).to_contain_text("充值先偿还欠款")
    expect(rows.nth(0).locator("td").nth(3)).to_have_text("−¥20.00")
    expect(rows.nth(0).locator("td").nth(4)).to_have_text("¥80.00")
    expect(rows.nth(1)).to_contain_text("在货款账户页面充值")
    expect(rows.nth(1).locator("td").nth(3)).to_have_text("+¥100.00")
    expect(rows.nth(1).locator("td").nth(4)).to_have_text("¥100.00")
    expect(page.locator("table.ledger")).to_contain_text("平台垫付")
    shot(page, "issue13-funds-02-topped-up-1280")

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling on a phone
    shot(page, "issue13-funds-03-topped-up-390")

    page.set_viewport_size({"width": 1280, "height": 800})
    page.get_by_label("类型").select_option(label="充值")
    expect(rows).to_have_count(2)  # the demo set-up's top-up and this one, nothing else
    expect(page).to_have_url(re.compile(r"kind=topup"))
    shot(page, "issue13-funds-04-filtered-1280")


def test_staff_see_the_funds_page_without_the_top_up(page, live_server, funds_world, shot):
    sign_in(page, live_server.url, "/login", "fb-staff")
    page.goto(live_server.url + "/funds")
    expect(page.get_by_text("只有主账号可以为货款账户充值。")).to_be_visible()
    expect(page.get_by_label("充值金额（元）")).to_have_count(0)
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    shot(page, "issue13-funds-05-staff-390")


def test_the_records_excel_export_downloads_and_opens_with_order_numbers_as_text(page, live_server, funds_world,
                                                                                 tmp_path, shot):
    sign_in(page, live_server.url, "/login", "fb-main")
    page.goto(live_server.url + "/payouts/new")
    chart = page.locator("svg.chart")
    expect(chart.locator("text.cap-label")).to_have_text("每日上限 ¥15,000.00，远高于图中各天 ↑")
    expect(chart.locator("line.cap-line")).to_have_count(1)
    shot(page, "issue13-chart-cap-1280")
    page.locator(".mainnav").get_by_role("link", name="打款记录").click()
    with page.expect_download() as info:
        page.get_by_role("link", name="导出 Excel").click()
    download = info.value
    assert re.fullmatch(r"payouts-\d{8}-\d{6}\.xlsx", download.suggested_filename)
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    sheet = openpyxl.load_workbook(io.BytesIO(path.read_bytes())).active
    header, *rows = list(sheet.iter_rows())
    assert [c.value for c in header][:4] == ["打款单", "订单号", "买家", "打款金额（元）"]
    row = next(r for r in rows if r[1].value == ORDER_NO)
    assert isinstance(row[1].value, str) and row[1].number_format == "@"
    assert row[3].value == 12.5 and row[3].data_type == "n" and row[3].number_format == "0.00"
    assert row[5].value == "=补运费" and row[5].data_type == "s"  # the note stays text, never a formula
