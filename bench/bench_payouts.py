"""Create-payout latency with a small vs a large payout history: the cap checks must not grow
with history (counter rows, not SUM over the shop's payouts). Prints both medians and the ratio."""
from __future__ import annotations

import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support import Factory, create_pg_database, migrate  # noqa: E402
from webapp import create_app  # noqa: E402
from webapp.clock import FixedClock  # noqa: E402
from webapp.config import TestConfig  # noqa: E402
from webapp.extensions import db  # noqa: E402
from webapp.models import Payout  # noqa: E402
from webapp.services import ledger  # noqa: E402
from webapp.services import payouts as svc  # noqa: E402

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)


def bulk_history(shop, buyer, main, n: int, start: datetime) -> None:
    """n old payouts (and their orders) inserted directly: history the checks must not scan."""
    orders = [dict(order_no=f"70{uuid.uuid4().int % 10**17:017d}", shop_id=shop.id, buyer_id=buyer.id,
                   item_summary="history", quantity=1, paid_fen=10_000, paid_at=start - timedelta(days=30),
                   status="completed") for _ in range(n)]
    from webapp.models import Order

    db.session.execute(Order.__table__.insert(), orders)
    ids = db.session.scalars(db.select(Order.id).where(Order.item_summary == "history")).all()
    rows = [dict(shop_id=shop.id, order_id=oid, buyer_id=buyer.id, started_by_id=main.id, amount_fen=100,
                 reason_code="other", note="", request_key=uuid.uuid4().hex, status="succeeded",
                 shop_day=(start - timedelta(days=1 + i % 20)).date(), attempts=1, maybe_at_channel=True,
                 created_at=start - timedelta(days=1 + i % 20), updated_at=start) for i, oid in enumerate(ids)]
    db.session.execute(Payout.__table__.insert(), rows)
    db.session.commit()


def measure(url: str, history: int, samples: int = 200) -> float:
    clock = FixedClock(T0)
    app = create_app(TestConfig(url), clock=clock)
    with app.app_context():
        from tests.support import wipe

        wipe(db)
        make = Factory(db, T0)
        shop = make.shop(daily_payout_cap_fen=10**9)
        main = make.account(shop, role="main")
        buyer = make.buyer()
        ledger.topup(db.session, shop.id, 10**9, T0)
        if history:
            bulk_history(shop, buyer, main, history, T0)
        orders = [make.order(shop, buyer, paid_fen=10_000).order_no for _ in range(samples)]
        times = []
        for no in orders:
            start = time.perf_counter()
            svc.create_payout(db.session, main, svc.PayoutIntent(no, 100, "shipping_fee", "", uuid.uuid4().hex), clock.now())
            times.append(time.perf_counter() - start)
        db.engine.dispose()
    return statistics.median(times)


def main() -> None:
    backend = sys.argv[1] if len(sys.argv) > 1 else "sqlite"
    if backend == "sqlite":
        url = f"sqlite:///{tempfile.mkdtemp()}/bench.db"
        drop = None
    else:
        url, drop = create_pg_database()
    migrate(url)
    try:
        small = measure(url, 100)
        large = measure(url, 20_000)
    finally:
        if drop:
            drop()
    print(f"{backend}: create payout median {small * 1000:.2f} ms with 100 past payouts, "
          f"{large * 1000:.2f} ms with 20,000; ratio {large / small:.2f}")


if __name__ == "__main__":
    main()
