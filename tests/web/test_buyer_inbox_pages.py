"""R25 on the buyer's pages: the bell in the top bar with the unread count, the message list in
zh and en, mark read (one, all; htmx and plain forms), each message leading to its order or refund,
and R18: only the buyer's own messages (another buyer's answers 404)."""
import re

import pytest

from tests.support import intent, login, page_token, payout_world
from webapp.models import InSiteMessage
from webapp.services import payouts as psvc
from webapp.services import refunds

HX = {"HX-Request": "true"}


@pytest.fixture
def told(make, db, clock):
    """A buyer told twice: a payout that failed on a frozen wallet, and a rejected refund."""
    w = payout_world(make, db)
    w.shop.name = "星河数码旗舰店"
    db.session.commit()
    p = psvc.create_payout(db.session, w.staff, intent(w.order, 800), clock.now()).payout
    psvc.settle_failed(db.session, p.id, "buyer_wallet_frozen", clock.now())
    clock.advance(minutes=1)
    case = make.case(w.order, kind="return_and_refund", requested_fen=2_000)
    refunds.reject(db.session, w.main, case.id, "商品有明显使用痕迹", clock.now())
    w.payout, w.case = p, case
    w.payout_msg = db.session.query(InSiteMessage).filter_by(buyer_id=w.buyer.id, payout_id=p.id).one()
    w.case_msg = db.session.query(InSiteMessage).filter_by(buyer_id=w.buyer.id, case_id=case.id).one()
    return w


def en(client):
    client.post("/lang", data={"lang": "en", "csrf_token": page_token(client, "/my/orders")})


def bell_count(html: str) -> int:
    m = re.search(r'class="bell-count"[^>]*>(\d+)<', html)
    return int(m.group(1)) if m else 0


def test_r25_list_and_bell_in_chinese(client, told, login_as):
    login_as(told.buyer)
    orders = client.get("/my/orders").get_data(as_text=True)
    assert 'href="/my/messages"' in orders and bell_count(orders) == 2
    html = client.get("/my/messages").get_data(as_text=True)
    assert "一笔打款未能到账" in html
    assert "星河数码旗舰店 为订单 %s 给您的打款 ¥8.00 未能到账。您的钱包已被冻结：请先解冻钱包，再请商家重新打款。" % told.order.order_no in html
    assert "退款申请被拒绝" in html and "原因：商品有明显使用痕迹" in html
    assert "查看订单" in html and "查看退款" in html and "全部标为已读" in html
    assert html.index("退款申请被拒绝") < html.index("一笔打款未能到账")  # newest first
    assert bell_count(client.get("/my/messages/bell").get_data(as_text=True)) == 2


def test_r25_list_and_bell_in_english(client, told, login_as):
    login_as(told.buyer)
    en(client)
    html = client.get("/my/messages").get_data(as_text=True)
    assert "A payout to you did not arrive" in html
    assert ("The payout of ¥8.00 from 星河数码旗舰店 for order %s did not arrive. "
            "Your wallet is frozen: unfreeze it, then ask the shop to pay again." % told.order.order_no) in html
    assert "Refund application rejected" in html and "Reason: 商品有明显使用痕迹" in html
    assert "View the order" in html and "View the refund" in html and "Mark all as read" in html
    bell = client.get("/my/messages/bell").get_data(as_text=True)
    assert bell_count(bell) == 2 and "2 unread" in bell


def test_r25_opening_a_message_marks_it_read_and_leads_to_its_order_or_refund(client, told, login_as, db):
    login_as(told.buyer)
    token = page_token(client, "/my/messages")
    resp = client.post(f"/my/messages/{told.payout_msg.id}/read", data={"csrf_token": token})
    assert resp.status_code == 303
    assert resp.headers["Location"] == f"/my/orders/{told.order.order_no}#payout-{told.payout.id}"
    resp = client.post(f"/my/messages/{told.case_msg.id}/read", data={"csrf_token": token})
    assert resp.status_code == 303 and resp.headers["Location"] == f"/my/refunds/{told.case.id}"
    assert client.get(resp.headers["Location"]).status_code == 200
    assert bell_count(client.get("/my/messages/bell").get_data(as_text=True)) == 0


def test_r25_mark_one_read_with_htmx_swaps_it_and_tells_the_bell(client, told, login_as, db):
    login_as(told.buyer)
    token = page_token(client, "/my/messages")
    resp = client.post(f"/my/messages/{told.payout_msg.id}/read", data={"csrf_token": token, "then": "list"}, headers=HX)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "messages-changed" in resp.headers["HX-Trigger"]
    assert html.lstrip().startswith("<") and f'id="message-{told.payout_msg.id}"' in html and "unread" not in html
    assert "标为已读" not in html and "<html" not in html
    assert bell_count(client.get("/my/messages/bell").get_data(as_text=True)) == 1
    # Without JavaScript the same button goes back to the list.
    resp = client.post(f"/my/messages/{told.case_msg.id}/read", data={"csrf_token": token, "then": "list"})
    assert resp.status_code == 303 and resp.headers["Location"] == "/my/messages"
    assert bell_count(client.get("/my/messages").get_data(as_text=True)) == 0


@pytest.mark.parametrize("htmx", [False, True])
def test_r25_mark_all_read(client, told, login_as, htmx):
    login_as(told.buyer)
    token = page_token(client, "/my/messages")
    resp = client.post("/my/messages/read-all", data={"csrf_token": token}, headers=HX if htmx else {})
    if htmx:
        html = resp.get_data(as_text=True)
        assert resp.status_code == 200 and "messages-changed" in resp.headers["HX-Trigger"]
        assert "全部标为已读" not in html and "class=\"card message unread" not in html and "<html" not in html
    else:
        assert resp.status_code == 303 and resp.headers["Location"] == "/my/messages"
    page = client.get("/my/messages").get_data(as_text=True)
    assert bell_count(page) == 0 and "全部标为已读" not in page and "一笔打款未能到账" in page  # read, still listed


def test_r18_another_buyers_message_answers_404_and_stays_unread(client, told, make, db):
    other = make.buyer()
    assert login(client, other).status_code == 303
    token = page_token(client, "/my/messages")
    for then in ("", "list"):
        resp = client.post(f"/my/messages/{told.payout_msg.id}/read", data={"csrf_token": token, "then": then})
        assert resp.status_code == 404
    html = client.get("/my/messages").get_data(as_text=True)
    assert "一笔打款未能到账" not in html and "暂无消息。" in html and bell_count(html) == 0
    client.post("/my/messages/read-all", data={"csrf_token": token})
    db.session.expire_all()
    assert db.session.get(InSiteMessage, told.payout_msg.id).read_at is None


def test_r18_merchants_never_see_buyer_messages(client, told, login_as):
    login_as(told.main)
    assert client.get("/my/messages").status_code == 403
    html = client.get("/messages").get_data(as_text=True)
    assert "一笔打款未能到账" not in html and "退款申请被拒绝" not in html
    assert "小额打款失败" in html  # the shop's own message about the same payout (R6)
    assert bell_count(html) == 1
