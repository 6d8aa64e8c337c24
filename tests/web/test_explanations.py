"""Issue 13 point 3, explanations: refusals in plain words naming the limit that binds (R3), rule
numbers kept out of what merchants and buyers see, limit chips refreshed with the amount check,
继续打款 saying what happened (R6, R21), the chat panel never leaving the panel (R1c), the order
page at the cap saying why no new payout (R2), and the smaller items: the main account's "used
today", activity labels (R19), the fast refund checkbox (R11), a disabled sub-account's sign-in,
shop names and failed payouts on the buyer's pages (R9), case reasons in the reader's language."""
from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.support import both_backends, intent, login, page_token, payout_world
from webapp.domain.payout_rules import Code, Refusal
from webapp.models import AfterSalesCase, Payout
from webapp.services import payouts as svc
from webapp.services import refunds as refund_svc
from webapp.services import staff as staff_svc

pytestmark = both_backends

RULE_NUMBER = re.compile(r"\bR\d+(\.\d+)?\b")


def lang(client, code):
    client.post("/lang", data={"lang": code, "csrf_token": page_token(client, "/login")})


def sign_out(client):
    client.post("/logout", data={"csrf_token": page_token(client, "/login")})


def check(client, order_no, amount, **extra):
    """The inline amount check as htmx sends it while typing."""
    return client.post(f"/orders/{order_no}/payouts/check", data={"amount": amount, **extra},
                       headers={"HX-Request": "true", "X-CSRFToken": page_token(client, "/orders")})


class Visible(HTMLParser):
    """What a person sees or hears of a page: its text and the attributes read out (title,
    aria-label, placeholder, alt), never its tokens or URLs; and every link and form."""

    SPOKEN = ("title", "aria-label", "placeholder", "alt")

    def __init__(self):
        super().__init__()
        self.text: list[str] = []
        self.links: list[dict] = []
        self.forms: list[dict] = []
        self.ids: set[str] = set()
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        if tag in ("script", "style"):
            self._skip += 1
        self.text += [a[k] for k in self.SPOKEN if a.get(k)]
        if tag == "a":
            self.links.append(a)
        if tag == "form":
            self.forms.append(a)

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.text.append(data.strip())


def visible(html: str) -> Visible:
    v = Visible()
    v.feed(html)
    return v


def seen_text(html: str) -> str:
    return " ".join(visible(html).text)


# --- 1. the limit that binds, in plain words ---------------------------------------------------------

# (what binds, the world, the amount typed, what the message must say, what it must not name)
BINDING = [
    ("order", dict(paid_fen=1_980, quota=(5_000, 8_000), cap_fen=15_000, funds_fen=1_000_000), "99999",
     "At most ¥19.80 can be paid out on this order: that is its paid amount.", ["¥150.00", "¥50.00", "¥80.00"]),
    ("per payout", dict(paid_fen=10_000, quota=(500, 8_000), cap_fen=15_000, funds_fen=1_000_000), "99999",
     "Above your per-payout limit of ¥5.00.", ["¥100.00", "¥150.00", "¥80.00"]),
    ("staff daily", dict(paid_fen=10_000, quota=(5_000, 8_000), cap_fen=15_000, funds_fen=1_000_000, used=7_000),
     "99999", "You can pay out at most ¥10.00 more today: your daily limit is ¥80.00.", ["¥150.00", "¥50.00 "]),
    ("shop daily", dict(paid_fen=10_000, quota=(5_000, 8_000), cap_fen=3_000, funds_fen=1_000_000), "99999",
     "The shop can pay out at most ¥30.00 more today: its daily maximum is ¥30.00.", ["¥100.00", "¥50.00"]),
    ("funds", dict(paid_fen=10_000, quota=(5_000, 8_000), cap_fen=15_000, funds_fen=300), "99999",
     "The funds account has only ¥3.00 available. Ask the main account to top up the funds account.",
     ["¥100.00", "¥150.00"]),
    ("order, partly paid out", dict(paid_fen=10_000, quota=(5_000, 8_000), cap_fen=15_000, funds_fen=1_000_000,
                                    order_paid_out=9_000), "20",
     "At most ¥10.00 can still be paid out on this order: its paid amount is ¥100.00 and ¥90.00 is already paid "
     "out or on its way.", []),
]


def _world(make, db, clock, *, paid_fen, quota, cap_fen, funds_fen, used=0, order_paid_out=0):
    w = payout_world(make, db, paid_fen=paid_fen, funds_fen=funds_fen, quota=quota, cap_fen=cap_fen)
    if used:  # the sub-account paid on two other orders earlier today, half each (within its per-payout limit)
        for _ in range(2):
            svc.create_payout(db.session, w.staff, intent(make.order(w.shop, w.buyer), used // 2), clock.now())
    if order_paid_out:
        svc.create_payout(db.session, w.main, intent(w.order, order_paid_out), clock.now())
        clock.advance(minutes=2)
    return w


@pytest.mark.parametrize("binds, world, amount, says, not_named", BINDING, ids=[b[0] for b in BINDING])
def test_r3_the_refusal_names_the_smallest_allowance_the_amount_exceeds(client, make, db, clock, login_as, binds,
                                                                       world, amount, says, not_named):
    w = _world(make, db, clock, **world)
    login_as(w.staff)
    lang(client, "en")
    feedback = check(client, w.order.order_no, amount).get_data(as_text=True).split('id="payout-allowances"')[0]
    assert says in feedback
    for other in not_named:
        assert other not in feedback, (binds, other)
    review = client.post(f"/orders/{w.order.order_no}/payouts/review",
                         data={"amount": amount, "reason": "shipping_fee", "note": "", "request_key": "a" * 32,
                               "csrf_token": page_token(client, "/orders")})
    assert review.status_code == 422 and says in review.get_data(as_text=True)


def test_r3_99999_on_a_1980_order_names_the_order_not_the_shop_cap(client, make, db, login_as):
    """The issue's case, as the main account (no quota): ¥99,999 on a ¥19.80 order, ¥15,000 shop cap."""
    w = payout_world(make, db, paid_fen=1_980, funds_fen=10_000_000)
    login_as(w.main)
    for code, says in (("en", "At most ¥19.80 can be paid out on this order"), ("zh_CN", "该订单最多可打款 ¥19.80（即订单实付金额）")):
        lang(client, code)
        html = check(client, w.order.order_no, "99999").get_data(as_text=True)
        feedback = html.split('id="payout-allowances"')[0]
        assert says in feedback and "¥15,000.00" not in feedback


def test_r3_4_the_main_account_gets_a_link_to_top_up_and_the_sub_account_is_told_to_ask(client, make, db, login_as):
    w = payout_world(make, db, funds_fen=300)
    login_as(w.main)
    lang(client, "en")
    html = check(client, w.order.order_no, "5", mode="page").get_data(as_text=True)
    assert "Top up the funds account, then try again." in html
    assert re.search(r'<a class="refusal-action" href="/funds#topup-title"\s*>Top up the funds account', html), html
    embed = check(client, w.order.order_no, "5", mode="embed").get_data(as_text=True)
    assert 'href="/funds#topup-title" target="_blank" rel="noopener"' in embed  # from the chat panel: a new tab
    sign_out(client)
    login_as(w.staff)
    lang(client, "en")
    html = check(client, w.order.order_no, "5").get_data(as_text=True)
    assert "Ask the main account to top up the funds account." in html and 'href="/funds"' not in html


def test_r2_5_daily_caps_say_when_they_start_again(client, make, db, clock, login_as):
    w = payout_world(make, db, cap_fen=5_000)
    svc.create_payout(db.session, w.main, intent(make.order(w.shop, w.buyer), 5_000), clock.now())
    login_as(w.main)
    lang(client, "en")
    html = client.get(f"/orders/{w.order.order_no}").get_data(as_text=True)
    # T0 is 2026-11-23 10:00 shop time: the next shop day starts at midnight, shop time.
    assert "The shop has paid out its daily maximum of ¥50.00 today. Payouts can start again at 2026-11-24 00:00" in html


# --- no rule numbers where people look -------------------------------------------------------------------

def test_no_rule_number_in_any_refusal_text_for_either_role_or_language(app, make, db, clock):
    from flask_login import login_user

    from webapp.web.messages import refusal_text

    w = payout_world(make, db)
    refusals = [Refusal(Code.ORDER_COUNT_LIMIT, {"count": 5}), Refusal(Code.TOO_FREQUENT, {"at": clock.now()}),
                Refusal(Code.NO_QUOTA), Refusal(Code.ORDER_FULLY_PAID_OUT, {"paid": 100}),
                Refusal(Code.SHOP_DAILY_CAP_REACHED, {"cap": 100}), Refusal(Code.OVER_PER_PAYOUT_LIMIT, {"limit": 1}),
                Refusal(Code.OVER_ACCOUNT_DAILY_LIMIT, {"remaining": 1, "limit": 2}),
                Refusal(Code.OVER_ACCOUNT_DAILY_LIMIT, {"remaining": 0, "limit": 2}),
                Refusal(Code.OVER_SHOP_REMAINING, {"remaining": 1, "cap": 2}),
                Refusal(Code.INSUFFICIENT_FUNDS, {"available": 1}), Refusal(Code.INSUFFICIENT_FUNDS, {"available": 1, "arrears": 5}),
                Refusal(Code.OVER_ORDER_REMAINING, {"remaining": 1, "paid": 2, "committed": 0}),
                Refusal(Code.OVER_ORDER_REMAINING, {"remaining": 1, "paid": 2, "committed": 1}),
                Refusal(Code.AMOUNT_NOT_POSITIVE)]
    assert {r.code for r in refusals} == set(Code)
    for account in (w.main, w.staff):
        for code in ("en", "zh_CN"):
            with app.test_request_context(headers={"Cookie": f"lang={code}"}):
                login_user(account)
                for r in refusals:
                    text = refusal_text(r)
                    assert text and "%(" not in text and not RULE_NUMBER.search(text), (r, text)


def test_no_rule_number_on_the_pages_merchants_and_buyers_see(client, make, db, clock, login_as, app):
    """The main flows, rendered as each role would see them, with refusals on screen: the text and
    the attributes read aloud never carry R2.1, R3.4 and the like."""
    w = payout_world(make, db, cap_fen=20_000)
    blocked = make.order(w.shop, w.buyer, paid_fen=10_000)
    for _ in range(5):  # the order count limit, on screen on the order page
        svc.create_payout(db.session, w.main, intent(blocked, 100), clock.now())
        clock.advance(minutes=1)
    frozen = make.order(w.shop, make.buyer(login="frozen-buyer"), paid_fen=5_000)
    failed = svc.create_payout(db.session, w.main, intent(frozen, 200), clock.now()).payout_id
    svc.settle_failed(db.session, failed, "buyer_wallet_frozen", clock.now())
    case = make.case(w.order)
    refund_svc.confirm_settings(db.session, w.main, "七天无理由。", clock.now())
    merchant_pages = ["/orders", f"/orders/{blocked.order_no}", f"/orders/{w.order.order_no}",
                      f"/payouts/new?order={blocked.order_no}", f"/payouts/new?order={w.order.order_no}",
                      f"/embed/payout?order={blocked.order_no}", "/after-sales", f"/after-sales/{case.id}", "/payouts",
                      "/messages", "/funds", "/staff", "/activity", "/settings/settlement"]
    for code in ("zh_CN", "en"):
        for who, pages in ((w.main, merchant_pages), (w.staff, merchant_pages[:9])):
            sign_out(client)
            login_as(who)
            lang(client, code)
            for path in pages:
                resp = client.get(path)
                assert resp.status_code == 200, path
                text = seen_text(resp.get_data(as_text=True))
                assert not RULE_NUMBER.search(text), (who.login, code, path, RULE_NUMBER.search(text).group(0))
            for amount in ("99999", "0", "abc"):  # the inline check's refusals
                html = check(client, w.order.order_no, amount).get_data(as_text=True)
                assert "error" in html and not RULE_NUMBER.search(seen_text(html)), amount
        on_screen = seen_text(client.get(f"/orders/{blocked.order_no}").get_data(as_text=True))
        assert ("已达单笔订单上限" if code == "zh_CN" else "the most one order can have") in on_screen  # a refusal is there
        sign_out(client)
        buyer = db.session.get(type(w.buyer), frozen.buyer_id)
        login(client, buyer)
        lang(client, code)
        for path in ("/my/orders", f"/my/orders/{frozen.order_no}", "/my/messages"):
            text = seen_text(client.get(path).get_data(as_text=True))
            assert not RULE_NUMBER.search(text), (code, path)


# --- 2. the limit chips come with every check -------------------------------------------------------------

def chips(html: str) -> str:
    m = re.search(r'<div id="payout-allowances"[^>]*>(.*?)</div>', html, re.S)
    assert m, html
    return seen_text(m.group(1))


def test_r3_the_chips_come_with_the_amount_check_and_show_a_quota_disabled_since(client, make, db, clock, login_as):
    w = payout_world(make, db, quota=(10_000, 20_000))
    login_as(w.staff)
    lang(client, "en")
    page = client.get(f"/payouts/new?order={w.order.order_no}").get_data(as_text=True)
    assert "My per-payout limit ¥100.00" in chips(page)
    staff_svc.update_quota(db.session, w.main, w.staff.id, enabled=False, per_payout_fen=10_000, daily_fen=20_000,
                           now=clock.now())
    html = check(client, w.order.order_no, "5").get_data(as_text=True)
    assert 'id="payout-allowances" class="allowances-box" hx-swap-oob="outerHTML"' in html  # swapped in with the feedback
    now = chips(html)
    assert "¥100.00" not in now.replace("Order remaining ¥100.00", "") and "My payout quota No quota" in now
    assert "At most ¥0.00 now." in now
    assert "Your account has no payout quota." in html.split('id="payout-allowances"')[0]


def test_r3_the_chips_show_what_is_left_after_a_payout(client, make, db, clock, login_as):
    w = payout_world(make, db, quota=(5_000, 8_000))
    login_as(w.staff)
    lang(client, "en")
    before = chips(check(client, w.order.order_no, "").get_data(as_text=True))
    assert "My remaining today ¥80.00" in before and "Order remaining ¥100.00" in before
    other = make.order(w.shop, w.buyer)
    svc.create_payout(db.session, w.staff, intent(other, 3_000), clock.now())
    after = chips(check(client, w.order.order_no, "1").get_data(as_text=True))
    assert "My remaining today ¥50.00" in after
    page = chips(client.get(f"/orders/{w.order.order_no}").get_data(as_text=True))
    assert "My remaining today ¥50.00" in page


# --- 3. 继续打款 says what happened -------------------------------------------------------------------------

def test_r6_continue_payout_says_it_was_sent_now_or_that_it_was_no_longer_pending(client, make, db, clock, login_as):
    w = payout_world(make, db)
    w.shop.undo_window_seconds = 300
    db.session.commit()
    pid = svc.create_payout(db.session, w.main, intent(w.order, 500), clock.now()).payout_id
    login_as(w.main)
    token = page_token(client, "/orders")
    for code, says in (("en", "Sent to the payment channel now."), ("zh_CN", "已立即发起打款")):
        lang(client, code)
        resp = client.post(f"/payouts/{pid}/continue", data={"csrf_token": token}, headers={"HX-Request": "true"})
        html = resp.get_data(as_text=True)
        assert resp.status_code == 200 and f'id="payout-{pid}"' in html and says in html and 'role="status"' in html
    assert db.session.get(Payout, pid, populate_existing=True).next_attempt_at == clock.now()
    svc.settle_succeeded(db.session, pid, clock.now())
    lang(client, "en")
    html = client.post(f"/payouts/{pid}/continue", data={"csrf_token": token}, headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "This payout was no longer waiting to be sent, so nothing changed. Its status: Paid out." in html
    assert "Sent to the payment channel now" not in html
    plain = client.post(f"/payouts/{pid}/continue", data={"csrf_token": token})  # without JavaScript: said after the redirect
    assert plain.status_code == 303
    assert "no longer waiting to be sent" in client.get(plain.headers["Location"]).get_data(as_text=True)


# --- 4. the chat panel stays in the panel -------------------------------------------------------------------

def _stays_in_panel(html: str, panel_ids: set[str]) -> None:
    v = visible(html)
    for a in v.links:
        href = a.get("href", "")
        path = urlsplit(href).path
        target = a.get("hx-target")
        ok = (path == "/embed/payout"  # the panel's own route
              or href.startswith("#")
              or a.get("target") == "_blank"  # a new browser tab, never inside the panel
              or (a.get("hx-get") and target and (target == "this" or target.lstrip("#") in panel_ids)))
        assert ok, a
        if a.get("hx-get"):
            assert urlsplit(a["hx-get"]).path == "/embed/payout" and target.lstrip("#") in panel_ids, a
    for f in v.forms:
        target = f.get("hx-target")
        assert target and target.lstrip("#") in panel_ids, f
        action = urlsplit(f.get("action", ""))
        assert (action.path == "/embed/payout" or "embed=1" in action.query
                or "mode" in html), f  # a row's form comes back to the panel; the flow's forms carry mode=embed


def test_r1c_every_link_and_form_in_the_chat_panel_targets_the_panel(client, make, db, clock, login_as):
    w = payout_world(make, db)
    frozen = make.order(w.shop, make.buyer(login="frozen-buyer"))
    pid = svc.create_payout(db.session, w.main, intent(frozen, 300), clock.now()).payout_id
    svc.settle_failed(db.session, pid, "buyer_wallet_frozen", clock.now())
    clock.advance(minutes=2)
    login_as(w.main)
    lang(client, "en")
    pages = [client.get("/embed/payout").get_data(as_text=True),
             client.get(f"/embed/payout?order={w.order.order_no}").get_data(as_text=True),
             client.get(f"/embed/payout?order={frozen.order_no}&done={pid}").get_data(as_text=True)]
    panel_ids = visible(pages[1]).ids | visible(pages[2]).ids
    for html in pages:
        _stays_in_panel(html, panel_ids)
    done = pages[2]
    # The failed payout's "start a new payout": this order's flow again, in the panel.
    again = re.search(r'<a class="btn btn-small" href="([^"]+)" hx-get="([^"]+)" hx-target="#payout-flow"', done)
    assert again and again.group(1) == again.group(2) == f"/embed/payout?order={frozen.order_no}"
    order_links = [a for a in visible(done).links if urlsplit(a.get("href", "")).path.startswith("/orders/")]
    assert order_links and all(a.get("target") == "_blank" for a in order_links)  # the order page: a new tab only
    # The row as its poll renders it in the panel, and its forms without JavaScript, come back to the panel.
    row = client.get(f"/payouts/{pid}/status?compact=1&embed=1", headers={"HX-Request": "true"}).get_data(as_text=True)
    _stays_in_panel(row, panel_ids)
    assert f"/embed/payout?order={frozen.order_no}" in row
    pending = svc.create_payout(db.session, w.main, intent(w.order, 100), clock.now()).payout_id
    html = client.get(f"/embed/payout?order={w.order.order_no}&done={pending}").get_data(as_text=True)
    _stays_in_panel(html, panel_ids | visible(html).ids)
    action = re.search(rf'action="(/payouts/{pending}/continue[^"]*)"', html).group(1).replace("&amp;", "&")
    assert parse_qs(urlsplit(action).query) == {"compact": ["1"], "embed": ["1"]}
    back = client.post(action, data={"csrf_token": page_token(client, "/orders")})
    assert back.status_code == 303 and urlsplit(back.headers["Location"]).path == "/embed/payout"


# --- 5. the order page at the cap says why no new payout -----------------------------------------------------

def test_r2_the_order_page_says_why_a_new_payout_cannot_start_instead_of_a_dead_button(client, make, db, clock, login_as):
    w = payout_world(make, db, cap_fen=5_000)
    frozen = make.order(w.shop, make.buyer(login="frozen-buyer"))
    pid = svc.create_payout(db.session, w.main, intent(frozen, 1_000), clock.now()).payout_id
    svc.settle_failed(db.session, pid, "buyer_wallet_frozen", clock.now())
    clock.advance(minutes=2)
    login_as(w.main)
    lang(client, "en")
    open_row = re.search(rf'<tr id="payout-{pid}".*?</tr>', client.get(f"/orders/{frozen.order_no}").get_data(as_text=True), re.S).group(0)
    assert 'href="#payout-flow"' in open_row and "Start a new payout" in open_row  # not blocked: to the form below
    svc.create_payout(db.session, w.main, intent(w.order, 5_000), clock.now())  # the shop's daily maximum is reached
    html = client.get(f"/orders/{frozen.order_no}").get_data(as_text=True)
    row = re.search(rf'<tr id="payout-{pid}".*?</tr>', html, re.S).group(0)
    assert "Start a new payout" not in row
    assert "No new payout now:" in row and "daily maximum of ¥50.00" in row and "2026-11-24 00:00" in row
    # The row as its poll renders it once final says the same.
    polled = client.get(f"/payouts/{pid}/status", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "No new payout now:" in polled and "Start a new payout" not in polled


# --- 6. the smaller items -----------------------------------------------------------------------------------

def test_the_main_accounts_used_today_counts_its_own_payouts_and_names_the_shop_total(client, make, db, clock, login_as):
    w = payout_world(make, db)
    svc.create_payout(db.session, w.main, intent(w.order, 1_234), clock.now())
    svc.create_payout(db.session, w.staff, intent(make.order(w.shop, w.buyer), 500), clock.now())
    login_as(w.main)
    lang(client, "en")
    html = client.get("/staff").get_data(as_text=True)
    main_row = re.search(rf'<tr id="staff-{w.main.id}".*?</tr>', html, re.S).group(0)
    assert "¥12.34" in main_row
    assert "Paid out by this account today. The shop in all: ¥17.34 of its daily maximum ¥15,000.00." in main_row
    staff_row = re.search(rf'<tr id="staff-{w.staff.id}".*?</tr>', html, re.S).group(0)
    assert "¥5.00" in staff_row and "The shop in all" not in staff_row


def test_r19_the_fast_refund_confirmation_is_labelled_as_such_in_the_activity_log(client, make, db, clock, login_as):
    w = payout_world(make, db)
    refund_svc.confirm_settings(db.session, w.main, "七天无理由，极速退款原路返回。", clock.now())
    refund_svc.set_fast_refund_enabled(db.session, w.main, False, clock.now())
    login_as(w.main)
    for code, confirmed, detail, off in (
            ("en", "Fast refund confirmed with its refund note", "fast refund: On", "fast refund: On → Off"),
            ("zh_CN", "确认开通极速退款及退款说明", "极速退款: 已开启", "极速退款: 已开启 → 已关闭")):
        lang(client, code)
        text = seen_text(client.get("/activity?action=settings.").get_data(as_text=True))
        assert confirmed in text and detail in text and off in text, text
        assert "payouts allowed" not in text and "允许打款" not in text


def test_r11_the_fast_refund_checkbox_is_a_real_choice_with_the_step_up(client, make, db, clock, login_as):
    w = payout_world(make, db)
    login_as(w.main)
    lang(client, "en")
    page = client.get("/settings/settlement").get_data(as_text=True)
    box = re.search(r'<input type="checkbox" id="fast_refund"[^>]*>', page).group(0)
    assert "disabled" not in box and "checked" not in box and 'name="fast_refund"' in box
    token = page_token(client, "/settings/settlement")
    unticked = client.post("/settings/settlement/review", data={"note": "七天无理由。", "csrf_token": token})
    html = unticked.get_data(as_text=True)
    assert unticked.status_code == 422 and "Tick “Support fast refund” to turn it on." in html and "七天无理由。" in html
    assert 'aria-describedby="fast_refund-error"' in html
    ticked = client.post("/settings/settlement/review", data={"note": "七天无理由。", "fast_refund": "1", "csrf_token": token})
    assert ticked.status_code == 200 and 'name="fast_refund" value="1"' in ticked.get_data(as_text=True)
    back = client.post("/settings/settlement/confirm", data={"note": "七天无理由。", "fast_refund": "1", "back": "1",
                                                             "csrf_token": token}).get_data(as_text=True)
    assert re.search(r'id="fast_refund" name="fast_refund" value="1" checked', back)  # "Change" keeps the tick
    clock.advance(minutes=6)  # the step-up, as before: a stale password asks for it again
    stale = client.post("/settings/settlement/confirm", data={"note": "七天无理由。", "fast_refund": "1", "csrf_token": token})
    assert stale.status_code == 303 and "confirm-password" in stale.headers["Location"]
    assert refund_svc.settings_of(db.session, w.shop.id) is None


def test_a_disabled_sub_account_is_told_so_only_after_the_right_password(client, make, db, clock):
    w = payout_world(make, db)
    staff_svc.set_active(db.session, w.main, w.staff.id, False, clock.now())
    lang(client, "en")
    right = login(client, w.staff).get_data(as_text=True)
    assert "This account is disabled. Ask your shop&#39;s main account to enable it again." in right
    for wrong in (login(client, w.staff, password="not-the-password"),
                  client.post("/login", data={"login": "nobody-here", "password": "whatever-1",
                                              "csrf_token": page_token(client, "/login")})):
        html = wrong.get_data(as_text=True)
        assert wrong.status_code == 200 and "This account is disabled" not in html
        assert "Wrong login name or password, or the account is disabled." in html
    lang(client, "zh_CN")
    assert "该账号已被停用。请联系店铺主账号重新启用。" in login(client, w.staff).get_data(as_text=True)


def test_r9_buyer_pages_show_the_shop_and_why_a_payout_failed(client, make, db, clock):
    w = payout_world(make, db)
    w.shop.name = "星河数码旗舰店"
    db.session.commit()
    frozen = make.buyer(login="frozen-buyer")
    order = make.order(w.shop, frozen, item_summary="香薰蜡烛")
    wallet = svc.create_payout(db.session, w.main, intent(order, 300), clock.now()).payout_id
    svc.settle_failed(db.session, wallet, "buyer_wallet_frozen", clock.now())
    clock.advance(minutes=2)
    other = svc.create_payout(db.session, w.main, intent(order, 200), clock.now()).payout_id
    svc.settle_failed(db.session, other, "rejected_by_channel", clock.now())
    login(client, frozen)
    for code, wallet_says, other_says in (
            ("en", "Your wallet is frozen, so the payment channel could not pay into it. Unfreeze your wallet, then "
                   "contact the shop to pay you again.",
             "The payment channel turned this payout down, so nothing reached your wallet. Contact the shop"),
            ("zh_CN", "你的钱包已冻结，支付渠道无法打款到账。请先解冻钱包，再联系店铺重新给你打款。", "支付渠道拒绝了这笔打款")):
        lang(client, code)
        assert "星河数码旗舰店" in seen_text(client.get("/my/orders").get_data(as_text=True))
        detail = client.get(f"/my/orders/{order.order_no}").get_data(as_text=True)
        assert "星河数码旗舰店" in seen_text(detail)
        row = re.search(rf'<li id="payout-{wallet}".*?</li>', detail, re.S).group(0)
        assert wallet_says in row
        assert other_says in re.search(rf'<li id="payout-{other}".*?</li>', detail, re.S).group(0)


def test_case_reasons_are_stored_as_codes_and_said_in_the_readers_language(client, make, db, clock, login_as):
    w = payout_world(make, db)
    refund_svc.confirm_settings(db.session, w.main, "七天无理由。", clock.now())
    applied = refund_svc.apply(db.session, w.buyer, w.order.order_no, kind="refund_only", goods_intact=None, now=clock.now())
    assert db.session.get(AfterSalesCase, applied.case.id).reason == "fast_refund"
    review = make.case(make.order(w.shop, w.buyer), reason="shipping_dispute")
    login_as(w.main)
    for code, fast, dispute in (("en", "Fast refund", "Shipping fee dispute"), ("zh_CN", "极速退款", "运费争议")):
        lang(client, code)
        page = seen_text(client.get(f"/after-sales/{review.id}").get_data(as_text=True))
        assert dispute in page and "shipping_dispute" not in page
        assert fast in seen_text(client.get(f"/after-sales/{applied.case.id}").get_data(as_text=True))
        listed = seen_text(client.get("/after-sales").get_data(as_text=True))
        assert dispute in listed and "shipping_dispute" not in listed and "fast_refund" not in listed
    en_page = seen_text(client.get(f"/orders/{w.order.order_no}").get_data(as_text=True))
    assert "fast_refund" not in en_page
