"""Statements per request, captured in-process (Flask test client, the bench database, a SQLAlchemy
statement hook), and the payout confirm's SQL written as a pgbench script.

Run by bench/run.py as a subprocess inside the app directory (so it imports that tree's webapp):
    python bench/capture.py OUT_JSON PGBENCH_SQL PGB_BASE_ID PGB_K0 BUYERS
with DATABASE_URL pointing at a built bench database. Prints nothing; writes OUT_JSON:
{request name: {"statements": n, "transactions": n, "status": code, "sql": [first statements]}}.
"""
from __future__ import annotations

import json
import os
import re
import sys
import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import event

sys.path.insert(0, os.getcwd())

from webapp import create_app  # noqa: E402
from webapp.extensions import db  # noqa: E402

HOT_LOGIN = "bench-hot-01"
PASSWORD = "bench-password"


class Recorder:
    def __init__(self) -> None:
        self.on = False
        self.events: list[tuple] = []  # ("sql", statement, params) | ("begin",) | ("commit",) | ("rollback",)

    def attach(self, engine) -> None:
        @event.listens_for(engine, "before_cursor_execute")
        def _sql(conn, cursor, statement, parameters, context, executemany):
            if self.on:
                self.events.append(("sql", statement, parameters))

        for name in ("begin", "commit", "rollback"):
            event.listen(engine, name, self._marker(name))

    def _marker(self, name):
        def _on(conn):
            if self.on:
                self.events.append((name,))
        return _on

    def record(self, fn):
        self.events = []
        self.on = True
        try:
            result = fn()
        finally:
            self.on = False
        return result, list(self.events)


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "no csrf token on the page"
    return m.group(1)


def _literal(value) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, Decimal)):
        return str(value)
    if isinstance(value, datetime):
        return "'" + value.isoformat(sep=" ") + "'"
    if isinstance(value, date):
        return "'" + value.isoformat() + "'"
    if isinstance(value, (dict, list)):
        value = json.dumps(value, ensure_ascii=False)
    return "'" + str(value).replace("'", "''") + "'"


def _render(statement: str, params, swaps: dict) -> str:
    """The statement with its parameters as literals; values in `swaps` become pgbench variables."""
    def value(v):
        key = (type(v).__name__, v) if isinstance(v, (int, str)) and not isinstance(v, bool) else None
        return swaps[key] if key in swaps else _literal(v)

    if isinstance(params, dict):
        return re.sub(r"%\((\w+)\)s", lambda m: value(params[m.group(1)]), statement).replace("%%", "%")
    if isinstance(params, (list, tuple)) and params:
        parts = statement.split("%s")
        out = parts[0]
        for v, rest in zip(params, parts[1:], strict=True):
            out += value(v) + rest
        return out.replace("%%", "%")
    return statement.replace("%%", "%")


def summary(events: list[tuple], status: int) -> dict:
    sql = [e[1] for e in events if e[0] == "sql"]
    return {"statements": len(sql), "transactions": sum(1 for e in events if e[0] == "commit"),
            "rollbacks": sum(1 for e in events if e[0] == "rollback"), "status": status,
            "sql": [" ".join(s.split())[:240] for s in sql]}


def main() -> None:
    out_json, pgbench_sql, pgb_base_id, pgb_k0, buyers = sys.argv[1:6]
    pgb_base_id, pgb_k0, buyers = int(pgb_base_id), int(pgb_k0), int(buyers)
    app = create_app()
    rec = Recorder()
    with app.app_context():
        rec.attach(db.engine)
        from sqlalchemy import text

        head = db.session.execute(text(
            "SELECT p.id FROM payout p WHERE p.shop_id = 1 AND p.status = 'pending' ORDER BY p.id DESC LIMIT 1")).scalar()
        day = db.session.execute(text(
            "SELECT shop_day FROM payout WHERE shop_id = 1 AND status = 'succeeded' ORDER BY id DESC LIMIT 1")).scalar()
        search_no = db.session.execute(text(
            "SELECT order_no FROM orders WHERE shop_id = 1 AND id < 1000000 ORDER BY id DESC LIMIT 1")).scalar()
        db.session.remove()
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    r = client.post("/login", data={"login": HOT_LOGIN, "password": PASSWORD, "csrf_token": _csrf(page), "next": ""})
    assert r.status_code == 303, f"sign-in failed: {r.status_code}"
    csrf = _csrf(client.get("/orders").get_data(as_text=True))
    htmx = {"HX-Request": "true"}
    results: dict[str, dict] = {}

    def get(name, path, headers=None):
        def fetch():
            resp = client.get(path, headers=headers or {})
            return resp, resp.get_data()  # a streamed body runs its queries while it is read
        (resp, body), events = rec.record(fetch)
        results[name] = summary(events, resp.status_code)
        return resp, body

    # The pgbench order block: contiguous ids, so the script can name order k by arithmetic.
    order_no = f"69001{10**13 + pgb_k0:014d}"
    key = uuid.uuid4().hex
    form = {"csrf_token": csrf, "mode": "page", "amount": "1.00", "reason": "shipping_fee", "note": "",
            "request_key": key}
    resp, events = rec.record(lambda: client.post(f"/orders/{order_no}/payouts", data=form, headers=htmx))
    assert resp.status_code == 200 and b'class="result"' in resp.get_data(), f"confirm refused: {resp.status_code}"
    results["confirm POST"] = summary(events, resp.status_code)
    with app.app_context():
        payout_id, buyer_id = db.session.execute(text(
            "SELECT id, buyer_id FROM payout WHERE request_key = :k"), {"k": key}).one()
        db.session.remove()
    order_id = pgb_base_id + pgb_k0 - 1
    swaps = {("str", order_no): "CAST(:ono AS VARCHAR)", ("int", order_id): ":o_id", ("int", buyer_id): ":o_buyer_id",
             ("str", key): "CAST(:rk AS VARCHAR)"}
    lines = [
        "-- The SQL of one payout confirm POST (htmx, page mode) as the app ran it, captured by bench/capture.py.",
        "-- Order k of the pgbench block; a fresh request key per transaction; payout id from RETURNING.",
        "\\set k random(1, :pool)",
        "\\set ono 6900110000000000000 + :k",
        f"\\set o_id {pgb_base_id - 1} + :k",
        "\\set o_buyer_id 40001 + :k % 1000",
        "\\set rk random(1000000000000, 9000000000000000000)",
    ]
    assert buyer_id == 40001 + pgb_k0 % 1000, "pgbench block buyers: 40001 + k % 1000"
    for e in events:
        if e[0] == "begin":
            lines.append("BEGIN;")
        elif e[0] in ("commit", "rollback"):
            lines.append(e[0].upper() + ";")
        else:
            sql = _render(e[1], e[2], swaps)
            sql = re.sub(r"\b" + str(payout_id) + r"\b", ":p_id", sql) if "INSERT INTO payout " not in sql else sql
            sql = " ".join(sql.split())
            if sql.startswith("INSERT INTO payout ") and "RETURNING" in sql:
                lines.append(sql + " \\gset p_")
            else:
                lines.append(sql + ";")
    with open(pgbench_sql, "w") as fh:
        fh.write("\n".join(lines) + "\n")

    get("bell GET (htmx)", "/messages/bell", htmx)
    get("status poll GET (htmx)", f"/payouts/{head}/status", htmx)
    get("order search GET (htmx, full number)", f"/orders?q={search_no}", htmx)
    get("records page GET", "/payouts")
    _, body = get(f"CSV export GET (one day, {day})", f"/payouts/export.csv?from={day}&to={day}")
    results[f"CSV export GET (one day, {day})"]["rows"] = body.count(b"\n") - 1
    with open(out_json, "w") as fh:
        json.dump(results, fh, ensure_ascii=False, indent=1)


if __name__ == "__main__":
    main()
