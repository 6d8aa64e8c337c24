"""The small-payout flow on the order page: amount -> review -> confirm, refusals in the user's
language (zh_CN and en), live status rows, continue payout."""
import re
import uuid

import pytest
from sqlalchemy import func, select

from tests.support import intent, page_token, payout_world
from webapp import worker
from webapp.models import Payout, PayoutQuota
from webapp.services import payouts as svc

LANGS = ["zh_CN", "en"]


@pytest.fixture
def pw(make, db):
    return payout_world(make, db, paid_fen=10_000, funds_fen=1_000_000, quota=(5_000, 8_000))


def use_lang(client, lang):
    client.post("/lang", data={"lang": lang, "csrf_token": page_token(client, "/login")})


def order_page(client, order):
    return client.get(f"/orders/{order.order_no}").get_data(as_text=True)


def form_key(html):
    m = re.search(r'name="request_key" type="hidden" value="(\w+)"', html)
    return m.group(1) if m else uuid.uuid4().hex  # no form on the page: a forged request


def post_review(client, order, amount, reason="shipping_fee", note=""):
    html = order_page(client, order)
    data = {"amount": amount, "reason": reason, "note": note, "request_key": form_key(html),
            "csrf_token": page_token(client, f"/orders/{order.order_no}")}
    return client.post(f"/orders/{order.order_no}/payouts/review", data=data), data


def test_r4_review_then_confirm_creates_one_payout(client, pw, login_as, db):
    login_as(pw.staff)
    use_lang(client, "en")
    resp, data = post_review(client, pw.order, "5", note="运费补偿")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "Confirm the payout" in html and "¥5.00" in html and "运费补偿" in html
    assert db.session.scalar(select(func.count()).select_from(Payout)) == 0  # nothing until confirmed
    confirm = client.post(f"/orders/{pw.order.order_no}/payouts", data=data)
    assert confirm.status_code == 303
    again = client.post(f"/orders/{pw.order.order_no}/payouts", data=data)  # reload / double submit
    assert again.status_code == 303
    assert db.session.scalar(select(func.count()).select_from(Payout)) == 1
    page = order_page(client, pw.order)
    assert "Payout of ¥5.00 started." in page and "Pending payout" in page and "Continue payout" in page


def test_r4_htmx_confirm_answers_with_the_section_fragment(client, pw, login_as):
    login_as(pw.staff)
    _, data = post_review(client, pw.order, "5")
    resp = client.post(f"/orders/{pw.order.order_no}/payouts", data=data, headers={"HX-Request": "true"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "<html" not in html and 'id="payout-flow"' in html and 'hx-trigger="every 2s"' in html


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize(
    "amount, zh, en",
    [
        ("", "请输入金额", "Enter an amount."),
        ("abc", "请以元为单位输入金额", "Enter the amount in yuan"),
        ("1.234", "最多两位小数", "Use at most two decimals"),
        ("-1", "金额不能为负数", "The amount cannot be negative."),
        ("0", "金额必须大于", "The amount must be more than"),
        ("１２", "请使用半角数字", "Use half-width digits"),
        ("50.01", "超过你的单笔打款上限 ¥50.00", "Above your per-payout limit of ¥50.00"),  # R3.1
    ],
)
def test_r3_amount_errors_are_shown_next_to_the_field_and_keep_the_input(client, pw, login_as, lang, amount, zh, en):
    login_as(pw.staff)
    use_lang(client, lang)
    resp, _ = post_review(client, pw.order, amount, note="keep me")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert (zh if lang == "zh_CN" else en) in html
    assert f'value="{amount}"' in html or amount == ""
    assert "keep me" in html


@pytest.mark.parametrize("lang", LANGS)
def test_r3_2_daily_limit_message(client, pw, login_as, make, db, clock, lang):
    other = make.order(pw.shop, pw.buyer, paid_fen=10_000)
    svc.create_payout(db.session, pw.staff, intent(other, 5_000), clock.now())
    login_as(pw.staff)
    use_lang(client, lang)
    html = post_review(client, pw.order, "30.01")[0].get_data(as_text=True)
    assert ("你今天最多还能打款 ¥30.00（你的每日打款上限为 ¥80.00）" if lang == "zh_CN"
            else "You can pay out at most ¥30.00 more today: your daily limit is ¥80.00") in html


@pytest.mark.parametrize("lang", LANGS)
def test_r3_3_shop_remaining_message(client, make, db, login_as, lang):
    w = payout_world(make, db, cap_fen=2_000)
    login_as(w.main)
    use_lang(client, lang)
    html = post_review(client, w.order, "20.01")[0].get_data(as_text=True)
    assert ("店铺今天最多还能打款 ¥20.00" if lang == "zh_CN" else "The shop can pay out at most ¥20.00 more today") in html


@pytest.mark.parametrize("lang", LANGS)
def test_r3_4_funds_message(client, make, db, login_as, lang):
    w = payout_world(make, db, funds_fen=300)
    login_as(w.main)
    use_lang(client, lang)
    html = post_review(client, w.order, "3.01")[0].get_data(as_text=True)
    assert ("货款账户可用余额只有 ¥3.00" if lang == "zh_CN" else "The funds account has only ¥3.00 available") in html


@pytest.mark.parametrize("lang", LANGS)
def test_r3_5_order_remaining_message(client, make, db, login_as, lang):
    w = payout_world(make, db, paid_fen=990)
    login_as(w.main)
    use_lang(client, lang)
    html = post_review(client, w.order, "9.91")[0].get_data(as_text=True)
    assert ("该订单最多可打款 ¥9.90（即订单实付金额）" if lang == "zh_CN" else "At most ¥9.90 can be paid out on this order") in html


def _r2_1(w, make, db, clock):
    for _ in range(5):
        svc.create_payout(db.session, w.main, intent(w.order, 100), clock.now())
        clock.advance(minutes=1)


def _r2_2(w, make, db, clock):
    svc.create_payout(db.session, w.main, intent(w.order, 100), clock.now())


def _r2_3(w, make, db, clock):
    db.session.get(PayoutQuota, w.staff.id).enabled = False
    db.session.commit()


def _r2_4(w, make, db, clock):
    svc.create_payout(db.session, w.main, intent(w.order, 10_000), clock.now())
    clock.advance(minutes=1)


def _r2_5(w, make, db, clock):
    w.shop.daily_payout_cap_fen = 5_000
    db.session.commit()
    svc.create_payout(db.session, w.main, intent(make.order(w.shop, w.buyer), 5_000), clock.now())


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize(
    "setup, rule, zh, en",
    [
        (_r2_1, "R2.1", "已达单笔订单上限", "the most one order can have"),
        (_r2_2, "R2.2", "打款过于频繁", "less than a minute ago"),
        (_r2_3, "R2.3", "请联系主账号为你开启打款权限并设置额度", "Ask the main account to enable payouts for you"),
        (_r2_4, "R2.4", "累计打款已达到实付金额 ¥100.00", "already reach its paid amount of ¥100.00"),
        (_r2_5, "R2.5", "店铺今日打款已达每日上限 ¥50.00", "its daily maximum of ¥50.00 today"),
    ],
)
def test_r2_blocking_reasons_shown_in_plain_words(client, pw, login_as, make, db, clock, lang, setup, rule, zh, en):
    setup(pw, make, db, clock)
    login_as(pw.staff)
    use_lang(client, lang)
    html = order_page(client, pw.order)
    assert (zh if lang == "zh_CN" else en) in html
    assert rule not in html  # in plain words: the rule number is for the code and the tests
    assert "payouts/review" not in html  # no form to submit while blocked
    resp, _ = post_review(client, pw.order, "1")  # a forged POST is refused by the server too
    assert resp.status_code == 422


def test_r6_status_row_polls_until_final_then_stops(client, pw, login_as, db, clock):
    p = svc.create_payout(db.session, pw.main, intent(pw.order, 500), clock.now()).payout
    login_as(pw.main)
    live = client.get(f"/payouts/{p.id}/status", headers={"HX-Request": "true"})
    assert live.status_code == 200 and 'hx-trigger="every 2s"' in live.get_data(as_text=True)
    for _ in range(5):
        worker.run_once(clock.now())
        clock.advance(seconds=2)
    final = client.get(f"/payouts/{p.id}/status", headers={"HX-Request": "true"})
    html = final.get_data(as_text=True)
    assert final.status_code == 286 and "hx-trigger" not in html and "打款成功" in html


def test_r6_failed_payout_shows_the_reason(client, pw, login_as, make, db, clock):
    order = make.order(pw.shop, make.buyer(login="frozen-buyer"))
    p = svc.create_payout(db.session, pw.main, intent(order, 500), clock.now()).payout
    worker.run_once(clock.now())
    login_as(pw.main)
    use_lang(client, "en")
    html = client.get(f"/payouts/{p.id}/status").get_data(as_text=True)
    assert "Payout failed" in html and "wallet is frozen" in html


def test_r6_continue_payout_button(client, pw, login_as, db, clock, app):
    p = svc.create_payout(db.session, pw.main, intent(pw.order, 500), clock.now()).payout
    app.extensions["afterdesk.channel"].outage = True
    worker.run_once(clock.now())
    app.extensions["afterdesk.channel"].outage = False
    login_as(pw.staff)
    resp = client.post(f"/payouts/{p.id}/continue", data={"csrf_token": page_token(client, "/orders")},
                       headers={"HX-Request": "true"})
    assert resp.status_code == 200 and f'id="payout-{p.id}"' in resp.get_data(as_text=True)
    assert db.session.get(Payout, p.id, populate_existing=True).next_attempt_at == clock.now()


def test_note_longer_than_200_is_refused_and_kept(client, pw, login_as):
    login_as(pw.main)
    use_lang(client, "en")
    resp, _ = post_review(client, pw.order, "1", note="x" * 201)
    assert resp.status_code == 422 and "At most 200 characters." in resp.get_data(as_text=True)
