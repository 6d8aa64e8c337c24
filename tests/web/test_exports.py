"""Payout record exports (issue 13 point 5), on SQLite and PostgreSQL: the XLSX beside the CSV with
the same filters, order numbers as text and money as numbers, and the CSV fixes: 19-digit order
numbers that survive Excel, one charset in the Content-Type, a BOM, the header row of an empty
export, no formula in any cell a person typed, file names with the shop-local date. And the 14-day
chart on the payout workspace draws the shop's daily cap, labelled, in zh and en."""
import csv
import io
import re
from datetime import datetime, timezone

import openpyxl
import pytest

from tests.support import both_backends, intent, page_token, payout_world
from webapp.services import payouts as svc

pytestmark = both_backends

ORDER_NO = "6926000000000000019"  # 19 digits: more than Excel's 15 significant ones


@pytest.fixture
def ew(make, db, clock):
    w = payout_world(make, db, paid_fen=10_000, funds_fen=1_000_000, quota=(5_000, 20_000))
    w.long_order = make.order(w.shop, w.buyer, order_no=ORDER_NO)
    svc.create_payout(db.session, w.main, intent(w.long_order, 1_250, note="@SUM(A1:A9)"), clock.now())
    svc.create_payout(db.session, w.staff, intent(w.order, 300, note="谢谢"), clock.now())
    return w


def csv_rows(resp) -> list[list[str]]:
    return list(csv.reader(io.StringIO(resp.get_data().decode("utf-8-sig"), newline="")))


def test_csv_headers_bom_and_excel_safe_order_numbers(client, ew, login_as):
    login_as(ew.main)
    resp = client.get("/payouts/export.csv")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "text/csv; charset=utf-8"  # one charset, not two
    assert resp.headers.getlist("Content-Type") == ["text/csv; charset=utf-8"]
    assert resp.headers["Content-Disposition"] == 'attachment; filename="payouts-20261123-100000.csv"'
    assert resp.get_data().startswith(b"\xef\xbb\xbf")  # the BOM, once
    assert not resp.get_data()[3:].startswith(b"\xef\xbb\xbf")
    rows = csv_rows(resp)
    assert rows[0] == ["打款单", "订单号", "买家", "打款金额（元）", "原因", "给买家的留言", "发起人", "发起时间", "状态",
                       "失败或取消原因", "完成时间"]
    by_order = {r[1]: r for r in rows[1:]}
    assert set(by_order) == {f'="{ORDER_NO}"', f'="{ew.order.order_no}"'}  # Excel keeps every digit of ="…"
    row = by_order[f'="{ORDER_NO}"']
    assert row[3] == "12.50" and row[5] == "'@SUM(A1:A9)" and row[7] == "2026-11-23 10:00:00"


def test_an_empty_csv_export_still_has_its_header_row(client, ew, login_as):
    login_as(ew.main)
    resp = client.get("/payouts/export.csv?status=failed")
    rows = csv_rows(resp)
    assert resp.status_code == 200 and len(rows) == 1 and len(rows[0]) == 11 and rows[0][0] == "打款单"


def test_file_names_carry_the_shop_local_date(client, ew, login_as, clock):
    clock.set(datetime(2026, 11, 23, 17, 30, tzinfo=timezone.utc))  # already 24 Nov, 01:30 in Shanghai
    login_as(ew.main)
    for path, name in (("/payouts/export.csv", "payouts-20261124-013000.csv"),
                       ("/payouts/export.xlsx", "payouts-20261124-013000.xlsx")):
        assert client.get(path).headers["Content-Disposition"] == f'attachment; filename="{name}"'


def test_xlsx_export_order_numbers_as_text_money_as_numbers_and_the_same_filters(client, ew, login_as):
    login_as(ew.main)
    resp = client.get("/payouts/export.xlsx")
    assert resp.status_code == 200
    assert resp.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert resp.content_length == len(resp.get_data())
    sheet = openpyxl.load_workbook(io.BytesIO(resp.get_data())).active
    assert sheet.title == "打款记录" and sheet.freeze_panes == "A2"
    rows = list(sheet.iter_rows())
    assert [c.value for c in rows[0]][:4] == ["打款单", "订单号", "买家", "打款金额（元）"] and len(rows) == 3
    row = next(r for r in rows[1:] if r[1].value == ORDER_NO)
    order_cell, money_cell, note_cell, when_cell = row[1], row[3], row[5], row[7]
    assert isinstance(order_cell.value, str) and order_cell.data_type == "s" and order_cell.number_format == "@"
    assert money_cell.data_type == "n" and money_cell.value == 12.5 and money_cell.number_format == "0.00"
    assert note_cell.value == "@SUM(A1:A9)" and note_cell.data_type == "s"  # typed text stays text, never a formula
    assert when_cell.value == datetime(2026, 11, 23, 10, 0) and when_cell.is_date
    assert isinstance(row[0].value, int)  # the payout number
    # The same filters as the CSV and the page: only the staff member's payout.
    staff_only = openpyxl.load_workbook(io.BytesIO(client.get(f"/payouts/export.xlsx?staff={ew.staff.id}").get_data())).active
    assert [r[1].value for r in staff_only.iter_rows(min_row=2)] == [ew.order.order_no]
    staff_csv = csv_rows(client.get(f"/payouts/export.csv?staff={ew.staff.id}"))
    assert [r[1] for r in staff_csv[1:]] == [f'="{ew.order.order_no}"']
    empty = openpyxl.load_workbook(io.BytesIO(client.get("/payouts/export.xlsx?status=failed").get_data())).active
    assert [[c.value for c in r][0] for r in empty.iter_rows()] == ["打款单"]


def test_xlsx_text_a_person_typed_is_never_a_formula(client, make, db, clock, login_as):
    w = payout_world(make, db)
    evil = make.buyer(display_name='=HYPERLINK("http://evil","x")')
    svc.create_payout(db.session, w.main, intent(make.order(w.shop, evil), 100, note="+cmd|' /C calc'!A0"), clock.now())
    login_as(w.main)
    raw = client.get("/payouts/export.xlsx").get_data()
    assert b"<f>" not in raw.replace(b" ", b"")  # no formula element anywhere in the workbook's XML
    row = list(openpyxl.load_workbook(io.BytesIO(raw)).active.iter_rows(min_row=2))[0]
    assert row[2].value == '=HYPERLINK("http://evil","x")' and row[2].data_type == "s"
    assert row[5].value == "+cmd|' /C calc'!A0" and row[5].data_type == "s"


def test_the_records_page_links_both_exports_with_its_filters(client, ew, login_as):
    login_as(ew.main)
    html = client.get(f"/payouts?staff={ew.staff.id}").get_data(as_text=True)
    assert f'href="/payouts/export.csv?staff={ew.staff.id}"' in html
    assert f'href="/payouts/export.xlsx?staff={ew.staff.id}"' in html and "导出 Excel" in html


def _svg(html: str) -> str:
    return re.search(r'<svg class="chart".*?</svg>', html, re.S).group(0)


def test_the_14_day_chart_draws_the_daily_cap_as_a_labelled_line_in_zh_and_en(client, ew, login_as, make, db, clock):
    """Days far below the cap (¥15.50 against ¥15,000): the bars are scaled to the busiest day and
    the cap's line is drawn above them, said to be off the scale."""
    login_as(ew.main)
    svg = _svg(client.get("/payouts/new").get_data(as_text=True))
    line = re.search(r'<line class="cap-line" x1="0" y1="([\d.]+)" x2="320" y2="([\d.]+)"', svg)
    assert line and line.group(1) == line.group(2) == "1.5"
    assert "每日上限 ¥15,000.00，远高于图中各天 ↑" in svg
    tops = [float(y) for y in re.findall(r'<rect class="bar-[a-z]+" x="[\d.]+" y="([\d.]+)"', svg)]
    assert min(tops) == 14.0  # today's ¥15.50 reaches the top of the plot
    client.post("/lang", data={"lang": "en", "csrf_token": page_token(client, "/login")})
    html = client.get("/payouts/new").get_data(as_text=True)
    assert "Daily cap ¥15,000.00, far above these days ↑" in _svg(html) and "against the daily cap of ¥15,000.00" in html
    assert "Highest day: ¥15.50 (&lt;1% of the daily cap)." in html
    assert "The bars are scaled to the highest day; the cap is far above them." in html


def test_the_chart_scales_to_a_day_above_a_lowered_cap(client, make, db, clock, login_as):
    w = payout_world(make, db, paid_fen=100_000, funds_fen=1_000_000, cap_fen=200_000)
    for _ in range(4):  # ¥300 each: ¥1,200 today
        svc.create_payout(db.session, w.main, intent(make.order(w.shop, w.buyer, paid_fen=100_000), 30_000), clock.now())
    w.shop.daily_payout_cap_fen = 100_000  # the cap lowered later to ¥1,000: today's bar stands above its line
    db.session.commit()
    login_as(w.main)
    html = client.get("/payouts/new").get_data(as_text=True)
    svg = _svg(html)
    cap_y = float(re.search(r'class="cap-line" x1="0" y1="([\d.]+)"', svg).group(1))
    tops = [float(y) for y in re.findall(r'<rect class="bar-[a-z]+" x="[\d.]+" y="([\d.]+)"', svg)]
    assert min(tops) == 14.0 and cap_y == pytest.approx(96 - 82 * 1_000 / 1_200, abs=0.1)
    assert "每日上限 ¥1,000.00</text>" in svg  # to scale: the plain label above its line
    assert "最高一天：¥1,200.00（每日上限的 120%）。" in html
    client.post("/lang", data={"lang": "en", "csrf_token": page_token(client, "/login")})
    assert "Daily cap ¥1,000.00</text>" in _svg(client.get("/payouts/new").get_data(as_text=True))
