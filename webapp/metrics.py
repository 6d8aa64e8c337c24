"""Prometheus metrics of this process (`/metrics`, `flask worker --metrics-port N`).

One registry per process, not prometheus_client's global one, so tests that create many apps
register nothing twice. The worker records every channel call with `channel_call(op)`; the
payout gauges are read from the database at scrape time, through the current app (or, for the
worker's own metrics port, the app it serves).
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Iterator

from flask import Flask, current_app, has_app_context
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

REGISTRY = CollectorRegistry(auto_describe=True)

CHANNEL_CALL_SECONDS = Histogram(
    "afterdesk_channel_call_seconds", "Duration of calls to the payment channel.", ["op"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30), registry=REGISTRY,
)
CHANNEL_CALL_ERRORS = Counter(
    "afterdesk_channel_call_errors_total", "Failed calls to the payment channel, by exception class.",
    ["op", "kind"], registry=REGISTRY,
)


@contextmanager
def channel_call(op: str) -> Iterator[None]:
    """Time the block as one channel call `op`; count an exception by its class, then re-raise."""
    start = time.perf_counter()
    try:
        yield
    except Exception as exc:
        CHANNEL_CALL_ERRORS.labels(op=op, kind=type(exc).__name__).inc()
        raise
    finally:
        CHANNEL_CALL_SECONDS.labels(op=op).observe(time.perf_counter() - start)


class PayoutGauges:
    """Payouts by status, in doubt, oldest unsettled age: computed from the database per scrape."""

    app: Flask | None = None  # used when there is no app context (the worker's metrics thread)

    def describe(self):
        return []  # computed at scrape time only; nothing to check at registration

    def collect(self):
        if has_app_context():
            yield from self._families(current_app)
        elif self.app is not None:
            with self.app.app_context():
                yield from self._families(self.app)

    def _families(self, app: Flask):
        from . import clock
        from .extensions import db
        from .services.ops import payout_gauges

        g = payout_gauges(db.session, clock.now())
        by_status = GaugeMetricFamily("afterdesk_payouts", "Payouts by status.", labels=["status"])
        for status, count in sorted(g.by_status.items()):
            by_status.add_metric([status], count)
        yield by_status
        yield GaugeMetricFamily("afterdesk_payouts_in_doubt",
                                "Unsettled payouts that may have reached the channel without an answer.",
                                value=g.in_doubt)
        yield GaugeMetricFamily("afterdesk_oldest_pending_payout_age_seconds",
                                "Age of the oldest payout not yet final (pending or processing); 0 if none.",
                                value=g.oldest_pending_age_s)


PAYOUT_GAUGES = PayoutGauges()
REGISTRY.register(PAYOUT_GAUGES)


def render() -> tuple[bytes, str]:
    """The exposition text and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def serve(app: Flask, port: int):
    """Serve this process's metrics on 127.0.0.1:port (a worker process has no web server)."""
    from prometheus_client import start_http_server

    PAYOUT_GAUGES.app = app
    return start_http_server(port, addr="127.0.0.1", registry=REGISTRY)
