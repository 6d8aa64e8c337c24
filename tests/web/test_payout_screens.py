"""Issue 4 screens: the workspace and embed entry points (R1), find with reasons (R2), inline
checks (R3), records with filters, totals and CSV (R5), messages and the bell (R6), after-sales
(R8) and buyer (R9) views."""
import csv
import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.support import intent, page_token, payout_world
from webapp import worker
from webapp.models import InSiteMessage
from webapp.services import payouts as svc


@pytest.fixture
def pw(make, db):
    return payout_world(make, db, paid_fen=10_000, funds_fen=1_000_000, quota=(5_000, 8_000))


def en(client):
    client.post("/lang", data={"lang": "en", "csrf_token": page_token(client, "/login")})


@pytest.mark.parametrize("path", ["/payouts/new", "/embed/payout"])
def test_r1_find_the_order_shows_summary_and_the_amount_step(client, pw, login_as, path):
    login_as(pw.staff)
    en(client)
    html = client.get(f"{path}?order={pw.order.order_no}").get_data(as_text=True)
    assert pw.order.order_no in html and pw.buyer.display_name in html and "¥100.00" in html
    assert "0/5" in html and "Start a small payout" in html and 'name="mode" value="' in html
    frag = client.get(f"{path}?order={pw.order.order_no}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert frag.lstrip().startswith('<div id="payout-flow"') and "<html" not in frag


def test_r1_embed_has_no_site_chrome_and_may_be_framed(client, pw, login_as, app):
    login_as(pw.staff)
    resp = client.get(f"/embed/payout?order={pw.order.order_no}")
    html = resp.get_data(as_text=True)
    assert 'class="topbar"' not in html and 'class="embed"' in html
    assert "frame-ancestors 'self'" in resp.headers["Content-Security-Policy"]
    assert "X-Frame-Options" not in resp.headers
    # every other page refuses to be framed
    assert "frame-ancestors 'none'" in client.get("/payouts/new").headers["Content-Security-Policy"]


def test_r1_unknown_order_says_so(client, pw, login_as, make):
    other_shop_order = make.order(make.shop(), pw.buyer)
    login_as(pw.staff)
    en(client)
    for number in ("123", other_shop_order.order_no):
        html = client.get(f"/payouts/new?order={number}", headers={"HX-Request": "true"}).get_data(as_text=True)
        assert f"No order {number} in this shop." in html


def test_r2_order_summary_counts_payouts_by_status(client, pw, login_as, db, clock):
    svc.create_payout(db.session, pw.main, intent(pw.order, 300), clock.now())
    clock.advance(minutes=2)
    login_as(pw.main)
    en(client)
    html = client.get(f"/payouts/new?order={pw.order.order_no}").get_data(as_text=True)
    assert "1/5" in html and "¥3.00" in html  # in progress


@pytest.mark.parametrize("amount, expect", [("50.01", "Above your per-payout limit of ¥50.00"), ("abc", "Enter the amount in yuan"),
                                            ("20", "Within every limit."), ("", "")])
def test_r3_inline_check_as_you_type(client, pw, login_as, amount, expect):
    login_as(pw.staff)
    en(client)
    resp = client.post(f"/orders/{pw.order.order_no}/payouts/check", data={"amount": amount},
                       headers={"HX-Request": "true", "X-CSRFToken": page_token(client, "/orders")})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and 'id="amount-feedback"' in html and expect in html


def test_r4_review_shows_amount_in_words_and_change_keeps_values(client, pw, login_as):
    login_as(pw.staff)
    html = client.get(f"/payouts/new?order={pw.order.order_no}").get_data(as_text=True)
    key = re.search(r'name="request_key" type="hidden" value="(\w+)"', html).group(1)
    data = {"amount": "12.5", "reason": "price_difference", "note": "差价", "request_key": key, "mode": "page",
            "csrf_token": page_token(client, "/orders")}
    review = client.post(f"/orders/{pw.order.order_no}/payouts/review", data=data).get_data(as_text=True)
    assert "壹拾贰元伍角" in review and "¥12.50" in review
    back = client.post(f"/orders/{pw.order.order_no}/payouts/change", data=data).get_data(as_text=True)
    assert 'value="12.5"' in back and "差价" in back and f'value="{key}"' in back


def test_r4_page_mode_confirm_redirects_to_the_result(client, pw, login_as, db):
    login_as(pw.staff)
    html = client.get(f"/payouts/new?order={pw.order.order_no}").get_data(as_text=True)
    key = re.search(r'name="request_key" type="hidden" value="(\w+)"', html).group(1)
    data = {"amount": "5", "reason": "shipping_fee", "note": "", "request_key": key, "mode": "page",
            "csrf_token": page_token(client, "/orders")}
    resp = client.post(f"/orders/{pw.order.order_no}/payouts", data=data)
    assert resp.status_code == 303 and "/payouts/new?order=" in resp.headers["Location"] and "done=" in resp.headers["Location"]
    result = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "已发起打款" in result and 'hx-trigger="every 2s"' in result


def test_r5_records_filters_totals_and_pagination(client, pw, login_as, make, db, clock, app):
    orders = [make.order(pw.shop, pw.buyer, paid_fen=10_000) for _ in range(4)]
    today = clock.now()
    for i, o in enumerate(orders):
        actor = pw.staff if i % 2 else pw.main
        clock.set(today - timedelta(days=i))
        svc.create_payout(db.session, actor, intent(o, 100 * (i + 1)), clock.now())
        worker.run_once(clock.now())  # sent when it was made (a payout never sent is given up later)
    clock.set(today)
    frozen_order = make.order(pw.shop, make.buyer(login="frozen-buyer"))
    svc.create_payout(db.session, pw.main, intent(frozen_order, 700), clock.now())
    worker.run_once(clock.now())  # the frozen one fails; the others go processing
    login_as(pw.staff)  # staff see the whole shop's records
    en(client)
    html = client.get("/payouts").get_data(as_text=True)
    assert "5 payouts" in html and html.count('href="/orders/') >= 5
    failed = client.get("/payouts?status=failed", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "1 payouts" in failed and "¥7.00" in failed and "wallet is frozen" in failed
    mine = client.get(f"/payouts?staff={pw.staff.id}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "2 payouts" in mine
    from webapp.domain.calendar import shop_day

    d = shop_day(clock.now() - timedelta(days=1)).isoformat()
    dated = client.get(f"/payouts?from={d}&to={d}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "1 payouts" in dated and "¥2.00" in dated
    by_order = client.get(f"/payouts?order={orders[3].order_no}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "1 payouts" in by_order
    app.config["ORDERS_PAGE_SIZE"] = 2
    first = client.get("/payouts", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "cursor=" in first and "5 payouts" in first  # totals cover the whole filter, not the page


def test_r5_csv_export_has_bom_and_the_filtered_rows(client, pw, login_as, make, db, clock):
    o2 = make.order(pw.shop, pw.buyer)
    svc.create_payout(db.session, pw.main, intent(pw.order, 500, note="=HYPERLINK(\"x\")"), clock.now())
    svc.create_payout(db.session, pw.staff, intent(o2, 300), clock.now())
    login_as(pw.main)
    resp = client.get(f"/payouts/export.csv?staff={pw.main.id}")
    body = resp.get_data()
    assert resp.mimetype == "text/csv" and "attachment" in resp.headers["Content-Disposition"]
    assert body.startswith("\ufeff".encode("utf-8"))
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0][0] == "打款单" and len(rows) == 2
    # The order number as ="…": Excel keeps all 19 digits (web/exports.py)
    assert rows[1][1] == f'="{pw.order.order_no}"' and rows[1][3] == "5.00" and rows[1][8] == "待打款"
    assert rows[1][5].startswith("'=")  # no formula injection


def test_r6_failed_payout_message_bell_and_read(client, pw, login_as, make, db, clock):
    order = make.order(pw.shop, make.buyer(login="frozen-buyer"))
    p = svc.create_payout(db.session, pw.main, intent(order, 500), clock.now()).payout
    login_as(pw.staff)
    assert 'class="bell-count"' not in client.get("/messages/bell").get_data(as_text=True)
    worker.run_once(clock.now())
    status = client.get(f"/payouts/{p.id}/status", headers={"HX-Request": "true"})
    assert status.status_code == 286 and "messages-changed" in status.headers["HX-Trigger"]
    bell = client.get("/messages/bell").get_data(as_text=True)
    assert '<span class="bell-count"' in bell and ">1<" in bell
    en(client)
    inbox = client.get("/messages").get_data(as_text=True)
    assert "Small payout failed" in inbox and order.order_no in inbox and "wallet is frozen" in inbox
    msg = db.session.scalars(select(InSiteMessage).where(InSiteMessage.shop_id.is_not(None))).one()  # the shop's (the buyer has its own, R25)
    resp = client.post(f"/messages/{msg.id}/read", data={"csrf_token": page_token(client, "/messages")})
    assert resp.status_code == 303 and resp.headers["Location"] == f"/orders/{order.order_no}#payout-{p.id}"
    assert 'class="bell-count"' not in client.get("/messages/bell").get_data(as_text=True)


def test_r8_after_sales_detail_lists_the_orders_payouts_live(client, pw, login_as, make, db, clock):
    case = make.case(pw.order)
    p = svc.create_payout(db.session, pw.main, intent(pw.order, 500), clock.now()).payout
    login_as(pw.staff)
    html = client.get(f"/after-sales/{case.id}").get_data(as_text=True)
    assert f'id="payout-{p.id}"' in html and 'hx-trigger="every 2s"' in html and "¥5.00" in html
    assert "打款过于频繁" in html and "R2.2" not in html  # the flow is here too, with its reasons in plain words


def test_r9_buyer_sees_payouts_received_live(client, pw, login_as, db, clock):
    p = svc.create_payout(db.session, pw.main, intent(pw.order, 500, note="运费补偿"), clock.now()).payout
    login_as(pw.buyer)
    html = client.get(f"/my/orders/{pw.order.order_no}").get_data(as_text=True)
    assert "¥5.00" in html and "打款中" in html and "运费补偿" in html and 'hx-trigger="every 2s"' in html
    for _ in range(4):
        worker.run_once(clock.now())
        clock.advance(seconds=2)
    resp = client.get(f"/my/payouts/{p.id}/status", headers={"HX-Request": "true"})
    assert resp.status_code == 286 and "已到账" in resp.get_data(as_text=True)


def test_workspace_today_at_a_glance(client, pw, login_as, db, clock):
    svc.create_payout(db.session, pw.staff, intent(pw.order, 2_000), clock.now())
    login_as(pw.staff)
    en(client)
    html = client.get("/payouts/new").get_data(as_text=True)
    assert "¥20.00 / ¥15,000.00" in html and "¥20.00 / ¥80.00" in html
    assert "<svg" in html and html.count("<rect") == 1


def test_r6_a_status_poll_is_one_read_of_the_payout(client, pw, login_as, db, clock, app):
    """Polling must stay cheap: besides loading the signed-in account, one query, no page render."""
    from sqlalchemy import event

    pid = svc.create_payout(db.session, pw.main, intent(pw.order, 500), clock.now()).payout.id
    login_as(pw.staff)
    statements = []

    def count(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        html = client.get(f"/payouts/{pid}/status", headers={"HX-Request": "true"}).get_data(as_text=True)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert "<html" not in html and f'id="payout-{pid}"' in html
    payout_reads = [s for s in statements if "FROM payout" in s]
    assert len(payout_reads) == 1 and len(statements) <= 2, [s[:60] + " ... " + s[-80:] for s in statements]
