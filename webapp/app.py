"""The application factory, create_app(), and what it wires: extensions, blueprints, CLI,
session timeouts, security headers, template globals and error pages.

It lives here, not in webapp/__init__.py, so that the package init stays light and
`webapp.domain` (and `webapp.channel.protocol`) import with the standard library alone;
`from webapp import create_app` still works through the package's lazy __getattr__."""
from __future__ import annotations

import functools
import os

import click
from flask import Flask, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import get_locale
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import InterfaceError, OperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from . import clock as clock_mod
from .config import ROOT, Config
from .db import configure_engine
from .extensions import babel, compress, csrf, db, htmx, limiter, login_manager, migrate
from .services.sessions import StoreUnavailable


def create_app(config: object | None = None, clock=None, channel=None) -> Flask:
    # "webapp", not __name__ ("webapp.app"): the app name, logger, root and instance paths stay the package's.
    app = Flask("webapp", template_folder="../templates", static_folder="../static", instance_relative_config=False)
    app.config.from_object(config or Config())
    hops = int(app.config.get("TRUSTED_PROXIES") or 0)
    if hops > 0:  # behind that many proxies: the client address, scheme and host are the forwarded ones
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    app.extensions["afterdesk.clock"] = clock or clock_mod.SystemClock()

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    csrf.init_app(app)
    htmx.init_app(app)
    compress.init_app(app)
    limiter.init_app(app)
    babel.init_app(app, locale_selector=_select_locale, timezone_selector=lambda: "Asia/Shanghai")
    _init_login(app)
    from . import sessions as server_sessions

    server_sessions.install(app)  # R27: signed-in sessions live on the server; the cookie holds their id

    with app.app_context():
        configure_engine(db.engine)

    from .config import check_channel_timing

    check_channel_timing(app.config)
    app.extensions["afterdesk.channel"] = channel or _channel_from_config(app)

    from . import models  # noqa: F401  (register the tables)
    from .web.params import IdConverter, page_args

    app.url_map.converters["id"] = IdConverter
    app.jinja_env.globals["page_args"] = page_args
    from .web import account, auth, buyer, channel_notify, core, inbox, merchant, payouts, settings, staff, step_up
    from .web import workday
    from .web import two_factor

    for bp in (core.bp, auth.bp, merchant.bp, buyer.bp, payouts.bp, inbox.bp, inbox.buyer_bp, staff.bp, settings.bp,
               channel_notify.bp, account.bp, step_up.bp, two_factor.bp, workday.bp):
        app.register_blueprint(bp)

    from .web.access import guard
    from .web.two_factor.routes import gate as two_factor_gate

    app.before_request(_session_timeouts)
    app.before_request(guard)
    app.before_request(two_factor_gate)  # a sub-account that must set up two-factor reaches only that page
    app.after_request(_security_headers)
    _init_errors(app)
    from .web import errors, input_guard, static_files, templating

    errors.register(app)  # every services NotFound -> the 404 page
    templating.register(app)  # filters, labels, badges, enums and limits the templates use
    static_files.register(app)  # fingerprinted static URLs, cached for a year
    input_guard.register(app)  # runs first of all: NUL, control characters, bad encoding, absurd lengths -> 400

    from .cli import register_cli

    register_cli(app)
    if app.config["WORKER_MODE"] == "thread" and serving():
        from . import worker

        worker.start_thread(app)
    return app


def serving(ctx: click.Context | None = None) -> bool:
    """Is this app created to serve requests? Yes when imported by a WSGI server (no click
    command is running) or by `flask run` (in its serving process, not the reloader's watcher);
    no for every other CLI command (`flask db upgrade`, `flask shell`, `flask worker`...)."""
    ctx = ctx if ctx is not None else click.get_current_context(silent=True)
    if ctx is None:
        return True
    if ctx.command.name != "run":
        return False
    reload = ctx.params.get("reload")
    if reload is None:
        from flask.helpers import get_debug_flag

        reload = get_debug_flag()
    return not reload or os.environ.get("WERKZEUG_RUN_MAIN") == "true"


def _channel_from_config(app: Flask):
    """The HTTP channel when CHANNEL_URL is set, else the embedded simulated one."""
    if app.config["CHANNEL_URL"]:
        from .channel import http

        return http.from_config(app)
    from .channel import simulated

    return simulated.from_config(app)


def _select_locale():
    """The browser's language cookie (set by the switch in the top bar), else the default; a parsed
    babel Locale (parsing one per request costs more than the rest of a small htmx fragment)."""
    from flask import current_app, has_request_context

    lang = request.cookies.get(current_app.config["LANGUAGE_COOKIE_NAME"]) if has_request_context() else None
    if not (isinstance(lang, str) and lang in current_app.config["LANGUAGES"]):
        lang = current_app.config["BABEL_DEFAULT_LOCALE"]
    return _parsed_locale(lang)


@functools.cache
def _parsed_locale(code: str):
    from babel import Locale

    return Locale.parse(code)


def _init_login(app: Flask) -> None:
    from .services.auth import load_principal
    from .web.access import login_endpoint_for

    login_manager.init_app(app)
    login_manager.session_protection = "basic"

    @login_manager.user_loader
    def _load_user(user_id: str):
        # With the database session store the account was read with the session (one statement):
        # `session.get` finds it in the identity map.
        account = load_principal(db.session, user_id)
        if account is None:  # gone, disabled, or its password was reset: this session ends (R27)
            session.clear()
        return account

    @login_manager.unauthorized_handler
    def _unauthorized():  # pragma: no cover - the guard redirects before this is reached
        return redirect(url_for(login_endpoint_for("")))


def _session_timeouts():
    """Idle timeout 30 min, absolute 12 h (ASVS 3.3), kept by the session store: a session past
    either is refused and deleted when it is presented (webapp/sessions.py), and here the person
    is asked to sign in again. Otherwise activity moves the session's last-seen time, at most once
    per SESSION_SEEN_RESOLUTION (only then is the store written); background polls never do."""
    if request.endpoint == "static":
        return None
    from flask import current_app

    from .sessions import this_session
    from .web.access import is_background

    current = this_session()
    if current.expired:
        flash(_("Your session has expired. Please sign in again."), "info")
        return None
    if current.record is not None and not is_background(request.endpoint):
        current.touch(clock_mod.now(), current_app.config["SESSION_SEEN_RESOLUTION"])
    return None


# Browser features no page of ours uses, refused for them and anything they frame (ASVS 14.4).
PERMISSIONS_POLICY = ", ".join(f"{feature}=()" for feature in (
    "accelerometer", "autoplay", "camera", "display-capture", "encrypted-media", "fullscreen", "geolocation",
    "gyroscope", "hid", "magnetometer", "microphone", "midi", "payment", "publickey-credentials-get",
    "screen-wake-lock", "serial", "sync-xhr", "usb", "xr-spatial-tracking"))


def _security_headers(response):
    from flask import current_app

    cfg = current_app.config
    frame_ancestors = g.get("frame_ancestors", "'none'")
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors {frame_ancestors}",
    )
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
    response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    # Our responses are for our pages only; a page another origin may frame (EMBED_FRAME_ANCESTORS,
    # the chat panel) says it may be loaded there too (CORP stops framing only under the framer's COEP).
    response.headers.setdefault("Cross-Origin-Resource-Policy",
                                "same-origin" if frame_ancestors in ("'none'", "'self'") else "cross-origin")
    if frame_ancestors == "'none'":
        response.headers.setdefault("X-Frame-Options", "DENY")
    if cfg.get("PRODUCTION"):
        response.headers.setdefault("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
    if request.endpoint != "static":
        response.headers.setdefault("Cache-Control", "no-store")
        response.vary.add("HX-Request")
    return response


def _init_errors(app: Flask) -> None:
    def page(status: int, title: str, message: str):
        return render_template("errors.html", status=status, title=title, message=message), status

    @app.errorhandler(403)
    def _403(_e):
        return page(403, _("Not allowed"), _("Your account cannot open this page."))

    @app.errorhandler(404)
    def _404(_e):
        return page(404, _("Not found"), _("This page does not exist, or it is not yours to see."))

    @app.errorhandler(405)
    def _405(_e):
        return page(405, _("Not allowed"), _("This action is not available here."))

    @app.errorhandler(400)
    def _400(_e):
        return page(400, _("Bad request"), _("The request could not be understood. Go back, reload the page and try again."))

    @app.errorhandler(413)
    def _413(_e):
        return page(413, _("Too much to send"), _("What was sent is far too large. Shorten what you typed and try again."))

    @app.errorhandler(422)
    def _422(_e):
        return page(422, _("Not accepted"), _("Some of what was sent cannot be accepted. Go back, check what you typed and try again."))

    @app.errorhandler(CSRFError)
    def _csrf(_e):
        return page(400, _("Form expired"), _("The form was open too long or came from elsewhere. Go back, reload the page and try again."))

    @app.errorhandler(429)
    def _429(e):
        if request.endpoint in ("auth.merchant_login", "auth.buyer_login", "auth.two_factor"):
            from .web.auth.routes import throttled_page

            return throttled_page(e)  # the sign-in form again, with how long to wait
        return page(429, _("Too many requests"), _("Slow down and try again in a few minutes."))

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    @app.errorhandler(PoolTimeoutError)
    @app.errorhandler(StoreUnavailable)
    @app.errorhandler(RedisConnectionError)  # Redis (sign-in throttling, sessions) down: the same 503
    @app.errorhandler(RedisTimeoutError)
    def _database_down(e):
        return _unavailable(e)

    @app.errorhandler(500)
    def _500(e):
        if database_unavailable(getattr(e, "original_exception", None)):  # e.g. raised by an error page
            return _unavailable(e.original_exception)
        db.session.rollback()  # the page below reads the database; a failed transaction must not stop it
        return page(500, _("Something went wrong"), _("Nothing was changed. Try again; if it keeps happening, tell support."))


RETRY_AFTER_SECONDS = 5


def database_unavailable(exc: BaseException | None) -> bool:
    """A lost, refused or exhausted database connection (not a bug in a query)."""
    return isinstance(exc, (OperationalError, InterfaceError, PoolTimeoutError, StoreUnavailable, RedisConnectionError,
                            RedisTimeoutError)) or bool(
        getattr(exc, "connection_invalidated", False))


def _unavailable(exc: BaseException):
    """503 in the user's language, rendered without the database: a standalone template, the
    locale from the session, no context processors (Flask-Login's would load the user)."""
    from flask import current_app
    from markupsafe import Markup

    from .web.htmx import is_htmx

    current_app.logger.warning("database unavailable: %s", (str(exc).strip().splitlines() or [type(exc).__name__])[0])
    for end in (db.session.rollback, db.session.remove):
        try:
            end()
        except Exception:  # noqa: BLE001 - the connection is gone; the pool replaces it later
            pass
    if is_htmx():
        body = Markup('<p class="error" role="alert">%s</p>') % _("Temporarily unavailable. Nothing was changed; try again shortly.")
    else:
        locale = get_locale()
        body = current_app.jinja_env.get_template("errors_unavailable.html").render(
            current_locale="zh_CN" if locale and locale.language == "zh" else "en",
            retry_url=request.full_path.rstrip("?") if request.method == "GET" else url_for("core.index"),
        )
    return body, 503, {"Retry-After": str(RETRY_AFTER_SECONDS)}
