"""Input that cannot break a page (ASVS 5.1), the cases an attacker reported and their neighbours, on
SQLite and PostgreSQL: CR/LF in `next` is ignored (never a 500, never a split header); a NUL anywhere
is a 400 page in the user's language (an htmx fragment for htmx); a control character in a form's
text is that field's error with the text kept; bad encodings and absurd lengths are refused; ids
past the database's integers are 404. Also the security headers (ASVS 14.4)."""
import json
from urllib.parse import unquote_to_bytes

import pytest
from sqlalchemy import func, select

from tests.support import PASSWORD, both_backends, csrf_from, login, page_token, payout_world
from webapp.models import AfterSalesCase, MerchantAccount, Payout

pytestmark = both_backends

REFUSED_ZH = "无法受理此请求"
REFUSED_EN = "This request cannot be accepted"


@pytest.fixture
def pw(make, db):
    return payout_world(make, db, quota=(50_000, 100_000))


def en(client):
    client.post("/lang", data={"lang": "en", "csrf_token": page_token(client, "/login")})


# --- the reported ones ----------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/login", "/buyer/login"])
@pytest.mark.parametrize("nxt", ["/orders\r\nSet-Cookie: evil=1", "/orders\nX: y", "/\t/evil.example",
                                 "/orders\x0b", "/\u2028orders"])
def test_a_line_break_in_next_is_ignored_at_sign_in(client, pw, make, path, nxt):
    account = make.buyer(login="buyer-next") if path == "/buyer/login" else pw.main
    resp = login(client, account, next_url=nxt)
    assert resp.status_code == 303
    assert resp.headers["Location"] in ("/orders", "/my/orders") and "evil" not in str(resp.headers)


@pytest.mark.parametrize("nxt", ["/orders\r\nSet-Cookie: evil=1", "/\t/evil.example", "//evil.example", "/" + "a" * 3000])
def test_a_bad_next_on_the_language_switch_goes_home(client, nxt):
    token = csrf_from(client.get("/login").get_data(as_text=True))
    resp = client.post("/lang", data={"lang": "en", "next": nxt, "csrf_token": token})
    assert resp.status_code == 303 and resp.headers["Location"] == "/"


def test_a_good_next_still_works(client, pw):
    resp = login(client, pw.main, next_url="/payouts?status=failed&from=2026-11-01")
    assert resp.status_code == 303 and resp.headers["Location"] == "/payouts?status=failed&from=2026-11-01"


@pytest.mark.parametrize("path", ["/login", "/buyer/login"])
def test_a_nul_in_the_sign_in_form_is_a_400_in_the_users_language(client, path):
    token = csrf_from(client.get(path).get_data(as_text=True))
    resp = client.post(path, data={"login": "main\x00a", "password": PASSWORD, "csrf_token": token})
    assert resp.status_code == 400 and REFUSED_ZH in resp.get_data(as_text=True)
    en(client)
    token = csrf_from(client.get(path).get_data(as_text=True))
    resp = client.post(path, data={"login": "x", "password": "\x00", "csrf_token": token})
    assert resp.status_code == 400 and REFUSED_EN in resp.get_data(as_text=True)
    assert "null character" in resp.get_data(as_text=True)


@pytest.mark.parametrize("suffix", ["%00", "69%00", "69%0d%0aX", "%ff", "%ed%a0%80", "%c0%af"])
def test_bad_order_numbers_in_the_path_are_400(client, pw, login_as, suffix):
    """As a WSGI server hands it over: the path's bytes, %-escapes undone, as latin-1 (the test
    client alone would turn invalid UTF-8 into U+FFFD first)."""
    login_as(pw.main)
    for prefix in ("/orders/", "/my/orders/"):
        raw = unquote_to_bytes(prefix + suffix).decode("latin-1")
        resp = client.get(prefix + suffix, environ_overrides={"PATH_INFO": raw})
        assert resp.status_code == 400


def test_an_over_long_order_number_is_404(client, pw, login_as):
    login_as(pw.main)
    assert client.get("/orders/" + "9" * 10_000).status_code == 404
    assert client.get(f"/orders/{'9' * 200}").status_code == 404  # long but plausible: simply not found


@pytest.mark.parametrize("path", ["/payouts/2147483648/status", "/after-sales/9999999999", "/staff/2147483648/row",
                                  "/payouts/１２３/status", "/after-sales/١٢٣"])
def test_ids_past_an_integer_or_not_ascii_are_404(client, pw, login_as, path):
    login_as(pw.main)
    assert client.get(path).status_code == 404


@pytest.mark.parametrize("query", ["staff=2147483648", "staff=9999999999", "cursor=1.2147483648",
                                   "cursor=1.999999999999999999"])
def test_ids_past_an_integer_in_the_query_are_ignored(client, pw, login_as, query):
    login_as(pw.main)
    assert client.get(f"/payouts?{query}").status_code == 200
    assert client.get(f"/activity?{query.replace('staff', 'actor')}").status_code == 200


def _payout_form(client, pw, note):
    token = page_token(client, "/orders")
    return {"amount": "1.00", "reason": "shipping_fee", "note": note, "request_key": "a" * 32, "mode": "page",
            "csrf_token": token}


def test_a_nul_in_the_payout_note_is_a_400_and_nothing_is_created(client, pw, login_as, db):
    login_as(pw.main)
    resp = client.post(f"/orders/{pw.order.order_no}/payouts", data=_payout_form(client, pw, "运费\x00补偿"))
    assert resp.status_code == 400 and REFUSED_ZH in resp.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Payout)) == 0


@pytest.mark.parametrize("note", ["运费\x01补偿", "运费\x1b[31m", "\u202e运费补偿"])
def test_a_control_character_in_the_payout_note_is_its_error_with_the_note_kept(client, pw, login_as, db, note):
    login_as(pw.main)
    en(client)
    for step in ("review", "create"):
        url = f"/orders/{pw.order.order_no}/payouts" + ("/review" if step == "review" else "")
        resp = client.post(url, data=_payout_form(client, pw, note))
        html = resp.get_data(as_text=True)
        assert resp.status_code == 422
        assert 'id="note-error"' in html and "Remove the control characters" in html
        assert note in html  # kept as typed
    assert db.session.scalar(select(func.count()).select_from(Payout)) == 0


def test_line_breaks_in_the_payout_note_are_fine(client, pw, login_as):
    login_as(pw.main)
    resp = client.post(f"/orders/{pw.order.order_no}/payouts/review", data=_payout_form(client, pw, "第一行\r\n第二行"))
    assert resp.status_code == 200


def test_a_control_character_in_the_reject_reason_is_refused_with_the_reason_kept(client, pw, login_as, make, db):
    case = make.case(pw.order)
    login_as(pw.main)
    token = page_token(client, f"/after-sales/{case.id}")
    resp = client.post(f"/after-sales/{case.id}/reject", data={"reason": "不符合\x07规则", "csrf_token": token})
    assert resp.status_code == 422 and 'value="不符合\x07规则"' in resp.get_data(as_text=True)
    resp = client.post(f"/after-sales/{case.id}/reject", data={"reason": "不符合\x00规则", "csrf_token": token})
    assert resp.status_code == 400
    assert db.session.get(AfterSalesCase, case.id, populate_existing=True).status == "awaiting_merchant"


def test_a_control_character_in_a_staff_name_is_its_error_with_the_name_kept(client, pw, login_as, db):
    login_as(pw.main)
    en(client)
    token = page_token(client, "/staff/new")
    data = {"login": "kefu-new", "display_name": "小\u202e张", "password": "tidal7orchard", "csrf_token": token}
    resp = client.post("/staff/new", data=data)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422 and "Remove the control characters" in html and 'value="小\u202e张"' in html
    assert client.post("/staff/new", data={**data, "display_name": "小\x00张"}).status_code == 400
    assert db.session.scalar(select(func.count()).select_from(MerchantAccount).where(
        MerchantAccount.login == "kefu-new")) == 0


def test_a_common_password_is_refused_saying_why(client, pw, login_as):
    login_as(pw.main)
    token = page_token(client, "/staff/new")
    data = {"login": "kefu-new", "display_name": "小张", "password": "Password123", "csrf_token": token}
    resp = client.post("/staff/new", data=data)
    assert resp.status_code == 422 and "最常用的 2 万个密码" in resp.get_data(as_text=True)
    en(client)
    resp = client.post("/staff/new", data={**data, "password": "P@ssw0rd2024"})
    assert resp.status_code == 422 and "very common password with a few characters" in resp.get_data(as_text=True)


@pytest.mark.parametrize("htmx", [False, True])
def test_a_control_character_in_the_approval_reject_note_keeps_it_on_its_row(client, pw, login_as, db, clock, htmx):
    from tests.support import intent
    from webapp.services import payouts as svc

    pw.shop.payout_approval_fen = 100
    db.session.commit()
    waiting = svc.create_payout(db.session, pw.staff, intent(pw.order, 500), clock.now()).payout
    login_as(pw.main)
    token = page_token(client, "/payouts/approvals")
    resp = client.post(f"/payouts/{waiting.id}/reject", data={"note": "金额\x08不对", "csrf_token": token},
                       headers={"HX-Request": "true"} if htmx else {})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422 and 'value="金额\x08不对"' in html and 'role="alert"' in html
    assert db.session.get(Payout, waiting.id, populate_existing=True).status == "awaiting_approval"


def test_a_control_character_in_the_refund_note_is_refused_with_the_note_kept(client, pw, login_as):
    login_as(pw.main)
    en(client)
    token = page_token(client, "/settings/settlement")
    for step in ("review", "confirm"):
        resp = client.post(f"/settings/settlement/{step}", data={"note": "七天内\u202e退款", "csrf_token": token})
        html = resp.get_data(as_text=True)
        assert resp.status_code == 422 and "Remove the control characters" in html and "七天内\u202e退款" in html
    ok = client.post("/settings/settlement/review", data={"note": "七天内退款。\r\n运费由店铺承担。", "fast_refund": "1",
                                                          "csrf_token": token})
    assert ok.status_code == 200


def test_over_long_seconds_are_the_fields_error_not_a_crash(client, pw, login_as):
    login_as(pw.main)
    token = page_token(client, "/settings/payouts")
    resp = client.post("/settings/payouts", data={"undo_window_seconds": "9" * 5000, "payout_approval": "",
                                                  "refund_approval": "", "csrf_token": token})
    assert resp.status_code == 422 and "9" * 5000 in resp.get_data(as_text=True)


# --- the guard ------------------------------------------------------------------------------------

@pytest.mark.parametrize("query", ["q=%ff%fe", "q=%ed%a0%80", "q=%", "q=%zz", "q=a%0d%0ab", "q=%00", "q=%1b",
                                   "q=" + "9" * 3000, "x" * 3000 + "=1"])
def test_bad_query_strings_are_400(client, pw, login_as, query):
    login_as(pw.main)
    resp = client.get(f"/orders?{query}")
    assert resp.status_code == 400 and REFUSED_ZH in resp.get_data(as_text=True)


def test_a_tab_or_odd_but_valid_text_in_a_query_is_fine(client, pw, login_as):
    login_as(pw.main)
    for query in ("q=69\t", "q=%E4%B8%AD", "q=%EF%BC%91%EF%BC%92", "q=%F0%9F%98%80", "q=%25zz"):
        assert client.get(f"/orders?{query}").status_code == 200


def test_htmx_gets_a_fragment_it_swaps_in_at_the_top(client, pw, login_as):
    login_as(pw.main)
    resp = client.get("/orders?q=%00", headers={"HX-Request": "true"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422  # swapped by htmx (base.html's responseHandling), unlike a 400
    assert resp.headers["HX-Retarget"] == "main" and resp.headers["HX-Reswap"] == "afterbegin"
    assert html.startswith('<div class="flash flash-error" role="alert">') and REFUSED_ZH in html and "<html" not in html


@pytest.mark.parametrize("header", ["HX-Current-URL", "Referer", "User-Agent", "Accept-Language", "X-CSRFToken"])
def test_a_control_character_in_a_header_is_400(client, pw, login_as, header):
    login_as(pw.main)
    assert client.get("/orders", headers={header: "a\x00b"}).status_code == 400
    assert client.get("/orders", headers={header: "a\x1bb"}).status_code == 400


def test_a_form_body_that_is_not_utf8_is_400(client, pw, login_as):
    login_as(pw.main)
    token = page_token(client, "/orders")
    body = f"amount=1&reason=shipping_fee&note=%ff%fe&csrf_token={token}".encode()
    resp = client.post(f"/orders/{pw.order.order_no}/payouts/review", data=body,
                       content_type="application/x-www-form-urlencoded")
    assert resp.status_code == 400


def test_an_absurd_form_value_is_400_and_a_huge_body_413(client, pw, login_as):
    login_as(pw.main)
    token = page_token(client, "/orders")
    url = f"/orders/{pw.order.order_no}/payouts/review"
    assert client.post(url, data={"note": "x" * 30_000, "csrf_token": token}).status_code == 400
    resp = client.post(url, data={"note": "x" * 2_000_000, "csrf_token": token})
    assert resp.status_code == 413 and "提交的内容过大" in resp.get_data(as_text=True)


def test_the_channels_notification_refuses_what_the_database_cannot_take(app, client, pw, db, clock):
    """Even signed (so from the channel), a NUL, a number past an integer or Infinity is 400."""
    from webapp.channel import protocol

    app.config["CHANNEL_SECRET"] = "s3cret"
    for event in ({"event_id": "e\u0000", "payout_id": 1, "state": "failed"},
                  {"event_id": "e1", "payout_id": 2**40, "state": "failed"},
                  {"event_id": "e2", "payout_id": float("inf"), "state": "failed"},
                  {"event_id": "e3", "payout_id": 1, "state": "failed", "reference": "r" * 65},
                  {"event_id": "e4", "payout_id": 1, "state": "failed", "reason": ["x"]}):
        body = json.dumps(event).encode()
        headers = protocol.sign("s3cret", "POST", "/channel/notify", body, int(clock.now().timestamp()))
        resp = client.post("/channel/notify", data=body, headers=headers, content_type="application/json")
        assert resp.status_code == 400 and resp.get_json() == {"error": "malformed"}, event


# --- security headers (ASVS 14.4) ------------------------------------------------------------------

DENIED = ("camera", "microphone", "geolocation", "payment", "usb", "serial", "hid", "midi", "display-capture")


def test_permissions_policy_and_cross_origin_isolation_headers(client, pw, login_as):
    for resp in (client.get("/login"), client.get("/static/css/app.css"), client.get("/nowhere")):
        policy = resp.headers["Permissions-Policy"]
        assert all(f"{feature}=()" in policy for feature in DENIED), policy
        assert resp.headers["Cross-Origin-Opener-Policy"] == "same-origin"
        assert resp.headers["Cross-Origin-Resource-Policy"] == "same-origin"
        assert resp.headers["X-Frame-Options"] == "DENY"
    login_as(pw.staff)
    embed = client.get(f"/embed/payout?order={pw.order.order_no}")  # framable by 'self' only: same-origin still
    assert embed.status_code == 200 and embed.headers["Cross-Origin-Resource-Policy"] == "same-origin"
    assert "X-Frame-Options" not in embed.headers and "frame-ancestors 'self'" in embed.headers["Content-Security-Policy"]


@pytest.fixture
def app_config(request):
    return getattr(request, "param", {})


@pytest.mark.parametrize("app_config", [{"EMBED_FRAME_ANCESTORS": "'self' https://chat.example"}], indirect=True)
def test_the_embed_stays_framable_by_the_chat_tool(client, pw, login_as):
    login_as(pw.staff)
    resp = client.get(f"/embed/payout?order={pw.order.order_no}")
    assert resp.status_code == 200
    assert "frame-ancestors 'self' https://chat.example" in resp.headers["Content-Security-Policy"]
    assert "X-Frame-Options" not in resp.headers
    assert resp.headers["Cross-Origin-Resource-Policy"] == "cross-origin"  # the chat tool's origin may load it
    assert resp.headers["Cross-Origin-Opener-Policy"] == "same-origin"  # no effect in a frame; harmless
    other = client.get("/payouts/new")
    assert other.headers["Cross-Origin-Resource-Policy"] == "same-origin" and other.headers["X-Frame-Options"] == "DENY"
