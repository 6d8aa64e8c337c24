"""Demo data: 2 shops (one certified), a main and 2 staff accounts each, 4 buyers, 300 orders
over the last 20 days, some after-sales cases. Deterministic and idempotent: running it again
adds nothing."""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from ..db import AnySession, write_transaction
from ..domain.refund_rules import CaseReason
from ..domain.states import CASE_TRANSITIONS, CaseKind, CaseStatus, OrderStatus, check_transition
from ..models import AfterSalesCase, Buyer, MerchantAccount, Order, Shop
from .passwords import hash_password

DEMO_PASSWORD = "afterdesk-demo"

SHOPS = [
    # name, certified, setup complete, login prefix
    ("星河数码旗舰店", True, True, "xinghe"),
    ("晨光家居小铺", False, False, "chenguang"),
]
STAFF = [("main", "店主"), ("staff", "客服小李"), ("staff", "客服小王")]
BUYERS = [("buyer1", "张三"), ("buyer2", "李四"), ("buyer3", "王五"), ("buyer4", "赵六")]
CATALOG = [
    ("数据线 Type-C 1米", 990), ("手机壳 透明防摔", 1990), ("无线鼠标", 5990), ("机械键盘 87键", 29900),
    ("蓝牙耳机 降噪版", 49900), ("纯棉四件套 1.8米", 39900), ("北欧台灯", 12900), ("保温杯 500ml", 8900),
    ("空气炸锅 5L", 39900), ("扫地机器人", 129900), ("平板电脑 10英寸", 199900), ("笔记本支架", 6900),
    ("显示器 27英寸 4K", 299900), ("收纳箱 三件套", 4990), ("香薰蜡烛", 3900),
]
CASE_REASONS = [CaseReason.DAMAGED, CaseReason.MISSING_ITEMS, CaseReason.WRONG_SIZE, CaseReason.NO_REASON_7_DAYS,
                CaseReason.QUALITY, CaseReason.SHIPPING_DISPUTE]
ORDER_COUNT = 300


@dataclass
class SeedReport:
    created: dict[str, int]
    logins: list[tuple[str, str, str]]  # (who, login, password)


def seed_demo(session: AnySession, now: datetime) -> SeedReport:
    rng = random.Random(20261123)
    created = {"shops": 0, "accounts": 0, "buyers": 0, "orders": 0, "cases": 0}
    logins: list[tuple[str, str, str]] = []
    password_hash: str | None = None

    def pw() -> str:
        nonlocal password_hash
        if password_hash is None:
            password_hash = hash_password(DEMO_PASSWORD)
        return password_hash

    shops: list[Shop] = []
    for name, certified, setup, prefix in SHOPS:
        shop = session.scalar(select(Shop).where(Shop.name == name))
        if shop is None:
            shop = Shop(name=name, certified=certified, setup_complete=setup, created_at=now - timedelta(days=90),
                        # R20: the certified demo shop asks approval for sub-account payouts from ¥200.
                        payout_approval_fen=20_000 if certified else None)
            session.add(shop)
            session.flush()
            created["shops"] += 1
        shops.append(shop)
        for i, (role, display) in enumerate(STAFF):
            login = f"{prefix}-{'main' if role == 'main' else f'staff{i}'}"
            if session.scalar(select(MerchantAccount).where(MerchantAccount.login == login)) is None:
                session.add(MerchantAccount(
                    shop_id=shop.id, login=login, display_name=display, password_hash=pw(), role=role,
                    created_at=now - timedelta(days=90),
                ))
                created["accounts"] += 1
            logins.append((f"{name} · {display}", login, DEMO_PASSWORD))

    buyers: list[Buyer] = []
    for login, display in BUYERS:
        buyer = session.scalar(select(Buyer).where(Buyer.login == login))
        if buyer is None:
            buyer = Buyer(login=login, display_name=display, password_hash=pw(), created_at=now - timedelta(days=60))
            session.add(buyer)
            session.flush()
            created["buyers"] += 1
        buyers.append(buyer)
        logins.append((f"买家 {display}", login, DEMO_PASSWORD))

    # Each buyer's phone, as the orders carry it (merchants find orders by its last digits).
    phones = {b.id: f"1{rng.choice('3589')}{rng.randint(10**8, 10**9 - 1)}" for b in buyers}
    existing = set(session.scalars(select(Order.order_no).where(Order.order_no.startswith("6926"))))
    new_orders: list[Order] = []
    for i in range(ORDER_COUNT):
        shop = shops[0] if rng.random() < 0.6 else shops[1]
        buyer = rng.choice(buyers)
        item, price = rng.choice(CATALOG)
        qty = 1 if rng.random() < 0.8 else rng.randint(2, 3)
        if price * qty > 299_900:  # amounts stay between ¥9.90 and ¥2,999
            qty = 1
        age = timedelta(seconds=rng.randint(60, 20 * 24 * 3600))
        order_no = f"6926{i:04d}{rng.randint(10**10, 10**11 - 1)}"
        status = _status_for(age, rng)
        if order_no in existing:
            continue
        new_orders.append(Order(
            order_no=order_no, shop_id=shop.id, buyer_id=buyer.id, buyer_name=buyer.display_name,
            buyer_phone=phones[buyer.id], item_summary=item, quantity=qty,
            paid_fen=price * qty, paid_at=now - age, status=status,
        ))
    session.add_all(new_orders)
    session.flush()
    created["orders"] = len(new_orders)

    # Cases are created awaiting the merchant; the ones the seed wants decided are decided below
    # through the refund service, so a refunded one has its amount, its ledger movement and its
    # order's refunded total (R24): never 已退款 without money having moved.
    to_decide: list[tuple[AfterSalesCase, str]] = []
    if created["orders"] and not session.scalar(select(func.count()).select_from(AfterSalesCase)):
        for order in rng.sample(new_orders, 24):
            kind = rng.choice(list(CaseKind))
            status = rng.choice([CaseStatus.AWAITING_MERCHANT] * 3 + [CaseStatus.REFUNDED, CaseStatus.REJECTED, CaseStatus.CLOSED])
            case = AfterSalesCase(
                shop_id=order.shop_id, order_id=order.id, buyer_id=order.buyer_id, kind=kind,
                requested_fen=min(order.paid_fen, rng.choice([500, 1000, 2000, order.paid_fen])),
                reason=rng.choice(CASE_REASONS), status=CaseStatus.AWAITING_MERCHANT,
                created_at=min(order.paid_at + timedelta(hours=rng.randint(2, 72)), now),
            )
            session.add(case)
            if status != CaseStatus.AWAITING_MERCHANT:
                to_decide.append((case, status))
            created["cases"] += 1
    session.commit()

    # Funds and staff quotas, once: shop A ¥50,000 and quotas for its first staff member.
    from ..models import FundsAccount, PayoutQuota
    from ..models.funds import Memo
    from . import ledger

    for shop, amount in zip(shops, (5_000_000, 500_000), strict=True):
        if session.get(FundsAccount, shop.id) is None:
            ledger.topup(session, shop.id, amount, now, memo=Memo.TOPUP_DEMO)
            created["topups"] = created.get("topups", 0) + 1
    for shop in shops:
        staff = session.scalars(select(MerchantAccount).where(
            MerchantAccount.shop_id == shop.id, MerchantAccount.role == "staff").order_by(MerchantAccount.id)).all()
        # staff1: payouts ¥200 each / ¥1,000 a day, refunds ¥100 / ¥500 (R7, R22); staff2: no payouts, approves (R20).
        for account, (enabled, per, daily, refunds) in zip(staff, ((True, 20_000, 100_000, (10_000, 50_000)),
                                                                     (False, None, None, None)), strict=False):  # the first two sub-accounts
            if session.get(PayoutQuota, account.id) is None:
                session.add(PayoutQuota(account_id=account.id, shop_id=shop.id, enabled=enabled,
                                           per_payout_fen=per, daily_fen=daily, updated_at=now,
                                           refund_enabled=refunds is not None, per_refund_fen=(refunds or (None,))[0],
                                           refund_daily_fen=(refunds or (None, None))[1]))
                account.is_approver = not enabled and shop.payout_approval_fen is not None
    session.commit()

    _decide_demo_cases(session, to_decide, now)

    # Fast refund on for the certified shop, with its refund note (once: the note is frozen).
    from ..models import RefundSettings

    main = session.scalar(select(MerchantAccount).where(MerchantAccount.shop_id == shops[0].id,
                                                            MerchantAccount.role == "main"))
    assert main is not None  # every demo shop is seeded with its main account
    if session.get(RefundSettings, shops[0].id) is None:
        from .refunds import confirm_settings

        confirm_settings(session, main, "支付后 7 天内可申请极速退款，无需理由；退款原路返回，一般 1-3 个工作日到账。"
                         "退货退款请保持商品完好、配件齐全。", now)
    return SeedReport(created, logins)


def _decide_demo_cases(session: AnySession, to_decide: list, now: datetime) -> None:
    """Refunds go through the ledger (R24), rejections carry the reason the buyer sees."""
    from . import refunds

    mains: dict[int, MerchantAccount] = {}
    for case, status in to_decide:
        main = mains.get(case.shop_id) or session.scalar(select(MerchantAccount).where(
            MerchantAccount.shop_id == case.shop_id, MerchantAccount.role == "main"))
        assert main is not None  # every demo shop is seeded with its main account
        mains[case.shop_id] = main
        decided_at = max(case.created_at, now - timedelta(minutes=5))
        if status == CaseStatus.REFUNDED:
            try:
                refunds.approve(session, main, case.id, decided_at)
            except refunds.ApplicationRefused:  # nothing left to refund: it stays with the merchant
                pass
        elif status == CaseStatus.REJECTED:
            refunds.reject(session, main, case.id, "商品已使用，不符合退款条件", decided_at)
        else:
            with write_transaction(session):
                row = session.get(AfterSalesCase, case.id, populate_existing=True)
                assert row is not None  # the case was seeded above
                check_transition(CASE_TRANSITIONS, CaseStatus(row.status), CaseStatus.CLOSED)
                row.status, row.decided_at = CaseStatus.CLOSED, decided_at  # withdrawn by the buyer: no money


def _status_for(age: timedelta, rng: random.Random) -> str:
    if rng.random() < 0.03:
        return OrderStatus.CLOSED
    days = age.total_seconds() / 86400
    if days < 1.5:
        return OrderStatus.PAID
    if days < 4:
        return OrderStatus.SHIPPED
    if days < 8:
        return OrderStatus.DELIVERED
    return OrderStatus.COMPLETED
