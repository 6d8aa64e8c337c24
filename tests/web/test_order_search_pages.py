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


def test_nothing_found_says_neither_start_nor_end_in_chinese_and_english(client, world, login_as):
    login_as(world.staff_a)
    assert "没有以 4242 开头或结尾的订单号。" in results(client, "q=4242")
    to_english(client)
    assert "No order number starts or ends with 4242." in results(client, "q=4242")


def test_more_than_a_page_asks_for_more_digits_in_chinese_and_english(client, world, login_as, make, app):
    app.config["ORDERS_PAGE_SIZE"] = 2
    for i in range(3):
        make.order(world.shop_a, world.buyer_x, order_no=f"69260000000000{i}7070")
    login_as(world.staff_a)
    html = results(client, "q=7070")
    assert html.count('href="/orders/6926') == 2
    assert "以 7070 开头或结尾的订单超过 2 个，请多输入几位数字以找到您要的订单。" in html
    assert "cursor=" not in html  # a search is one page: narrowing it down is the way on
    to_english(client)
    html = results(client, "q=7070")
    assert "More than 2 orders start or end with 7070. Type more digits to find yours." in html
    html = results(client, "q=17070")  # a single match: no notice
    assert html.count('href="/orders/6926') == 1 and "More than" not in html
