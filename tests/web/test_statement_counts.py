"""Issue 11: no N+1 anywhere, and the hot requests stay small.

Every list page and the CSV export issue the same number of SQL statements with 3 rows as with
30 (a query per row would add 27), and the requests that run most often (the payout confirm,
the bell, the status poll) stay within a fixed budget. Statements are counted on the engine, so
lazy loads in templates count too; BEGIN/COMMIT/ROLLBACK are not statements of the page."""
import json
import re
from contextlib import contextmanager

import pytest
from sqlalchemy import event

from tests.support import intent, page_token, payout_world
from webapp.models import InSiteMessage
from webapp.services import payouts as svc

TX_CONTROL = re.compile(r"^\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE)\b", re.I)


@contextmanager
def statements(db):
    seen: list[str] = []

    def count(conn, cursor, statement, *args):
        if not TX_CONTROL.match(statement):
            seen.append(" ".join(statement.split()))

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


@pytest.fixture
def w(make, db):
    w = payout_world(make, db, paid_fen=10_000, funds_fen=10_000_000, quota=(5_000, 80_000))
    w.rows = 0
    return w


def grow(w, make, db, clock, n: int) -> None:
    """n more of every listed thing: orders with a payout each (ledger and activity rows come
    with them), after-sales cases, shop and buyer messages, staff accounts with quotas."""
    for i in range(n):
        order = make.order(w.shop, w.buyer, paid_fen=10_000)
        created = svc.create_payout(db.session, w.main, intent(order, 100 + i), clock.now())
        assert not created.replayed
        make.case(order)
        staff = make.account(w.shop, role="staff")
        make.quota(staff, 1_000, 5_000)
        for audience in ({"shop_id": w.shop.id}, {"buyer_id": w.buyer.id}):
            db.session.add(InSiteMessage(kind="payout_failed", payout_id=created.payout_id, params=json.dumps({}),
                                         created_at=clock.now(), **audience))
        db.session.commit()
    w.rows += n


MERCHANT_LISTS = ["/orders", "/after-sales", "/payouts", "/payouts/export.csv", "/payouts/approvals", "/messages",
                  "/funds", "/funds?kind=hold", "/funds?from=2026-11-23&to=2026-11-23", "/funds/export.csv", "/activity",
                  "/staff", "/payouts/new"]
BUYER_LISTS = ["/my/orders", "/my/messages"]


def counts(client, db, paths):
    out = {}
    for path in paths:
        with statements(db) as seen:
            resp = client.get(path)
            body = resp.get_data(as_text=True)  # the CSV streams: read it inside the count
        assert resp.status_code == 200, (path, resp.status_code)
        out[path] = (len(seen), seen, len(body))
    return out


@pytest.mark.parametrize("who, paths", [("main", MERCHANT_LISTS), ("buyer", BUYER_LISTS)])
def test_list_pages_cost_the_same_with_3_rows_as_with_30(client, w, make, db, clock, login_as, who, paths):
    grow(w, make, db, clock, 3)
    login_as(getattr(w, who))
    few = counts(client, db, paths)
    grow(w, make, db, clock, 27)
    many = counts(client, db, paths)
    for path in paths:
        assert many[path][2] > few[path][2] or path == "/payouts/new", f"{path}: the page did not grow, so it proves nothing"
    grew = {path: (few[path][0], many[path][0], many[path][1]) for path in paths if many[path][0] != few[path][0]}
    assert grew == {}


def test_csv_export_reads_in_batches_not_per_row(client, w, make, db, clock, login_as):
    grow(w, make, db, clock, 30)
    login_as(w.main)
    with statements(db) as seen:
        body = client.get("/payouts/export.csv").get_data(as_text=True)
    assert body.count("\n") == 31  # header + 30 payouts
    payout_reads = [s for s in seen if "FROM payout" in s]
    assert len(payout_reads) == 1, seen


@pytest.mark.parametrize("path, reads", [("/payouts/export.xlsx", "FROM payout"), ("/funds/export.xlsx", "FROM ledger_entry")])
def test_xlsx_exports_read_in_batches_not_per_row(client, w, make, db, clock, login_as, path, reads):
    """The XLSX exports cost the same statements with 3 rows as with 30, and read their rows in one
    batch (openpyxl's write-only sheet spools them to a file, not to memory)."""
    import io

    import openpyxl

    grow(w, make, db, clock, 3)
    login_as(w.main)

    def export():
        with statements(db) as seen:
            resp = client.get(path)
            body = resp.get_data()  # the workbook streams from its spooled file: read it inside the count
        assert resp.status_code == 200, resp.status_code
        return seen, openpyxl.load_workbook(io.BytesIO(body)).active.max_row

    few, few_rows = export()
    grow(w, make, db, clock, 27)
    many, many_rows = export()
    assert many_rows > few_rows  # it grew, so the equal count below means something
    assert len(many) == len(few), many
    assert len([s for s in many if reads in s]) == 1, many


def test_the_funds_page_is_one_read_of_its_movements_whatever_the_history(client, w, make, db, clock, login_as, app):
    """The funds page: the balances, the pending top-ups and one keyset page of movements joined
    with their payouts' orders and who moved them; the same with 30 payouts as with 3, and a later
    page (the cursor) costs the same as the first."""
    grow(w, make, db, clock, 3)
    login_as(w.main)
    app.config["ORDERS_PAGE_SIZE"] = 2
    with statements(db) as first:
        html = client.get("/funds").get_data(as_text=True)
    grow(w, make, db, clock, 27)
    with statements(db) as again:
        html = client.get("/funds").get_data(as_text=True)
    cursor = re.search(r'href="(/funds\?cursor=[^"]+)"', html).group(1)
    with statements(db) as later:
        assert client.get(cursor).status_code == 200
    assert len(first) == len(again) == len(later), (first, later)
    movement_reads = [s for s in again if "FROM ledger_entry" in s]
    assert len(movement_reads) == 1 and "LIMIT" in movement_reads[0]
    keyset = [s for s in later if "FROM ledger_entry" in s]  # a later page starts below the cursor (no skipping)
    assert len(keyset) == 1 and "ledger_entry.created_at <" in keyset[0]


def test_confirm_runs_a_fixed_budget_of_statements(client, w, make, login_as, db, clock):
    """A staff payout confirm: load the session with its signed-in account (one statement); lock funds, today's shop and account
    counters and the order; check the request key, the shop's settings, the order's payouts and the
    quota; write the payout, its ledger entry, its activity row, the balances, both counters and
    the day's totals (the records page's rollup);
    re-read the account the transaction expired; store the "payout started" notice in the session
    (R27: sessions live on the server, so the notice is one write of the session store, this
    database in the embedded default and Redis with REDIS_URL, where a signed cookie carried it
    before). Nothing per row, nothing the redirect does not use."""
    login_as(w.staff)
    html = client.get(f"/orders/{w.order.order_no}").get_data(as_text=True)
    key = re.search(r'name="request_key" type="hidden" value="(\w+)"', html).group(1)
    order_no = w.order.order_no
    data = {"amount": "5", "reason": "shipping_fee", "note": "", "request_key": key,
            "csrf_token": page_token(client, f"/orders/{order_no}")}
    other = make.order(w.shop, w.buyer)
    svc.create_payout(db.session, w.staff, intent(other, 100), clock.now())  # today's counters exist now
    with statements(db) as seen:
        resp = client.post(f"/orders/{order_no}/payouts", data=data)
    assert resp.status_code == 303
    writes = [s for s in seen if not s.startswith("SELECT") and "user_session" not in s]
    assert len(writes) == 7, writes  # payout, ledger entry, activity, funds, two counters, the day's totals
    assert len([s for s in seen if s.startswith("UPDATE user_session")]) == 1, seen  # the notice
    assert len(seen) <= 18, [s[:100] for s in seen]


@pytest.mark.parametrize("who", ["staff", "buyer"])
def test_the_bell_is_two_statements(client, w, login_as, db, who):
    login_as(getattr(w, who))
    path = "/messages/bell" if who == "staff" else "/my/messages/bell"
    with statements(db) as seen:
        resp = client.get(path, headers={"HX-Request": "true"})
    assert resp.status_code == 200
    assert len(seen) == 2, seen  # the session with its signed-in account (one read, R27), the unread count


def _poll_url(html: str, pid: int) -> str:
    m = re.search(rf'id="payout-{pid}"[^>]*hx-get="([^"]+)"', html)
    assert m, html[:500]
    return m.group(1).replace("&amp;", "&")


def test_r6_an_unchanged_status_poll_is_an_empty_204_after_one_narrow_read(client, w, login_as, db, clock):
    """The live row polls with the version it shows; until the payout changes, the answer is 204
    (htmx swaps nothing and keeps polling) after reading only the payout's status and version."""
    from webapp import worker

    pid = svc.create_payout(db.session, w.main, intent(w.order, 500), clock.now()).payout_id
    login_as(w.staff)
    html = client.get(f"/payouts/{pid}/status", headers={"HX-Request": "true"}).get_data(as_text=True)
    url = _poll_url(html, pid)
    assert "v=" in url
    with statements(db) as seen:
        resp = client.get(url, headers={"HX-Request": "true"})
    assert resp.status_code == 204 and resp.get_data() == b""
    assert len(seen) == 2 and "FROM payout" in seen[1] and "JOIN" not in seen[1], seen
    worker.run_once(clock.now())  # the worker takes it: the row changed
    changed = client.get(url, headers={"HX-Request": "true"})
    assert changed.status_code in (200, 286) and f'id="payout-{pid}"' in changed.get_data(as_text=True)
    assert client.get(url).status_code == 200  # a plain GET (no htmx) always gets the fragment


def test_r21_the_undo_countdown_is_re_rendered_on_every_poll(client, make, db, clock, login_as):
    w = payout_world(make, db)
    w.shop.undo_window_seconds = 30
    db.session.commit()
    pid = svc.create_payout(db.session, w.main, intent(w.order, 500), clock.now()).payout_id
    login_as(w.main)
    html = client.get(f"/payouts/{pid}/status", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "30" in html
    clock.advance(seconds=10)
    again = client.get(_poll_url(html, pid), headers={"HX-Request": "true"})
    assert again.status_code == 200 and "20" in again.get_data(as_text=True)


def test_r9_the_buyers_payout_poll_answers_204_until_it_changes(client, w, login_as, db, clock):
    pid = svc.create_payout(db.session, w.main, intent(w.order, 500), clock.now()).payout_id
    login_as(w.buyer)
    html = client.get(f"/my/payouts/{pid}/status", headers={"HX-Request": "true"}).get_data(as_text=True)
    url = _poll_url(html, pid)
    assert client.get(url, headers={"HX-Request": "true"}).status_code == 204


def test_an_htmx_confirm_shows_its_result_from_the_rows_it_committed(client, w, make, login_as, db, clock):
    """The workspace's confirm (htmx, the result shown in place): the order's tallies after the
    payout come from the same locked transaction (one more tally), not from reading it all again."""
    login_as(w.staff)
    html = client.get(f"/payouts/new?order={w.order.order_no}").get_data(as_text=True)
    key = re.search(r'name="request_key" type="hidden" value="(\w+)"', html).group(1)
    order_no = w.order.order_no
    other = make.order(w.shop, w.buyer)
    svc.create_payout(db.session, w.staff, intent(other, 100), clock.now())  # today's counters exist now
    data = {"amount": "5", "reason": "shipping_fee", "note": "", "request_key": key, "mode": "page",
            "csrf_token": page_token(client, "/payouts/new")}
    with statements(db) as seen:
        resp = client.post(f"/orders/{order_no}/payouts", data=data, headers={"HX-Request": "true"})
    body = resp.get_data(as_text=True)
    assert resp.status_code == 200 and 'class="result"' in body and "¥5.00" in body
    assert "1/5" in body  # the summary counts the new payout
    assert len(seen) <= 17 + 2, [s[:100] for s in seen]  # the confirm's budget + the tally after + the buyer's name
