"""Flask CLI: `flask seed-demo`, and more as the app grows."""
from __future__ import annotations

import click
from flask import Flask

from . import clock


def register_cli(app: Flask) -> None:
    @app.cli.command("seed-demo")
    def seed_demo_command():
        """Create the demo shops, accounts, buyers, orders and cases (idempotent)."""
        from .extensions import db
        from .services.demo import seed_demo

        report = seed_demo(db.session, clock.now())
        added = ", ".join(f"{k}: {v}" for k, v in report.created.items())
        click.echo(f"Demo data ready (added {added}).")
        click.echo("Sign in with (merchant: /login, buyer: /buyer/login):")
        for who, login, password in report.logins:
            click.echo(f"  {who:<24} {login:<20} {password}")

    @app.cli.command("worker")
    @click.option("--once", is_flag=True, help="Run one round and exit.")
    @click.option("--metrics-port", type=int, default=None,
                  help="Serve this process's Prometheus metrics on 127.0.0.1:PORT.")
    def worker_command(once: bool, metrics_port: int | None):
        """Process payouts: claim, submit to the channel, poll, reconcile. Run any number."""
        import signal
        import threading

        from . import metrics, worker

        if metrics_port:
            metrics.serve(app, metrics_port)
            click.echo(f"metrics on http://127.0.0.1:{metrics_port}/metrics")
        if once:
            click.echo(f"touched {worker.run_once(clock.now())} payouts")
            return
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        click.echo("worker running; Ctrl-C to stop")
        worker.run_forever(app, stop)

    funds = click.Group("funds", help="The merchant funds account (货款账户).")
    app.cli.add_command(funds)

    @funds.command("topup")
    @click.argument("shop")
    @click.argument("amount")
    def topup_command(shop: str, amount: str):
        """Top up SHOP (its id or name) by AMOUNT yuan, e.g. `flask funds topup 1 5000`."""
        from sqlalchemy import or_, select

        from .domain.money import MoneyError, format_fen, parse_yuan
        from .extensions import db
        from .models import Shop
        from .models.funds import Memo
        from .services import ledger

        try:
            fen = parse_yuan(amount)
        except MoneyError as exc:
            raise click.BadParameter(exc.message, param_hint="AMOUNT") from None
        cond = Shop.name == shop
        if shop.isdigit():
            cond = or_(cond, Shop.id == int(shop))
        target = db.session.scalar(select(Shop).where(cond))
        if target is None:
            raise click.BadParameter(f"no shop {shop!r}", param_hint="SHOP")
        funds_row = ledger.topup(db.session, target.id, fen, clock.now(), memo=Memo.TOPUP_CLI)
        click.echo(f"{target.name}: topped up {format_fen(fen)}; available {format_fen(funds_row.available_fen)}")
