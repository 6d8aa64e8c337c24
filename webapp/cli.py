"""Flask CLI: `flask seed-demo`, and more as the app grows."""
from __future__ import annotations

import click
from flask import Flask

from . import clock


def register_cli(app: Flask) -> None:
    @app.cli.command("seed-demo")
    def seed_demo_command():
        """Create the demo shops, accounts, buyers, orders and cases (idempotent)."""
        from .services.demo import seed_demo

        report = seed_demo(clock.now())
        added = ", ".join(f"{k}: {v}" for k, v in report.created.items())
        click.echo(f"Demo data ready (added {added}).")
        click.echo("Sign in with (merchant: /login, buyer: /buyer/login):")
        for who, login, password in report.logins:
            click.echo(f"  {who:<24} {login:<20} {password}")
