"""The merchant and buyer pages: full pages without JavaScript, fragments for htmx."""
from datetime import timedelta

from tests.support import T0, page_token


def test_orders_full_page_and_htmx_fragment(client, world, login_as):
    login_as(world.staff_a)
    full = client.get("/orders").get_data(as_text=True)
    assert "<html" in full and 'id="orders-results"' in full and world.order_a.order_no in full
    frag = client.get("/orders?q=690000", headers={"HX-Request": "true"})
    html = frag.get_data(as_text=True)
    assert "<html" not in html and "<table" in html and world.order_a.order_no in html
    assert "HX-Request" in frag.headers["Vary"]


def test_boosted_and_history_restore_requests_get_the_full_page(client, world, login_as):
    login_as(world.staff_a)
    boosted = client.get("/orders", headers={"HX-Request": "true", "HX-Boosted": "true"}).get_data(as_text=True)
    restore = client.get("/orders", headers={"HX-Request": "true", "HX-History-Restore-Request": "true"}).get_data(as_text=True)
    assert "<html" in boosted and "<html" in restore


def test_search_finds_by_prefix_and_says_when_nothing_matches(client, world, login_as, make):
    login_as(world.main_a)
    other = make.order(world.shop_a, world.buyer_x, order_no="6977770000000000001")
    html = client.get("/orders?q=69777", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert other.order_no in html and world.order_a.order_no not in html
    client.post("/lang", data={"lang": "en", "csrf_token": page_token(client, "/orders")})
    html = client.get("/orders?q=123", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Searched: order number starts or ends with 123." in html and "0 orders found" in html


def test_search_never_shows_another_shops_order(client, world, login_as):
    login_as(world.staff_a)
    html = client.get(f"/orders?q={world.order_b.order_no}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert f"/orders/{world.order_b.order_no}" not in html and "<table" not in html


def test_status_filter_and_bad_status_ignored(client, world, login_as, make):
    login_as(world.main_a)
    shipped = make.order(world.shop_a, world.buyer_x, status="shipped")
    html = client.get("/orders?status=shipped").get_data(as_text=True)
    assert shipped.order_no in html and world.order_a.order_no not in html
    assert client.get("/orders?status=<script>").status_code == 200


def test_pagination_link_continues_where_the_page_ended(client, world, login_as, make, app):
    app.config["ORDERS_PAGE_SIZE"] = 3
    for i in range(5):
        make.order(world.shop_a, world.buyer_x, paid_at=T0 - timedelta(days=1, minutes=i))
    login_as(world.main_a)
    first = client.get("/orders").get_data(as_text=True)
    import re

    cursor = re.search(r"cursor=([0-9.]+)", first).group(1)
    second = client.get(f"/orders?cursor={cursor}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert second.count('href="/orders/69') == 3 and "cursor=" not in second


def test_order_detail_shows_buyer_amount_cases_and_payout_section(client, world, login_as):
    login_as(world.staff_a)
    client.post("/lang", data={"lang": "en", "csrf_token": page_token(client, "/orders")})
    html = client.get(f"/orders/{world.order_a.order_no}").get_data(as_text=True)
    assert world.buyer_x.display_name in html and "¥100.00" in html
    assert f"/after-sales/{world.case_a.id}" in html
    assert "Small payouts" in html


def test_case_detail_links_its_order(client, world, login_as):
    login_as(world.main_a)
    html = client.get(f"/after-sales/{world.case_a.id}").get_data(as_text=True)
    assert f"/orders/{world.order_a.order_no}" in html


def test_r18_buyer_sees_only_own_orders(client, world, login_as):
    login_as(world.buyer_x)
    html = client.get("/my/orders").get_data(as_text=True)
    assert world.order_a.order_no in html and world.order_b.order_no not in html
    assert client.get(f"/my/orders/{world.order_b.order_no}").status_code == 404


def test_chinese_by_default_english_by_switch(client, world, login_as):
    login_as(world.staff_a)
    zh = client.get("/orders").get_data(as_text=True)
    assert 'lang="zh-CN"' in zh and "订单管理" in zh
    resp = client.post("/lang", data={"lang": "en", "next": "/orders?q=69", "csrf_token": page_token(client, "/orders")})
    assert resp.status_code == 303 and resp.headers["Location"] == "/orders?q=69"
    en = client.get("/orders").get_data(as_text=True)
    assert 'lang="en"' in en and "Order management" in en


def test_language_switch_refuses_unknown_language_and_foreign_next(client):
    token = page_token(client, "/login")
    resp = client.post("/lang", data={"lang": "fr", "next": "https://evil.example", "csrf_token": token})
    assert resp.status_code == 303 and resp.headers["Location"] == "/"


def test_error_pages_are_in_the_users_language(client, world, login_as):
    login_as(world.main_a)
    html = client.get("/orders/0000").get_data(as_text=True)
    assert "未找到" in html or "不存在" in html
