"""The funds page (issue 13 point 4), on SQLite and PostgreSQL: the main account's top-up form
(yuan parsed at the edge, bounds, errors in zh and en beside the field, what was typed kept, one
top-up per form, CSRF), staff read-only, movements with signed amounts and the running balance,
memos translated from their codes, filters by kind and shop-local days, keyset pages, and the
exports of the filtered movements (CSV and XLSX)."""
import csv
import io
import re
from datetime import datetime, timedelta, timezone

import openpyxl
import pytest
from sqlalchemy import func, select

from tests.support import both_backends, intent, page_token, payout_world
from webapp.db import write_transaction
from webapp.models import FundsTopup, LedgerEntry, Movement
from webapp.services import ledger
from webapp.services import payouts as psvc

pytestmark = both_backends


@pytest.fixture
def fw(make, db):
    return payout_world(make, db, funds_fen=0)


def en(client):
    client.post("/lang", data={"lang": "en", "csrf_token": page_token(client, "/login")})


def form_of(client) -> dict:
    html = client.get("/funds").get_data(as_text=True)
    key = re.search(r'id="request_key" name="request_key" type="hidden" value="(\w+)"', html)
    assert key, "no top-up form"
    return {"request_key": key.group(1), "csrf_token": page_token(client, "/funds")}


def available(html: str) -> str:
    return re.search(r'id="available-balance">([^<]+)<', html).group(1)


def rows_of(html: str) -> list[list[str]]:
    """The movements table as text: [when, movement, details, amount, available after] per row."""
    body = html.split('<table class="table ledger">', 1)[1].split("</table>", 1)[0]
    out = []
    for tr in re.findall(r"<tr>(.*?)</tr>", body.split("<tbody>", 1)[1], re.S):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)
        out.append([" ".join(re.sub(r"<[^>]+>", " ", c).split()) for c in cells])
    return out


def test_the_main_account_tops_up_and_sees_the_signed_movement_and_running_balance(client, fw, login_as, db, clock):
    login_as(fw.main)
    data = form_of(client) | {"amount": "1,250.5"}
    resp = client.post("/funds/topup", data=data)
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/funds")
    html = client.get("/funds").get_data(as_text=True)
    assert "已充值 ¥1,250.50。" in html and "当前可用余额：¥1,250.50。" in html
    assert available(html) == "¥1,250.50"
    psvc.create_payout(db.session, fw.main, intent(fw.order, 700), clock.now())  # money out: a hold
    rows = rows_of(client.get("/funds").get_data(as_text=True))
    assert [r[1] for r in rows] == ["打款冻结", "充值"]  # newest first
    hold, top = rows
    assert hold[3] == "−¥7.00" and hold[4] == "¥1,243.50" and "打款单 #" in hold[2] and fw.order.order_no in hold[2]
    assert top[3] == "+¥1,250.50" and top[4] == "¥1,250.50" and "在货款账户页面充值" in top[2] and fw.main.display_name in top[2]
    assert db.session.scalar(select(func.count()).select_from(FundsTopup)) == 1


def test_a_double_submitted_form_tops_up_once(client, fw, login_as, db):
    login_as(fw.main)
    data = form_of(client) | {"amount": "20"}
    assert client.post("/funds/topup", data=data).status_code == 303
    assert client.post("/funds/topup", data=data).status_code == 303  # the same form again (a double click)
    assert available(client.get("/funds").get_data(as_text=True)) == "¥20.00"
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry).where(LedgerEntry.movement == "topup")) == 1
    data["amount"] = "30"  # the same key for another amount: refused, a fresh key, nothing moved
    resp = client.post("/funds/topup", data=data)
    assert resp.status_code == 409 and "这个表单已用于另一笔金额的充值" in resp.get_data(as_text=True)
    assert available(resp.get_data(as_text=True)) == "¥20.00"


@pytest.mark.parametrize("typed, zh, en_text", [
    ("abc", "请以元为单位输入金额，例如 12.50。", "Enter the amount in yuan, like 12.50."),
    ("0.5", "每次充值至少 ¥1.00。", "A top-up is at least ¥1.00."),
    ("1000000.01", "每次充值最多 ¥1,000,000.00。", "A top-up is at most ¥1,000,000.00."),
    ("12.345", "金额最多两位小数（精确到分）。", "Use at most two decimals (fen)."),
    ("", "请输入金额。", "Enter an amount."),
])
def test_a_refused_amount_keeps_what_was_typed_with_the_reason_beside_the_field(client, fw, login_as, db, typed, zh,
                                                                                 en_text):
    login_as(fw.main)
    for lang, text in (("zh", zh), ("en", en_text)):
        if lang == "en":
            en(client)
        resp = client.post("/funds/topup", data=form_of(client) | {"amount": typed})
        html = resp.get_data(as_text=True)
        assert resp.status_code == 422
        field = re.search(r'<input[^>]*id="amount"[^>]*>', html).group(0)
        assert f'value="{typed}"' in field or (typed == "" and 'value=""' in field)
        assert 'aria-invalid="true"' in field and "amount-error" in field
        error = re.search(r'<p class="error" id="amount-error">([^<]*)</p>', html).group(1)
        assert text in error
    assert db.session.scalar(select(func.count()).select_from(FundsTopup)) == 0


def test_a_mangled_form_key_is_refused_with_a_fresh_one_and_no_csrf_token_is_refused(client, fw, login_as, db):
    login_as(fw.main)
    data = form_of(client) | {"amount": "10", "request_key": "not-a-key"}
    resp = client.post("/funds/topup", data=data)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422 and "表单已失效。请核对金额后重新充值。" in html
    assert re.search(r'name="request_key" type="hidden" value="[0-9a-f]{32}"', html)
    no_token = client.post("/funds/topup", data={"amount": "10", "request_key": "f" * 32})
    assert no_token.status_code == 400
    assert db.session.scalar(select(func.count()).select_from(FundsTopup)) == 0


def test_a_declined_top_up_says_why_and_offers_a_fresh_form(client, fw, login_as, db, app):
    from webapp.services.funds import shop_ref

    app.extensions["afterdesk.channel"].declined_shops = {shop_ref(fw.shop.id)}
    login_as(fw.main)
    data = form_of(client) | {"amount": "10"}
    resp = client.post("/funds/topup", data=data)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422 and "银行拒绝了这笔充值，未扣款" in html
    assert 'value="10.00"' in html and f'value="{data["request_key"]}"' not in html
    assert available(html) == "¥0.00"


def test_staff_read_the_funds_page_without_the_top_up(client, fw, login_as, db, clock):
    ledger.topup(db.session, fw.shop.id, 5_000, clock.now())
    login_as(fw.staff)
    html = client.get("/funds").get_data(as_text=True)
    assert 'name="request_key"' not in html and "/funds/topup" not in html
    assert "只有主账号可以为货款账户充值。" in html and available(html) == "¥50.00"
    assert rows_of(html)[0][3] == "+¥50.00"
    resp = client.post("/funds/topup", data={"amount": "10", "request_key": "a" * 32,
                                             "csrf_token": page_token(client, "/funds")})
    assert resp.status_code == 403


def test_memos_are_codes_said_in_the_readers_language_and_old_text_shows_as_it_was(client, make, login_as, db, clock):
    from webapp.services import refunds

    w = payout_world(make, db, paid_fen=3_000, funds_fen=1_000)
    refunds.confirm_settings(db.session, w.main, "note", clock.now())
    refunds.apply(db.session, w.buyer, w.order.order_no, kind="refund_only", goods_intact=None, now=clock.now())
    ledger.topup(db.session, w.shop.id, 5_000, clock.now())  # the CLI's: arrears recovered first
    with write_transaction(db.session):  # a row from before memo codes, with a text no code maps
        funds = ledger.lock_funds(db.session, w.shop.id, clock.now())
        ledger.post(db.session, funds, Movement.TOPUP, 100, clock.now(), memo="manual adjustment #12")
    login_as(w.main)
    html = client.get("/funds").get_data(as_text=True)
    assert "平台运营人员充值" in html and "充值先偿还欠款" in html and "余额不足部分由平台垫付" in html
    assert "manual adjustment #12" in html
    assert "arrears recovered" not in html and "cli topup" not in html and "topup_cli" not in html
    en(client)
    html = client.get("/funds").get_data(as_text=True)
    assert "Top-up by the platform operator" in html and "Arrears paid back from the top-up" in html
    assert "The platform advanced what the balance could not cover" in html
    rows = rows_of(html)
    advance = next(r for r in rows if r[1] == "Platform advance (平台垫付)")
    assert advance[3].startswith("¥20.00") and "available unchanged" in advance[3]  # paid by the platform, not from available


def _topup_at(db, shop_id, fen, at):
    ledger.topup(db.session, shop_id, fen, at)


def test_filters_by_kind_and_by_shop_local_days(client, fw, login_as, db, clock):
    utc = timezone.utc
    for fen, at in [(101, datetime(2026, 11, 22, 15, 59, tzinfo=utc)),   # 22 Nov 23:59 in Shanghai
                    (102, datetime(2026, 11, 22, 16, 1, tzinfo=utc)),    # 23 Nov 00:01
                    (103, datetime(2026, 11, 23, 15, 59, tzinfo=utc)),   # 23 Nov 23:59
                    (104, datetime(2026, 11, 23, 16, 1, tzinfo=utc))]:   # 24 Nov 00:01
        _topup_at(db, fw.shop.id, fen, at)
    clock.set(datetime(2026, 11, 23, 17, 0, tzinfo=utc))
    psvc.create_payout(db.session, fw.main, intent(fw.order, 50), clock.now())
    login_as(fw.main)
    day = client.get("/funds?from=2026-11-23&to=2026-11-23", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<html" not in day  # the results fragment only
    assert [r[3] for r in rows_of(day)] == ["+¥1.03", "+¥1.02"]
    assert [r[0] for r in rows_of(day)] == ["2026-11-23 23:59:00", "2026-11-23 00:01:00"]
    holds = rows_of(client.get("/funds?kind=hold").get_data(as_text=True))
    assert [(r[3], r[4]) for r in holds] == [("−¥0.50", "¥3.60")]
    assert rows_of(client.get("/funds?kind=topup&from=2026-11-24").get_data(as_text=True))[0][3] == "+¥1.04"
    none = client.get("/funds?kind=release").get_data(as_text=True)
    assert "没有符合筛选条件的资金流水。" in none
    junk = client.get("/funds?kind=nonsense&from=2026-13-01&to=x").get_data(as_text=True)
    assert len(rows_of(junk)) == 5  # a filter that makes no sense is ignored, never an error


def test_pages_follow_the_cursor_without_overlap(client, fw, login_as, db, clock, app):
    for i in range(5):
        _topup_at(db, fw.shop.id, 100 + i, clock.now() + timedelta(minutes=i))
    app.config["ORDERS_PAGE_SIZE"] = 2
    login_as(fw.main)
    seen, url = [], "/funds?kind=topup"
    while url:
        html = client.get(url, headers={"HX-Request": "true"}).get_data(as_text=True)
        seen += [r[3] for r in rows_of(html)]
        m = re.search(r'href="([^"]*cursor=[^"]+)"', html)
        url = m.group(1).replace("&amp;", "&") if m else None
        assert url is None or "kind=topup" in url  # the filters ride along
    assert seen == ["+¥1.04", "+¥1.03", "+¥1.02", "+¥1.01", "+¥1.00"]


def test_the_exports_hold_the_filtered_movements_signed_with_the_running_balance(client, fw, login_as, db, clock):
    ledger.topup(db.session, fw.shop.id, 10_000, clock.now())
    psvc.create_payout(db.session, fw.main, intent(fw.order, 700, note="=cmd"), clock.now())
    login_as(fw.main)
    resp = client.get("/funds/export.csv")
    assert resp.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert re.fullmatch(r'attachment; filename="funds-movements-20261123-100000\.csv"', resp.headers["Content-Disposition"])
    rows = list(csv.reader(io.StringIO(resp.get_data().decode("utf-8-sig"))))
    assert rows[0] == ["时间", "变动类型", "可用余额变动（元）", "变动后可用余额（元）", "变动金额（元）", "订单号", "打款单",
                       "售后单", "备注", "操作人"]
    hold, top = rows[1], rows[2]
    assert (hold[2], hold[3], hold[4], hold[5]) == ("-7.00", "93.00", "7.00", f'="{fw.order.order_no}"')
    assert (top[2], top[3], top[5], top[8]) == ("100.00", "100.00", "", "平台运营人员充值")
    only_topups = list(csv.reader(io.StringIO(client.get("/funds/export.csv?kind=topup").get_data().decode("utf-8-sig"))))
    assert len(only_topups) == 2
    empty = list(csv.reader(io.StringIO(client.get("/funds/export.csv?kind=release").get_data().decode("utf-8-sig"))))
    assert len(empty) == 1 and empty[0][0] == "时间"  # the header row, always

    book = openpyxl.load_workbook(io.BytesIO(client.get("/funds/export.xlsx").get_data()))
    sheet = book.active
    header, hold, top = [[c for c in row] for row in sheet.iter_rows(min_row=1, max_row=3)]
    assert header[0].value == "时间" and sheet.freeze_panes == "A2"
    assert hold[2].value == -7 and hold[2].data_type == "n" and hold[2].number_format == "0.00"
    assert hold[3].value == 93 and hold[3].number_format == "0.00"
    assert hold[5].value == fw.order.order_no and isinstance(hold[5].value, str) and hold[5].number_format == "@"
    assert isinstance(hold[0].value, datetime) and hold[0].value == datetime(2026, 11, 23, 10, 0)  # shop-local
    assert top[2].value == 100 and top[8].value == "平台运营人员充值"
