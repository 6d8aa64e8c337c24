"""R18 and deny-by-default: every route of app.url_map, for every kind of visitor, in one table.

A new route without an entry here fails `test_every_route_has_an_entry`.
Outcomes: 200 ok, 302 sent to sign in, 303 done-and-redirected, 403 wrong role, 404 not yours.
"""
import pytest

from tests.support import login, page_token

ACTORS = ["anon", "main_a", "staff_a", "main_b", "staff_b", "buyer_x", "buyer_y"]


def row(anon, main_a, staff_a, main_b, staff_b, buyer_x, buyer_y):
    return dict(zip(ACTORS, (anon, main_a, staff_a, main_b, staff_b, buyer_x, buyer_y), strict=True))


MERCHANT_LIST = row(302, 200, 200, 200, 200, 403, 403)
SHOP_A_OBJECT = row(302, 200, 200, 404, 404, 403, 403)
PUBLIC_PAGE = row(200, 200, 200, 200, 200, 200, 200)
REDIRECT = row(302, 302, 302, 302, 302, 302, 302)
POST_DONE = row(303, 303, 303, 303, 303, 303, 303)
MAIN_ONLY = row(302, 200, 403, 200, 403, 403, 403)
MAIN_A_OBJECT = row(302, 200, 403, 404, 403, 403, 403)
MAIN_A_OBJECT_REDIRECT = row(302, 302, 403, 404, 403, 403, 403)
SIGNED_IN = row(302, 200, 200, 200, 200, 200, 200)

# endpoint -> (method, path with {order_a}/{case_a} placeholders, expected by actor)
MATRIX = {
    "core.index": ("GET", "/", REDIRECT),
    "core.healthz": ("GET", "/healthz", PUBLIC_PAGE),
    # Readiness is public, and 503 here: the test world has no worker heartbeat (see test_ops.py).
    "core.readyz": ("GET", "/readyz", row(503, 503, 503, 503, 503, 503, 503)),
    # Metrics answer loopback clients (the test client is 127.0.0.1) or METRICS_TOKEN, whoever is
    # signed in; a remote client gets 404 (test_ops.py).
    "core.metrics": ("GET", "/metrics", PUBLIC_PAGE),
    # The channel's notifications: no session, authenticated by the channel's signature (fault suite:
    # tests/faults). Without a configured channel secret, as here, the endpoint does not exist.
    "channel_notify.notify": ("POST", "/channel/notify", row(404, 404, 404, 404, 404, 404, 404)),
    "auth.merchant_login": ("GET", "/login", PUBLIC_PAGE),
    "auth.buyer_login": ("GET", "/buyer/login", PUBLIC_PAGE),
    "auth.logout": ("POST", "/logout", POST_DONE),
    "auth.set_language": ("POST", "/lang", POST_DONE),
    "merchant.orders": ("GET", "/orders", MERCHANT_LIST),
    "merchant.order_detail": ("GET", "/orders/{order_a}", SHOP_A_OBJECT),
    "merchant.cases": ("GET", "/after-sales", MERCHANT_LIST),
    "merchant.case_detail": ("GET", "/after-sales/{case_a}", SHOP_A_OBJECT),
    "buyer.orders": ("GET", "/my/orders", row(302, 403, 403, 403, 403, 200, 200)),
    # Small payouts. POSTs without form data: 422 is "allowed in, form refused"; staff A has no quota.
    "payouts.new": ("GET", "/payouts/new?order={order_a}", MERCHANT_LIST),
    "payouts.embed": ("GET", "/embed/payout?order={order_a}", MERCHANT_LIST),
    "payouts.check": ("POST", "/orders/{order_a}/payouts/check", row(302, 200, 200, 404, 404, 403, 403)),
    "payouts.change": ("POST", "/orders/{order_a}/payouts/change", row(302, 200, 200, 404, 404, 403, 403)),
    "payouts.summary": ("GET", "/orders/{order_a}/payouts/summary", row(302, 200, 200, 404, 404, 403, 403)),
    "payouts.records": ("GET", "/payouts", MERCHANT_LIST),
    "workday.home": ("GET", "/home", MERCHANT_LIST),
    "workday.live": ("GET", "/home/live", MERCHANT_LIST),
    # R20/R21: payout_a was started by main_a and not yet sent. The requester or the main account
    # may withdraw it; deciding needs the main account or an approver, never the requester (a
    # refusal is flashed: 303), and a plain sub-account is refused (403).
    "payouts.withdraw": ("POST", "/payouts/{payout_a}/withdraw", row(302, 303, 403, 404, 404, 403, 403)),
    "payouts.approve": ("POST", "/payouts/{payout_a}/approve", row(302, 303, 403, 404, 404, 403, 403)),
    "payouts.reject": ("POST", "/payouts/{payout_a}/reject", row(302, 303, 403, 404, 404, 403, 403)),
    "payouts.approvals": ("GET", "/payouts/approvals", MERCHANT_LIST),
    "payouts.approvals_count": ("GET", "/payouts/approvals/count", MERCHANT_LIST),
    "payouts.export_csv": ("GET", "/payouts/export.csv", MERCHANT_LIST),
    "payouts.export_xlsx": ("GET", "/payouts/export.xlsx", MERCHANT_LIST),
    "inbox.bell": ("GET", "/messages/bell", MERCHANT_LIST),
    "inbox.index": ("GET", "/messages", MERCHANT_LIST),
    "inbox.read": ("POST", "/messages/{message_a}/read", row(302, 303, 303, 404, 404, 403, 403)),
    "inbox.read_all": ("POST", "/messages/read-all", row(302, 303, 303, 303, 303, 403, 403)),
    "buyer.payout_status": ("GET", "/my/payouts/{payout_a}/status", row(302, 403, 403, 403, 403, 200, 404)),
    # Staff and quotas, activity: main accounts only; another shop's account is 404.
    "staff.index": ("GET", "/staff", MAIN_ONLY),
    "staff.create": ("GET", "/staff/new", MAIN_ONLY),
    "staff.row": ("GET", "/staff/{staff_a}/row", MAIN_A_OBJECT_REDIRECT),
    "staff.edit_quota": ("GET", "/staff/{staff_a}/quota/edit", MAIN_A_OBJECT),
    "staff.save_quota": ("POST", "/staff/{staff_a}/quota", row(302, 303, 403, 404, 403, 403, 403)),
    "staff.set_active": ("POST", "/staff/{staff_a}/active", row(302, 303, 403, 404, 403, 403, 403)),
    "staff.set_approver": ("POST", "/staff/{staff_a}/approver", row(302, 303, 403, 404, 403, 403, 403)),
    "staff.reset_password": ("GET", "/staff/{staff_a}/password", MAIN_A_OBJECT),
    "staff.activity": ("GET", "/activity", MAIN_ONLY),
    "staff.my_quota": ("GET", "/quota/mine", row(302, 403, 200, 403, 200, 403, 403)),
    # Fast refunds: settings are the main account's; staff may decide cases; buyers apply.
    "settings.settlement": ("GET", "/settings/settlement", MAIN_ONLY),
    "settings.payout_controls": ("GET", "/settings/payouts", MAIN_ONLY),
    "settings.review": ("POST", "/settings/settlement/review", row(302, 422, 403, 422, 403, 403, 403)),
    "settings.confirm": ("POST", "/settings/settlement/confirm", row(302, 422, 403, 422, 403, 403, 403)),
    "settings.set_enabled": ("POST", "/settings/settlement/enabled", row(302, 422, 403, 422, 403, 403, 403)),
    "settings.funds": ("GET", "/funds", MERCHANT_LIST),
    # Funds movements export: whoever sees the funds page. Top-up: the main account only (422: allowed
    # in, the empty form refused); staff read the funds page without it.
    "settings.funds_export_csv": ("GET", "/funds/export.csv", MERCHANT_LIST),
    "settings.funds_export_xlsx": ("GET", "/funds/export.xlsx", MERCHANT_LIST),
    "settings.funds_topup": ("POST", "/funds/topup", row(302, 422, 403, 422, 403, 403, 403)),
    # R22: staff_a has no refund permission: the case waits for the main account (403, said on the page).
    "merchant.approve": ("POST", "/after-sales/{case_a}/approve", row(302, 303, 403, 404, 404, 403, 403)),
    "merchant.reject": ("POST", "/after-sales/{case_a}/reject", row(302, 422, 403, 404, 404, 403, 403)),
    "buyer.apply_refund": ("GET", "/my/orders/{order_a}/refund", row(302, 403, 403, 403, 403, 200, 404)),
    "buyer.refund": ("GET", "/my/refunds/{case_a}", row(302, 403, 403, 403, 403, 200, 404)),
    "buyer.refund_status": ("GET", "/my/refunds/{case_a}/status", row(302, 403, 403, 403, 403, 200, 404)),
    "payouts.review": ("POST", "/orders/{order_a}/payouts/review", row(302, 422, 422, 404, 404, 403, 403)),
    "payouts.create": ("POST", "/orders/{order_a}/payouts", row(302, 422, 422, 404, 404, 403, 403)),
    "payouts.status": ("GET", "/payouts/{payout_a}/status", row(302, 200, 200, 404, 404, 403, 403)),
    "payouts.continue_": ("POST", "/payouts/{payout_a}/continue", row(302, 303, 303, 404, 404, 403, 403)),
    "buyer.order_detail": ("GET", "/my/orders/{order_a}", row(302, 403, 403, 403, 403, 200, 404)),
    # Buyer in-site messages (R25): buyers only, each their own; buyer X's message is 404 to buyer Y.
    "buyer_inbox.bell": ("GET", "/my/messages/bell", row(302, 403, 403, 403, 403, 200, 200)),
    "buyer_inbox.index": ("GET", "/my/messages", row(302, 403, 403, 403, 403, 200, 200)),
    "buyer_inbox.read": ("POST", "/my/messages/{buyer_message_x}/read", row(302, 403, 403, 403, 403, 303, 404)),
    "buyer_inbox.read_all": ("POST", "/my/messages/read-all", row(302, 403, 403, 403, 403, 303, 303)),
    # R27 My sessions: everyone signed in, each their own. A handle names one of the account's own
    # sessions; any other (another account's, or none) is not found.
    "account.sessions": ("GET", "/account/sessions", SIGNED_IN),
    "account.end_others": ("POST", "/account/sessions/end-others", POST_DONE | {"anon": 302}),
    "account.end_session": ("POST", "/account/sessions/0123456789abcdef/end", row(302, 404, 404, 404, 404, 404, 404)),
    # Step-up re-authentication (ASVS 4.3.3): any merchant confirms its own password again.
    "step_up.confirm": ("GET", "/account/confirm-password", MERCHANT_LIST),
    # Two-step verification (issue 12 point 3): a merchant's own. Without a set-up secret in the session,
    # or with two-factor off, the changes go back to the page with a notice (303); buyers have none.
    "two_factor.settings": ("GET", "/account/two-factor", MERCHANT_LIST),
    "two_factor.enable": ("POST", "/account/two-factor/enable", row(302, 303, 303, 303, 303, 403, 403)),
    "two_factor.disable": ("POST", "/account/two-factor/disable", row(302, 303, 303, 303, 303, 403, 403)),
    "two_factor.regenerate": ("POST", "/account/two-factor/recovery-codes", row(302, 303, 303, 303, 303, 403, 403)),
    # The code step of a sign-in: public; without a password step before it, back to sign in.
    "auth.two_factor": ("GET", "/login/two-factor", REDIRECT),
    # The main account requires it of its sub-accounts, and resets a sub-account's (staff_a has none: a notice).
    "staff.require_two_factor": ("POST", "/staff/two-factor", row(302, 303, 403, 303, 403, 403, 403)),
    "staff.reset_two_factor": ("POST", "/staff/{staff_a}/two-factor/reset", row(302, 303, 403, 404, 403, 403, 403)),
}


def _buyer_message_x(world) -> int:
    """A message to buyer X about shop A's payout (R25)."""
    from webapp.extensions import db
    from webapp.services import inbox

    inbox.notify_buyer(db.session, world.buyer_x.id, "payout_received", payout_id=world.payout_a.id,
                       params={"order_no": world.order_a.order_no}, now=world.message_a.created_at)
    db.session.commit()
    return inbox.buyer_messages(db.session, world.buyer_x.id).rows[0].id


def test_every_route_has_an_entry(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules() if rule.endpoint != "static"}
    assert endpoints - set(MATRIX) == set(), "new routes need a row in MATRIX"
    assert set(MATRIX) - endpoints == set(), "MATRIX lists routes that no longer exist"


def test_every_route_declares_a_permission(app):
    from webapp.web.access import declared

    undeclared = [ep for ep, view in app.view_functions.items() if ep != "static" and declared(view) is None]
    assert undeclared == []


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("endpoint", sorted(MATRIX))
def test_r18_matrix(client, world, endpoint, actor):
    method, path, expected = MATRIX[endpoint]
    if actor != "anon":
        assert login(client, getattr(world, actor)).status_code == 303
    url = path.format(order_a=world.order_a.order_no, case_a=world.case_a.id, payout_a=world.payout_a.id,
                      message_a=world.message_a.id, staff_a=world.staff_a.id,
                      buyer_message_x=_buyer_message_x(world) if "{buyer_message_x}" in path else None)
    if method == "GET":
        resp = client.get(url)
    else:
        resp = client.post(url, data={"csrf_token": page_token(client, "/login")})
    if actor == "anon" and method == "POST" and expected[actor] == 302:
        assert resp.headers["Location"].startswith("/buyer/login" if endpoint.startswith("buyer") else "/login")
    assert resp.status_code == expected[actor], f"{actor} {method} {url}"


def test_undeclared_route_is_refused(app, client, world):
    """Deny by default: a route that forgets its permission is refused for everyone."""
    from webapp.web.access import guard  # noqa: F401  (the guard is what we exercise)

    @app.route("/forgot-to-declare")
    def forgot():
        return "secret"

    assert client.get("/forgot-to-declare").status_code == 403
    login(client, world.main_a)
    assert client.get("/forgot-to-declare").status_code == 403
