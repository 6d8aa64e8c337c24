"""Bad inputs never crash a page, background polls never keep a session alive, exports are safe."""
import csv
import io

import pytest

from tests.support import intent, page_token, payout_world
from webapp.services import payouts as svc


@pytest.fixture
def pw(make, db):
    return payout_world(make, db)


@pytest.mark.parametrize(
    "path",
    [
        "/payouts?staff=²", "/payouts?staff=99999999999999999999999", "/activity?actor=²",
        "/payouts?to=9999-12-31", "/payouts?from=0001-01-01", "/payouts/export.csv?to=9999-12-31",
        "/activity?from=0001-01-01", "/payouts?endpoint=x&_anchor=y&_external=1", "/orders?cursor=1.99999999999999999999",
        "/payouts/new?order=690000&done=²", "/payouts?cursor=99999999999999999.999999999999999999",
    ],
)
def test_odd_query_parameters_are_ignored_not_500(client, pw, login_as, path):
    login_as(pw.main)
    assert client.get(path).status_code == 200


@pytest.mark.parametrize("path", ["/payouts/99999999999999999999/status", "/after-sales/99999999999999999999",
                                  "/staff/99999999999999999999/row", "/messages/99999999999999999999/read"])
def test_huge_ids_in_paths_are_404(client, pw, login_as, path):
    login_as(pw.main)
    resp = client.post(path, data={"csrf_token": page_token(client, "/orders")}) if path.endswith("read") else client.get(path)
    assert resp.status_code == 404


def test_r4_forged_request_key_is_refused_and_nothing_is_created(client, pw, login_as, db):
    from sqlalchemy import func, select

    from webapp.models import Payout

    login_as(pw.main)
    data = {"amount": "1", "reason": "shipping_fee", "note": "", "request_key": "x" * 200, "mode": "page",
            "csrf_token": page_token(client, "/orders")}
    resp = client.post(f"/orders/{pw.order.order_no}/payouts", data=data)
    assert resp.status_code == 422 and "表单已失效" in resp.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Payout)) == 0


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@pytest.mark.parametrize("lead", FORMULA_STARTS, ids=["eq", "plus", "minus", "at", "tab", "cr"])
def test_csv_export_neutralises_formulas_in_every_text_cell(client, make, db, clock, login_as, lead):
    """Every cell a person typed (buyer name, note to the buyer, starter's name) is written with a
    leading quote when it starts like a formula; no other cell of the file starts like one but the
    order number, which is written ="<digits>" on purpose (web/exports.py)."""
    w = payout_world(make, db)
    evil_buyer = make.buyer(display_name=lead + 'HYPERLINK("http://evil","x")')
    evil_staff = make.account(w.shop, role="staff", display_name=lead + "SUM(A1:A9)")
    make.quota(evil_staff, 5_000, 20_000)
    order = make.order(w.shop, evil_buyer)
    svc.create_payout(db.session, evil_staff, intent(order, 100, note=lead + "cmd|' /C calc'!A0"), clock.now())
    login_as(w.main)
    rows = list(csv.reader(io.StringIO(client.get("/payouts/export.csv").get_data().decode("utf-8-sig"),
                                       newline="")))
    data = rows[1:]
    assert len(rows[0]) == 11 and len(data) == 1
    buyer, note, started_by = data[0][2], data[0][5], data[0][6]  # the columns a person typed
    assert buyer == "'" + lead + 'HYPERLINK("http://evil","x")'
    assert note == "'" + lead + "cmd|' /C calc'!A0"
    assert started_by == "'" + lead + "SUM(A1:A9)"
    order_no = data[0][1]  # ours, not typed: ="<digits>" so Excel keeps every digit (a constant, no reference)
    assert order_no == f'="{order.order_no}"'
    for cell in data[0][:1] + data[0][2:]:
        assert not cell.startswith(FORMULA_STARTS), (cell, data[0])


def test_background_polls_do_not_keep_an_idle_session_alive(client, pw, login_as, clock, db):
    p = svc.create_payout(db.session, pw.main, intent(pw.order, 100), clock.now()).payout
    login_as(pw.staff)
    for _ in range(10):  # 50 minutes of the page polling by itself
        clock.advance(minutes=5)
        client.get("/messages/bell", headers={"HX-Request": "true"})
        client.get(f"/payouts/{p.id}/status", headers={"HX-Request": "true"})
    resp = client.get("/orders")
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/login")


def test_an_expired_htmx_request_sends_the_whole_page_to_sign_in(client, pw, login_as, clock):
    login_as(pw.staff)
    clock.advance(minutes=31)
    resp = client.get("/messages/bell", headers={"HX-Request": "true"})
    assert resp.status_code == 204 and resp.headers["HX-Redirect"] == "/login"


def test_merchant_login_ignores_case(client, pw):
    from tests.support import PASSWORD, csrf_from

    token = csrf_from(client.get("/login").get_data(as_text=True))
    resp = client.post("/login", data={"login": pw.staff.login.upper(), "password": PASSWORD, "csrf_token": token})
    assert resp.status_code == 303
