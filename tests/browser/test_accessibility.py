"""WCAG 2.2 AA in Chromium (issue 13 point 6): axe-core (vendored from npm, tests/browser/vendor)
finds no serious or critical violation on the pages of each role, in Chinese at 1280, 390 and
320 px and in English at 1280 px; and no page scrolls sideways at 390 or 320 px (reflow, 1.4.10).

The pages are those a signed-in person reaches from the top bar and the lists, over a shop with
something in every state (payouts pending, paid, failed and awaiting approval, cases awaiting
review and decided, in-site messages). The htmx steps inside pages (the payout flow's steps) are
not scanned here yet."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.test_foundation_flows import sign_in

AXE = (Path(__file__).parent / "vendor" / "axe-4.14.1.min.js").read_text(encoding="utf-8")
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
WIDTHS = [(1280, "zh"), (390, "zh"), (320, "zh"), (1280, "en")]


@pytest.fixture(scope="module")
def a11y_world(make_live, live_server):
    from webapp.services import payouts as svc

    m = make_live
    shop = m.shop(name="星河数码旗舰店", payout_approval_fen=20_000)
    main = m.account(shop, role="main", login="a11y-main", display_name="店主")
    staff = m.account(shop, role="staff", login="a11y-staff", display_name="客服小李")
    m.quota(staff, 50_000, 200_000)
    buyer = m.buyer(login="a11y-buyer", display_name="张三")
    m.funds(shop, 1_000_000)
    orders = [m.order(shop, buyer, order_no=f"692611110000000{i:04d}", item_summary=f"蓝牙耳机 #{i}", paid_fen=49_900,
                      buyer_phone=f"1380000{i:04d}") for i in range(6)]
    m.case(orders[0], requested_fen=5_000)
    m.case(orders[1], requested_fen=2_000, status="rejected", reject_reason="商品已签收且完好")
    for i, (actor, fen) in enumerate([(main, 500), (staff, 800), (staff, 30_000)]):  # the last awaits approval
        svc.create_payout(m.db.session, actor, svc.PayoutIntent(orders[2 + i].order_no, fen, "shipping_fee", "运费补偿",
                                                                f"a11y-{i}"), m.now)
    return {"order": orders[2].order_no, "case_order": orders[0].order_no}


def merchant_pages(world) -> list[str]:
    return ["/home", "/orders", f"/orders/{world['order']}", "/orders?q=0001", "/after-sales",
            "/after-sales?status=awaiting_merchant", "/payouts/new", "/payouts", "/payouts/approvals",
            "/funds", "/messages", "/account/sessions"]


MAIN_ONLY = ["/staff", "/activity", "/settings/payouts", "/staff/new"]
BUYER_PAGES = ["/my/orders", "/my/messages"]


def settled(page) -> None:
    """Loaded, and no htmx request in flight (htmx marks the element of each with .htmx-request):
    what a fragment fetched on load is in the page before axe reads it."""
    page.wait_for_load_state("load")
    page.wait_for_function("() => window.htmx !== undefined && !document.querySelector('.htmx-request')")


def scan(page) -> list[str]:
    page.evaluate(AXE)  # through the DevTools protocol: the page's CSP does not apply
    result = page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", TAGS)
    return [f"{v['id']} ({v['impact']}) ×{len(v['nodes'])} at {v['nodes'][0]['target']}: {v['help']}"
            for v in result["violations"] if v["impact"] in ("serious", "critical")]


def visit_all(browser, base: str, login: str, login_path: str, pages: list[str], width: int, lang: str) -> list[str]:
    context = browser.new_context(viewport={"width": width, "height": 900}, locale="zh-CN")
    page = context.new_page()
    problems: list[str] = []
    try:
        sign_in(page, base, login_path, login)
        if lang == "en":  # the language switch's own cookie (web/auth: afterdesk_lang)
            context.add_cookies([{"name": "afterdesk_lang", "value": "en", "url": base}])
        for path in pages:
            response = page.goto(base + path)
            assert response is not None and response.status == 200, (path, response and response.status)
            settled(page)
            assert page.evaluate("document.documentElement.lang").startswith(lang), path
            problems += [f"{width}px {lang} {login} {path}: {p}" for p in scan(page)]
            if width <= 390:
                overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
                if overflow > 0:
                    problems.append(f"{width}px {lang} {login} {path}: scrolls sideways by {overflow} px")
    finally:
        context.close()
    return problems


@pytest.mark.parametrize(("width", "lang"), WIDTHS, ids=[f"{w}-{lang}" for w, lang in WIDTHS])
def test_no_serious_or_critical_violation_on_any_page(browser, live_server, a11y_world, width, lang):
    problems = visit_all(browser, live_server.url, "a11y-main", "/login",
                         merchant_pages(a11y_world) + MAIN_ONLY, width, lang)
    problems += visit_all(browser, live_server.url, "a11y-staff", "/login", merchant_pages(a11y_world), width, lang)
    problems += visit_all(browser, live_server.url, "a11y-buyer", "/buyer/login", BUYER_PAGES, width, lang)
    assert not problems, "\n".join(problems)
