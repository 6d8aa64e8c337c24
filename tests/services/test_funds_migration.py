"""Migration 0014 on the rows already there, on SQLite and PostgreSQL: every ledger row gets the
available balance after it (per shop, in the order the rows were written), the English memos the
older code wrote become codes, any other text stays as it was, and the downgrade gives the texts
back."""
import sqlalchemy as sa

from tests.services.test_migrations import NOW, _insert, connect, downgrade, upgrade

LEGACY = [  # (movement, from, to, amount, memo as older code wrote it) for shop A, in the order written
    ("topup", "outside", "available", 10_000, "demo top-up"),
    ("hold", "available", "held", 700, ""),
    ("release", "held", "available", 700, ""),
    ("hold", "available", "held", 300, ""),
    ("capture", "held", "paid_out", 300, ""),
    ("refund", "available", "refunded", 9_700, ""),
    ("advance", "advance", "refunded", 2_000, "platform advance (平台垫付)"),
    ("topup", "outside", "available", 5_000, "cli topup"),
    ("recover", "available", "advance", 2_000, "arrears recovered"),
    ("topup", "outside", "available", 100, "manual adjustment by ops"),
]
EXPECTED_AFTER = [10_000, 9_300, 10_000, 9_700, 9_700, 0, 0, 5_000, 3_000, 3_100]
EXPECTED_MEMOS = ["topup_demo", "", "", "", "", "", "platform_advance", "topup_cli", "arrears_recovered",
                  "manual adjustment by ops"]


def _seed_at_0013(url) -> dict:
    with connect(url) as conn, conn.begin():
        shops = [_insert(conn, "shop", name=name, certified=True, setup_complete=True, daily_payout_cap_fen=1_500_000,
                         created_at=NOW) for name in ("星河", "晨光")]
        a, b = shops
        _insert(conn, "funds_account", shop_id=a, available_fen=3_100, held_fen=0, paid_out_fen=300,
                topped_up_fen=15_100, refunded_fen=11_700, arrears_fen=0, updated_at=NOW)
        _insert(conn, "funds_account", shop_id=b, available_fen=400, held_fen=0, paid_out_fen=0,
                topped_up_fen=500, refunded_fen=100, arrears_fen=0, updated_at=NOW)
        # Interleaved with shop B's rows (each shop's running balance is its own), and stamped with
        # one instant (the id says which came first).
        for i, (movement, source, target, amount, memo) in enumerate(LEGACY):
            _insert(conn, "ledger_entry", shop_id=a, movement=movement, from_account=source, to_account=target,
                    amount_fen=amount, memo=memo, created_at=NOW)
            if i == 1:
                _insert(conn, "ledger_entry", shop_id=b, movement="topup", from_account="outside",
                        to_account="available", amount_fen=500, memo="cli topup", created_at=NOW)
            if i == 4:
                _insert(conn, "ledger_entry", shop_id=b, movement="refund", from_account="available",
                        to_account="refunded", amount_fen=100, memo="", created_at=NOW)
    return {"a": a, "b": b}


def _ledger(url, shop_id, *columns):
    with connect(url) as conn:
        return [tuple(r) for r in conn.execute(sa.text(
            f"SELECT {', '.join(columns)} FROM ledger_entry WHERE shop_id = :s ORDER BY id"), {"s": shop_id})]


def test_0014_fills_the_running_balance_and_turns_known_memos_into_codes(fresh_url):
    upgrade(fresh_url, "0013_two_factor")
    ids = _seed_at_0013(fresh_url)
    upgrade(fresh_url, "0014_funds_topup")

    assert [r[0] for r in _ledger(fresh_url, ids["a"], "available_after_fen")] == EXPECTED_AFTER
    assert [r[0] for r in _ledger(fresh_url, ids["a"], "memo")] == EXPECTED_MEMOS
    assert _ledger(fresh_url, ids["b"], "available_after_fen", "memo") == [(500, "topup_cli"), (400, "")]
    with connect(fresh_url) as conn:  # the last running balance of each shop is its available balance
        for shop in ids.values():
            last = conn.execute(sa.text("SELECT available_after_fen FROM ledger_entry WHERE shop_id = :s "
                                        "ORDER BY id DESC LIMIT 1"), {"s": shop}).scalar()
            assert last == conn.execute(sa.text("SELECT available_fen FROM funds_account WHERE shop_id = :s"),
                                        {"s": shop}).scalar()
        try:  # from now on every row must say it, and never below zero
            conn.execute(sa.text("INSERT INTO ledger_entry (shop_id, movement, from_account, to_account, amount_fen, "
                                 "memo, available_after_fen, created_at) VALUES (:s, 'topup', 'outside', 'available', "
                                 "1, '', -1, :t)"), {"s": ids["a"], "t": NOW})
            raise AssertionError("a negative running balance was accepted")
        except sa.exc.IntegrityError:
            conn.rollback()

    downgrade(fresh_url, "0013_two_factor")
    memos = [r[0] for r in _ledger(fresh_url, ids["a"], "memo")]
    assert memos == [m for *_, m in LEGACY]
    assert _ledger(fresh_url, ids["b"], "memo") == [("cli topup",), ("",)]
