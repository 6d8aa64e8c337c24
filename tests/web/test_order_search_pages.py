"""The order list's search box: first or last digits, in Chinese (the default) and English."""
from tests.support import both_backends, page_token

pytestmark = both_backends


def results(client, query: str) -> str:
    return client.get(f"/orders?{query}", headers={"HX-Request": "true"}).get_data(as_text=True)


def to_english(client) -> None:
    client.post("/lang", data={"lang": "en", "csrf_token": page_token(client, "/orders")})


def test_search_by_last_digits_finds_the_order_and_only_this_shops(client, world, login_as, make):
    login_as(world.staff_a)
    mine = make.order(world.shop_a, world.buyer_x, order_no="6926000000000084126")
    theirs = make.order(world.shop_b, world.buyer_y, order_no="6926000000000184126")
    html = results(client, "q=84126")
    assert f"/orders/{mine.order_no}" in html and theirs.order_no not in html
    assert world.order_a.order_no not in html and "<html" not in html
    # pasted with spaces and dashes, as read off a parcel
    assert f"/orders/{mine.order_no}" in results(client, "q=8-41+26")
    full = client.get("/orders?q=84126").get_data(as_text=True)  # without JavaScript: the whole page
    assert "<html" in full and f"/orders/{mine.order_no}" in full and 'value="84126"' in full


def test_search_keeps_the_status_filter(client, world, login_as, make):
    login_as(world.main_a)
    shipped = make.order(world.shop_a, world.buyer_x, order_no="6926000000000000555", status="shipped")
    paid = make.order(world.shop_a, world.buyer_x, order_no="6927000000000000555", status="paid")
    html = results(client, "q=555&status=shipped")
    assert shipped.order_no in html and paid.order_no not in html


def test_nothing_found_says_what_was_searched_and_what_to_try_in_chinese_and_english(client, world, login_as):
    login_as(world.staff_a)
    html = results(client, "q=4242")
    assert "搜索：订单号开头或结尾为 4242 · 买家手机尾号 4242。" in html and "找到 0 个订单" in html
    assert "没有找到。可以试试订单号或买家手机的后 4 位，或买家姓名。" in html
    to_english(client)
    html = results(client, "q=4242")
    assert "Searched: order number starts or ends with 4242 · buyer&#39;s phone ends with 4242." in html
    assert "0 orders found" in html
    assert "Nothing found. Try the last 4 digits of the order number or of the buyer's phone, or the buyer's name." in html


def test_more_than_a_page_asks_for_more_digits_in_chinese_and_english(client, world, login_as, make, app):
    app.config["ORDERS_PAGE_SIZE"] = 2
    for i in range(3):
        make.order(world.shop_a, world.buyer_x, order_no=f"69260000000000{i}7070")
    login_as(world.staff_a)
    html = results(client, "q=7070")
    assert html.count('href="/orders/6926') == 2
    assert "仅显示前 2 条：请输入更多内容缩小范围。" in html
    assert "cursor=" not in html  # a search is one page: narrowing it down is the way on
    to_english(client)
    html = results(client, "q=7070")
    assert "Only the first 2 are shown: type more to narrow the search." in html
    html = results(client, "q=17070")  # a single match: no notice
    assert html.count('href="/orders/6926') == 1 and "Only the first" not in html and "1 order found" in html


def test_search_by_buyer_name_and_phone_tail_shows_the_tail_only(client, world, login_as, make):
    login_as(world.staff_a)
    hit = make.order(world.shop_a, world.buyer_x, order_no="6926000000000000901", buyer_name="王小明",
                     buyer_phone="13800004821")
    html = results(client, "q=4821")
    assert f"/orders/{hit.order_no}" in html and "手机尾号 4821" in html
    assert "13800004821" not in html  # the whole phone is never shown
    html = results(client, "q=%E7%8E%8B")  # 王
    assert f"/orders/{hit.order_no}" in html and "王小明" in html and "买家姓名以“王”开头" in html
    html = results(client, "q=%E5%BC%A0")  # 张: nobody
    assert "/orders/6926" not in html and "找到 0 个订单" in html


def test_after_sales_search_links_order_numbers_and_keeps_what_was_typed(client, world, login_as, make):
    login_as(world.main_a)
    order = make.order(world.shop_a, world.buyer_x, order_no="6926000000000000902", buyer_name="李雷",
                       buyer_phone="13900001234")
    case = make.case(order)
    other = make.case(world.order_a)
    html = client.get("/after-sales?q=1234", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert f"/after-sales/{case.id}" in html and f"/after-sales/{other.id}\"" not in html
    assert f'href="/orders/{order.order_no}"' in html  # order numbers link to the order
    assert "找到 1 个售后单" in html
    full = client.get("/after-sales?q=%E6%9D%8E").get_data(as_text=True)  # 李, without JavaScript
    assert "<html" in full and 'value="李"' in full and f"/after-sales/{case.id}" in full
    everything = client.get("/after-sales", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert f'href="/orders/{world.order_a.order_no}"' in everything and "搜索：" not in everything


def test_payout_records_are_searched_by_the_buyers_phone_tail_and_name(client, world, login_as, make, clock):
    from webapp.services import payouts as svc

    login_as(world.main_a)
    order = make.order(world.shop_a, world.buyer_x, order_no="6926000000000000903", buyer_name="赵六",
                       buyer_phone="13600005566")
    paid = svc.create_payout(make.db.session, world.main_a,
                             svc.PayoutIntent(order.order_no, 300, "shipping_fee", "", "records-search"), clock.now()).payout
    html = client.get("/payouts?q=5566", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert f"#payout-{paid.id}" in html and f"#payout-{world.payout_a.id}" not in html
    assert "买家手机尾号 5566" in html
    assert f"#payout-{paid.id}" in client.get("/payouts?q=%E8%B5%B5", headers={"HX-Request": "true"}).get_data(as_text=True)
    old_link = client.get(f"/payouts?order={order.order_no}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert f"#payout-{paid.id}" in old_link and f"#payout-{world.payout_a.id}" not in old_link
    csv = client.get("/payouts/export.csv?q=5566").get_data(as_text=True)
    assert order.order_no in csv and world.order_a.order_no not in csv
