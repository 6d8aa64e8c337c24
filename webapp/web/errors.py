"""One error handler for "not found": every services.errors.NotFound (an order, case, payout,
message or account that does not exist for this actor, another shop's included, R18) answers
the app's 404 page. Views do not catch these.

The application factory calls `register(app)`; until it does, the core blueprint registers it
when it is registered (webapp/web/core/__init__.py). Registering twice is harmless."""
from __future__ import annotations

from flask import Flask, current_app
from werkzeug.exceptions import NotFound as HTTPNotFound

from ..services.errors import NotFound


def not_found(_exc: NotFound):
    """The same page and status as abort(404): the app's own 404 handler renders it."""
    return current_app.handle_http_exception(HTTPNotFound())


def register(app: Flask) -> None:
    app.register_error_handler(NotFound, not_found)
