"""Nasty input never breaks a page (ASVS 5.1): every route of `app.url_map`, each method it allows,
signed in as each role (main, staff, buyer, anonymous), on SQLite and PostgreSQL, gets a table of
nasty strings in its URL parts, query parameters, form fields and headers. No answer may be a 5xx
(readyz's 503 aside: no worker heartbeat here) and no exception may escape (TESTING propagates
them, so a view that raises is caught here, not hidden behind the 500 page).

What is fuzzed, and where the names come from:
  URL parts    every converter of every rule, valid values for the others;
  query        every name the app reads (scanned from webapp/web sources: request.args.get,
               int_arg, date_arg) and every name found in links and GET forms of the pages;
  form fields  every field of every form found on the pages each role sees (inputs, selects,
               textareas, buttons, hx-post elements), plus FORM_FIELDS for forms a state the walk
               does not reach would show; every POST route needs one or the other;
  headers      the htmx headers, Referer, Accept-Language, forwarded headers, conditional
               headers, Authorization, X-CSRFToken; and the cookies (session, language, device).
POSTs carry the session's valid CSRF token, so the fuzzed values reach the view. Values are sent
as raw bytes (lone surrogates, invalid UTF-8 and malformed percent-escapes included), the path as
a WSGI server hands it over. To stay near a minute per database, the whole table goes to each view
once, through one of the roles that reach it (CORE through all of them); a role the access guard
turns away gets a few values (the guard itself copies the address into `next`).

A deliberately broken route proves the walk catches a 500 (`test_the_fuzzer_reports_a_500`).
"""
from __future__ import annotations

import inspect
import json
import re
import time
from collections import defaultdict
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote_to_bytes, urlsplit

import pytest

from tests.support import PASSWORD, both_backends, csrf_from, login

pytestmark = both_backends

ROLES = ("anon", "main", "staff", "buyer")

# The strings an attacker (or a careless paste) sends. Each is tried in every place below.
NASTY: tuple[str, ...] = (
    "\r\n", "/orders\r\nLocation: //evil.example", "\x00", "%00", "x" * 100_000, "9" * 5_000, "a\udfffb",
    "\u202egnp.exe", "\u200b\u2028\ufeff", "\x1b[31m\x01\x7f\x9f", "\t", "' OR '1'='1'; DROP TABLE orders; --",
    '"><script>alert(1)</script>', "{{7*7}}${7*7}", "😀🏳️\u200d🌈", "１２３４５", "١٢٣", "-1", "-0.01", "0", "1e9", "NaN",
    "99999999999999999999999999", "2147483648", "9" * 18, "1.2147483648", "0.001", "1,000.00", "../../etc/passwd",
    "//evil.example/x", "javascript:alert(1)", " ", "",
)
# Tried by every role that reaches a view (the rest of NASTY is shared out among those roles).
CORE = ("/a\r\nSet-Cookie: evil=1", "\x00", "x" * 3_000, "\ud800", "\x01", "' OR 1=1 --", "-1")
# Tried one query parameter at a time (NASTY goes to every parameter at once).
ONE_BY_ONE = ("x" * 2_000, "-1", "99999999999999999999999999", "2147483648", "1.999999999999999999", "１２３", "😀",
              "' OR 1=1 --", "../", " ", "\x01")
# Query strings and bodies as they arrive on the wire: malformed escapes, invalid UTF-8, lone surrogates.
RAW = ("%", "%zz", "%ff%fe", "%ed%a0%80", "%00%0d%0a", "=&=&&")
HEADER_NASTY = ("\x00", "\x01\x7f", "é\xff", "x" * 8_000, "true", "' OR 1=1 --", "bytes=99999999999999999999-")
# What an id in a path (`<id:...>`, ASCII digits only) is tried with: anything else never matches it.
ID_NASTY = ("0", "2147483647", "2147483648", "9" * 10, "9" * 18, "9" * 19, "１２３", "-1", "\x00", "1\r\n",
            "' OR 1=1 --")
FUZZ_HEADERS = ("HX-Request", "HX-Current-URL", "HX-Target", "HX-Trigger", "HX-Trigger-Name", "HX-Boosted",
                "HX-History-Restore-Request", "HX-Prompt", "Referer", "Accept-Language", "User-Agent", "Origin",
                "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Real-IP", "Authorization",
                "If-None-Match", "If-Modified-Since", "Range", "Accept-Encoding", "Accept")

# Forms the walk cannot see in the state it reaches (or fields only a script would add).
FORM_FIELDS = {
    "payouts.create": ("amount", "reason", "note", "request_key", "mode"),
    "payouts.review": ("amount", "reason", "note", "request_key", "mode"),
    "payouts.change": ("amount", "reason", "note", "request_key", "mode"),
    "payouts.check": ("amount", "reason", "note", "request_key", "mode"),
    "payouts.reject": ("note",),
    "payouts.withdraw": (),
    "payouts.approve": (),
    "payouts.continue_": (),
    "merchant.reject": ("reason",),
    "merchant.approve": (),
    "settings.review": ("note",),
    "settings.confirm": ("note", "back"),
    "settings.set_enabled": ("enabled",),
    "settings.payout_controls": ("undo_window_seconds", "payout_approval", "refund_approval"),
    "settings.funds_topup": ("amount", "request_key"),
    "staff.create": ("login", "display_name", "password"),
    "staff.reset_password": ("password",),
    "staff.save_quota": ("enabled", "per_payout", "daily", "refund_enabled", "per_refund", "refund_daily"),
    "staff.set_active": ("active",),
    "staff.set_approver": ("approver",),
    "auth.merchant_login": ("login", "password", "next"),
    "auth.buyer_login": ("login", "password", "next"),
    "auth.set_language": ("lang", "next"),
    "auth.logout": (),
    "inbox.read": ("then",),
    "inbox.read_all": (),
    "buyer_inbox.read": ("then",),
    "buyer_inbox.read_all": (),
    "buyer.apply_refund": ("kind", "goods_intact"),
    "account.end_session": (),
    "account.end_others": (),
    "two_factor.enable": ("code",),
    "two_factor.disable": ("code", "recovery_code"),
    "two_factor.regenerate": (),
    "auth.two_factor": ("code", "recovery_code"),
    "staff.require_two_factor": ("required",),
    "staff.reset_two_factor": (),
    "channel_notify.notify": ("event_id", "payout_id", "state", "reference", "reason"),  # a signed JSON body
}
# Ending or replacing the session: fuzzed anonymously, and last for signed-in roles.
SESSION_ENDPOINTS = {"auth.merchant_login", "auth.buyer_login", "auth.logout", "auth.set_language"}
BUDGET_SECONDS = 240  # a hard stop far above the usual (about 40 s on SQLite, 60 s on PostgreSQL)


# --- reading the pages ---------------------------------------------------------------------------

class Forms(HTMLParser):
    """Forms (method, action, fields with their values) and links (href, hx-get/hx-post) of a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[dict] = []
        self.links: list[str] = []
        self.hx_posts: list[tuple[str, dict]] = []
        self._form: dict | None = None
        self._textarea: str | None = None
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):
        a = {k: (v or "") for k, v in attrs}
        for attr in ("href", "hx-get", "action"):
            if a.get(attr, "").startswith("/"):
                self.links.append(a[attr])
        if tag == "form":
            self._form = {"method": a.get("method", "get").lower(), "action": a.get("action") or a.get("hx-post") or "",
                          "fields": {}}
            if a.get("hx-post"):
                self._form["method"] = "post"
            self.forms.append(self._form)
        name = a.get("name")
        fields = self._form["fields"] if self._form is not None else {}
        if tag == "input" and name:
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio"):
                if "checked" in a or name not in fields:
                    fields[name] = a.get("value", "on")
            else:
                fields[name] = a.get("value", "")
        elif tag == "button" and name:
            fields.setdefault(name, a.get("value", ""))
        elif tag == "textarea" and name:
            fields[name] = ""
            self._textarea = name
        elif tag == "select" and name:
            self._select = name
        elif tag == "option" and self._select and (self._select not in fields or "selected" in a):
            fields[self._select] = a.get("value", "")
        if a.get("hx-post", "").startswith("/") and tag != "form":
            self.hx_posts.append((a["hx-post"], dict(fields)))

    def handle_data(self, data):
        if self._textarea and self._form is not None:
            self._form["fields"][self._textarea] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None


_QUERY_NAME = re.compile(r"""request\.args\.get\(\s*["']([^"']+)["']|(?:int_arg|date_arg)\(\s*["']([^"']+)["']""")


def scanned_query_names(view=None) -> set[str]:
    """The query parameters a view reads: scanned from its source and that of the functions of its
    module it calls (two levels deep); without a view, those of every module of webapp/web. A
    parameter a view starts reading is fuzzed without a list to keep up."""
    if view is None:
        sources = [p.read_text(encoding="utf-8") for p in (Path(__file__).resolve().parents[2] / "webapp" / "web").rglob("*.py")]
    else:
        fn = inspect.unwrap(view)
        module = inspect.getmodule(fn)
        seen, todo, sources = set(), [fn], []
        for _depth in range(3):
            nxt = []
            for f in todo:
                if f in seen:
                    continue
                seen.add(f)
                try:
                    src = inspect.getsource(f)
                except (OSError, TypeError):
                    continue
                sources.append(src)
                for called in re.findall(r"\b(\w+)\(", src):
                    target = getattr(module, called, None)
                    if inspect.isfunction(target) and inspect.getmodule(target) is module:
                        nxt.append(target)
            todo = nxt
    return {m.group(1) or m.group(2) for src in sources for m in _QUERY_NAME.finditer(src)}


# --- sending raw values --------------------------------------------------------------------------

def wire(value: str) -> str:
    """A value percent-encoded as a browser would (UTF-8), lone surrogates as their raw bytes."""
    return quote(value.encode("utf-8", "surrogatepass"), safe="")


def encode_query(params: dict[str, str] | list[tuple[str, str]]) -> str:
    items = params.items() if isinstance(params, dict) else params
    return "&".join(f"{wire(k)}={wire(v)}" for k, v in items)


class Raw(str):
    """A value put on the wire as it is (a malformed escape, invalid UTF-8): not encoded again."""


def encode_body(fields: dict[str, str]) -> bytes:
    return "&".join(f"{wire(k)}={v if isinstance(v, Raw) else wire(v)}" for k, v in fields.items()).encode("ascii")


RULE_ARG = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")


class Fuzzer:
    def __init__(self, app, world, clients: dict, tokens: dict) -> None:
        self.app, self.world, self.clients, self.tokens = app, world, clients, tokens
        self.findings: list[str] = []
        self.sent = 0
        self.exercised: set[tuple[str, str]] = set()
        self.forms: dict[str, dict[str, dict[str, str]]] = defaultdict(dict)  # role -> endpoint -> fields
        self.query_names: dict[str, set[str]] = defaultdict(set)  # endpoint -> names seen in links/forms
        self.adapter = app.url_map.bind("localhost")
        self.kinds: dict[str, int] = {}  # requests by what was fuzzed

    def send(self, role: str, method: str, url: str, *, body: bytes | None = None, headers: dict | None = None,
             what: str = "", endpoint: str = "", content_type: str = "application/x-www-form-urlencoded",
             client=None):
        """One request; an escaping exception or a 5xx is recorded as a finding."""
        self.sent += 1
        self.exercised.add((endpoint, method))
        kind = what.split("=")[0].split(" ")[0] + ("*" if "*" in what else "")
        self.kinds[kind] = self.kinds.get(kind, 0) + 1
        client = client or self.clients[role]
        # The path as a WSGI server hands it over: its bytes, %-escapes undone, as latin-1 (the test
        # client alone would replace invalid UTF-8 before the app sees it).
        kw: dict = {"headers": headers or {},
                    "environ_overrides": {"PATH_INFO": unquote_to_bytes(urlsplit(url).path).decode("latin-1")}}
        if method != "GET":
            kw.update(data=body or b"", content_type=content_type)
        try:
            resp = client.open(url, method=method, **kw)
        except Exception as exc:  # noqa: BLE001 - every escaping exception is a finding
            self.findings.append(f"{role} {method} {url[:160]!r} {what}: {type(exc).__name__}: {str(exc)[:200]}")
            return None
        if resp.status_code >= 500 and not (endpoint == "core.readyz" and resp.status_code == 503):
            self.findings.append(f"{role} {method} {url[:160]!r} {what}: HTTP {resp.status_code}")
        if role == "anon" and endpoint in SIGN_IN and resp.status_code == 303:
            fresh_anon(self.app, self.clients, self.tokens)  # the `next` fuzz signed in: anonymous again
        return resp

    def learn(self, role: str, html: str) -> None:
        parser = Forms()
        try:
            parser.feed(html)
        except Exception:  # noqa: BLE001 - not HTML (CSV, JSON)
            return
        for form in parser.forms:
            self._learn_target(role, form["method"], form["action"], form["fields"])
        for url, fields in parser.hx_posts:
            self._learn_target(role, "post", url, fields)
        for link in parser.links:
            self._learn_target(role, "get", link, {})

    def _learn_target(self, role: str, method: str, url: str, fields: dict[str, str]) -> None:
        parts = urlsplit(url)
        try:
            endpoint, _args = self.adapter.match(parts.path, method=method.upper())
        except Exception:  # noqa: BLE001 - a link elsewhere, or a 405
            return
        if method == "get":
            self.query_names[endpoint].update(k for k, _v in parse_qsl(parts.query))
            self.query_names[endpoint].update(fields)
        else:
            known = self.forms[role].setdefault(endpoint, {})
            for k, v in fields.items():
                known.setdefault(k, v)


SIGN_IN = {"auth.merchant_login", "auth.buyer_login"}


def fill(rule, values: dict[str, str], nasty: tuple[str, str] | None = None) -> str:
    """The rule's path with valid values, one argument replaced by a nasty one."""
    def sub(m):
        name = m.group(2)
        value = nasty[1] if nasty and nasty[0] == name else values.get(name, "valid")
        return value if isinstance(value, Raw) else wire(value)

    return RULE_ARG.sub(sub, rule.rule)


def valid_args(w, role: str, endpoint: str) -> dict[str, str]:
    return {
        "order_no": w.order_a.order_no, "case_id": str(w.case_a.id), "payout_id": str(w.payout_a.id),
        "message_id": str(w.buyer_message_x if endpoint.startswith("buyer_inbox") else w.message_a.id),
        "account_id": str(w.staff_t.id), "filename": "css/app.css",
    }


def valid_fields(w, endpoint: str) -> dict[str, str]:
    """Values that pass, for the fields not being fuzzed (the sign-in forms sign in: `next` is used)."""
    return {
        "auth.merchant_login": {"login": w.main_a.login, "password": PASSWORD},
        "auth.buyer_login": {"login": w.buyer_x.login, "password": PASSWORD},
        "auth.set_language": {"lang": "en"},
        "payouts.create": {"amount": "1.00", "reason": "shipping_fee"},
        "payouts.review": {"amount": "1.00", "reason": "shipping_fee"},
        "staff.create": {"login": "fuzz-staff", "display_name": "Fuzz", "password": "tidal7orchard-kite"},
        "staff.reset_password": {"password": "tidal7orchard-kite"},
        "settings.review": {"note": "Refunds within a day."},
        "settings.confirm": {"note": "Refunds within a day."},
        "channel_notify.notify": {"payout_id": str(w.notify_payout.id)},
        "step_up.confirm": {"password": PASSWORD},
        # Never left switched on by the walk: staff A would then reach only the two-factor set-up page.
        "staff.require_two_factor": {"required": "0"},
    }.get(endpoint, {})


def reaches_view(app, role: str, endpoint: str) -> bool:
    """Whether the access guard lets this role into the view (else only the guard is fuzzed)."""
    from webapp.domain.permissions import Role, can
    from webapp.web.access import declared

    decl = declared(app.view_functions[endpoint]) if endpoint != "static" else "public"
    if decl == "public":
        return True
    if role == "anon" or decl is None:
        return False
    return can({"main": Role.MAIN, "staff": Role.STAFF, "buyer": Role.BUYER}[role], decl)


# --- the walk ------------------------------------------------------------------------------------

OUTSIDE = ("/a\r\nSet-Cookie: evil=1", "\x00", "x" * 3_000, "../")


def walk(app, w, clients, tokens, *, only: set[str] | None = None, budget: float = BUDGET_SECONDS) -> Fuzzer:
    """Every rule (or `only` these endpoints), every method, every role. The full table goes to the
    roles the access guard lets into the view, shared out among them (each value reaches each view
    through one of them, CORE through all); a role the guard turns away gets OUTSIDE."""
    fz = Fuzzer(app, w, clients, tokens)
    rules = [r for r in app.url_map.iter_rules() if only is None or r.endpoint in only]
    rules.sort(key=lambda r: (r.endpoint in SESSION_ENDPOINTS, r.rule))
    started = time.monotonic()

    # 1. every GET page with valid values, as each role: the forms and links it shows
    for role in ROLES:
        for rule in rules:
            if "GET" in rule.methods and rule.endpoint not in SESSION_ENDPOINTS | {"static"}:
                resp = fz.send(role, "GET", fill(rule, valid_args(w, role, rule.endpoint)), what="(valid)",
                               endpoint=rule.endpoint)
                if resp is not None and resp.mimetype == "text/html":
                    fz.learn(role, resp.get_data(as_text=True))
        for path in ("/login", "/buyer/login", f"/orders/{w.order_a.order_no}", f"/after-sales/{w.case_a.id}",
                     "/payouts/approvals", f"/staff/{w.staff_t.id}/quota/edit", f"/my/orders/{w.order_a.order_no}/refund"):
            resp = fz.send(role, "GET", path, what="(forms)", endpoint="")
            if resp is not None:
                fz.learn(role, resp.get_data(as_text=True))
    missing = {r.endpoint for r in rules if "POST" in r.methods} - set(FORM_FIELDS) - {
        ep for forms in fz.forms.values() for ep in forms}
    assert not missing, f"POST routes with no known form fields: add them to FORM_FIELDS: {sorted(missing)}"

    # 2. every route, every method, every role: URL parts, query, form fields, headers
    for role in ROLES:
        for rule in rules:
            ep = rule.endpoint
            if role != "anon" and ep in SESSION_ENDPOINTS:
                # The same views as for anonymous visitors (fuzzed there); here once, valid, at the end.
                for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                    fz.send(role, method, fill(rule, valid_args(w, role, ep)), what="(valid)", endpoint=ep,
                            body=encode_body({**valid_fields(w, ep), "csrf_token": tokens[role]}))
                continue
            inside = [r for r in ROLES if reaches_view(app, r, ep) and (r == "anon" or ep not in SESSION_ENDPOINTS)]
            mine = tuple(dict.fromkeys(CORE + tuple(v for i, v in enumerate(NASTY) if inside[i % len(inside)] == role))) \
                if role in inside else OUTSIDE
            first = role == (inside[0] if inside else "anon")  # the role that gets what one role is enough for
            args = valid_args(w, role, ep)
            view = app.view_functions.get(ep)
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                if time.monotonic() - started > budget:
                    pytest.fail(f"the fuzz walk took over {budget} s; make it cheaper", pytrace=False)
                fields = dict.fromkeys(FORM_FIELDS.get(ep, ()), "")
                fields.update(fz.forms[role].get(ep, {}) or fz.forms["main"].get(ep, {}) or fz.forms["buyer"].get(ep, {}))
                fields.update(valid_fields(w, ep))
                fields.pop("csrf_token", None)
                base = fill(rule, args)

                def send(url, what, headers=None, form=None, raw_body=None, *, role=role, method=method, ep=ep,
                         fields=fields):
                    if method == "GET":
                        return fz.send(role, "GET", url, what=what, endpoint=ep, headers=headers)
                    form = fields if form is None else form
                    if ep == "channel_notify.notify":
                        return notify(fz, role, url, form, what, headers)
                    body = raw_body if raw_body is not None else encode_body({**form, "csrf_token": tokens[role]})
                    return fz.send(role, method, url, body=body, what=what, endpoint=ep, headers=headers)

                # URL parts
                raws = tuple(Raw(r) for r in RAW) if first else ()  # the input guard's business: once a route
                for name in RULE_ARG.findall(rule.rule):
                    for i, value in enumerate((ID_NASTY if name[0] == "id" else mine) + raws):
                        send(fill(rule, args, (name[1], value)), f"path {name[1]}={value[:20]!r}",
                             headers={"HX-Request": "true"} if i % 3 == 0 else None)
                # query: every name at once with each value; each name the view reads alone with ONE_BY_ONE
                # (the names shared out among the roles that reach the view)
                read = sorted(scanned_query_names(view) if view else set())
                names = sorted(set(read) | fz.query_names[ep] | {"next", "q"})
                for i, value in enumerate(mine if method == "GET" else mine[:len(CORE)]):  # a POST's are its form
                    send(f"{base}?{encode_query({n: value for n in names})}", f"query *={value[:20]!r}",
                         headers={"HX-Request": "true"} if i % 2 else None)
                for raw in raws:
                    send(f"{base}?" + "&".join(f"{n}={raw}" for n in names[:4]), f"raw query {raw!r}")
                if role in inside:
                    for n in read[inside.index(role)::len(inside)]:
                        for value in ONE_BY_ONE:
                            send(f"{base}?{encode_query({n: value})}", f"query {n}={value[:20]!r}")
                # form fields, one at a time, the others valid
                if method == "POST":
                    for field in sorted(fields) if role in inside else ():
                        for i, value in enumerate(mine):
                            send(base, f"form {field}={value[:20]!r}", headers={"HX-Request": "true"} if i % 2 else None,
                                 form={**fields, field: value})
                        if ep != "channel_notify.notify":
                            for raw in raws:
                                body = encode_body({**fields, "csrf_token": tokens[role], field: Raw(raw)})
                                send(base, f"raw form {field}={raw!r}", raw_body=body)
                    if role in inside:
                        send(base, "extra field", form={**fields, "unexpected": "\r\n\x01"})
                        send(base, "a field missing", form=dict(list(fields.items())[:-1]))
                        send(base, "form *=\\x00", form=dict.fromkeys(fields, "\x00"))
                # headers (the input guard and flask-htmx read them for every route)
                for value in HEADER_NASTY if first else HEADER_NASTY[:1]:
                    send(base, f"headers={value[:20]!r}", headers=dict.fromkeys(FUZZ_HEADERS, value)
                         | ({"X-CSRFToken": value} if method == "POST" else {}))
        if role == "anon":
            fresh_anon(app, clients, tokens)
    # 3. cookies as they come (a cookie-less client sends its own Cookie header): session, language, device
    if only is None:
        bare = app.test_client(use_cookies=False)
        names = (app.config["SESSION_COOKIE_NAME"], app.config.get("LANGUAGE_COOKIE_NAME", "lang"), "afterdesk_device")
        for value in HEADER_NASTY + ("%00", "\"", "a" * 100, "=;=;", "Zm9v.YmFy.YmF6"):
            cookie = "; ".join(f"{n}={value}" for n in names)
            for method, url in (("GET", "/orders"), ("GET", "/login"), ("POST", "/lang"), ("POST", "/login")):
                fz.send("anon", method, url, headers={"Cookie": cookie}, what=f"cookies={value[:20]!r}", client=bare,
                        endpoint="", body=encode_body({"lang": "en", "login": "x", "password": "y"}))
    return fz


def fresh_anon(app, clients, tokens) -> None:
    client = app.test_client()
    tokens["anon"] = csrf_from(client.get("/login").get_data(as_text=True))
    clients["anon"] = client


def notify(fz: Fuzzer, role: str, url: str, form: dict, what: str, headers: dict | None = None):
    """The channel's notification: a JSON body, signed with the channel secret (else it is refused
    before any field is read)."""
    from webapp.channel import protocol

    event: dict = {"event_id": f"evt-{fz.sent}", "payout_id": str(fz.world.notify_payout.id), "state": "failed",
                   "reference": "r", "reason": "x"}
    event |= {k: v for k, v in form.items() if k in FORM_FIELDS["channel_notify.notify"]}
    try:
        event["payout_id"] = int(event["payout_id"])
    except ValueError:
        pass
    body = json.dumps(event).encode("ascii")
    now = fz.app.extensions["afterdesk.clock"].now().timestamp()
    signed = protocol.sign(fz.app.config["CHANNEL_SECRET"], "POST", urlsplit(url).path, body, int(now))
    return fz.send(role, "POST", url, body=body, headers={**(headers or {}), **signed}, what=what,
                   endpoint="channel_notify.notify", content_type="application/json")


# --- fixtures and tests --------------------------------------------------------------------------

@pytest.fixture
def app_config():
    # A channel secret, so the notification route is there to fuzz; sign-in throttles out of the way
    # (the walk signs in wrongly hundreds of times; the throttle's own page is tested elsewhere).
    lots = "100000 per minute"
    return {"CHANNEL_SECRET": "fuzz-channel-secret", "LOGIN_FAILURE_LIMIT": lots, "LOGIN_IP_FAILURE_LIMIT": lots,
            "LOGIN_DEVICE_FAILURE_LIMIT": lots, "LOGIN_REQUEST_LIMIT": lots}


@pytest.fixture
def fuzz_world(world, make, db, clock):
    """The shared test world, plus: staff A may approve payouts and decide refunds, a payout
    awaiting approval, a sub-account to manage (never the one signed in), a message to buyer X."""
    from webapp.extensions import db as _db
    from webapp.services import inbox
    from webapp.services import payouts as svc

    w = world
    w.staff_a.is_approver = True
    make.quota(w.staff_a, 50_000, 100_000, refunds=(10_000, 50_000))
    w.staff_t = make.account(w.shop_a, role="staff", login="staff-target")
    make.quota(w.staff_t, 50_000, 100_000)
    w.shop_a.payout_approval_fen = 100
    _db.session.commit()
    order = make.order(w.shop_a, w.buyer_x)
    w.waiting = svc.create_payout(db.session, w.staff_t, svc.PayoutIntent(order.order_no, 200, "shipping_fee", "",
                                                                          "fuzz-waiting"), clock.now()).payout
    # the channel's notifications are about this one (world's payout_a already has a made-up message)
    other = make.order(w.shop_a, w.buyer_y)
    w.notify_payout = svc.create_payout(db.session, w.main_a, svc.PayoutIntent(other.order_no, 100, "shipping_fee",
                                                                               "", "fuzz-notify"), clock.now()).payout
    inbox.notify_buyer(db.session, w.buyer_x.id, "payout_received", payout_id=w.payout_a.id,
                       params={"order_no": w.order_a.order_no}, now=clock.now())
    db.session.commit()
    w.buyer_message_x = inbox.buyer_messages(db.session, w.buyer_x.id).rows[0].id
    return w


@pytest.fixture
def role_clients(app, fuzz_world):
    return signed_in_clients(app, fuzz_world)


def signed_in_clients(app, fuzz_world):
    """A client per role, signed in through the real form, and its session's CSRF token."""
    from tests.conftest import IsolatedClient

    app.test_client_class = IsolatedClient
    clients, tokens = {}, {}
    accounts = {"main": fuzz_world.main_a, "staff": fuzz_world.staff_a, "buyer": fuzz_world.buyer_x}
    for role in ROLES:
        client = app.test_client()
        if role != "anon":
            assert login(client, accounts[role]).status_code == 303
        home = {"anon": "/login", "main": "/orders", "staff": "/orders", "buyer": "/my/orders"}[role]
        html = client.get(home).get_data(as_text=True)
        m = re.search(r'X-CSRFToken&#34;: &#34;([^&]+)&#34;|"X-CSRFToken": "([^"]+)"', html)
        tokens[role] = (m.group(1) or m.group(2)) if m else csrf_from(html)
        clients[role] = client
    return clients, tokens


def report(fz: Fuzzer) -> str:
    """Findings grouped by the error, one example each."""
    groups: dict[str, list[str]] = defaultdict(list)
    for f in fz.findings:
        groups[re.sub(r"^\S+ \S+ '.*?' ", "", f.split(": ", 1)[-1])[:120]].append(f)
    return "\n".join(f"{len(v)}x {v[0]}" for v in groups.values())


def test_no_input_anywhere_breaks_a_page(app, fuzz_world, role_clients):
    clients, tokens = role_clients
    started = time.monotonic()
    fz = walk(app, fuzz_world, clients, tokens)
    every = {(r.endpoint, m) for r in app.url_map.iter_rules() for m in r.methods - {"HEAD", "OPTIONS"}}
    assert every - fz.exercised == set(), "routes the walk never requested"
    assert not fz.findings, f"{len(fz.findings)} of {fz.sent} requests broke:\n{report(fz)}"
    print(f"fuzz: {fz.sent} requests over {len(every)} route methods in {time.monotonic() - started:.1f} s: {fz.kinds}")


def test_the_fuzzer_reports_a_500(app, fuzz_world):
    """The walk really fails on a 500: a route that breaks on a quote (as a query built by pasting
    strings would) is caught, in its URL, its query and its form, whoever is signed in."""
    from webapp.web.access import public

    @app.route("/fuzz-canary/<word>", methods=["GET", "POST"], endpoint="fuzz_canary")
    @public
    def canary(word):
        from flask import abort, request

        if "'" in word + "".join(request.values.values()):
            abort(500)
        return "ok"

    clients, tokens = signed_in_clients(app, fuzz_world)
    FORM_FIELDS["fuzz_canary"] = ("word",)
    try:
        fz = walk(app, fuzz_world, clients, tokens, only={"fuzz_canary"})
    finally:
        del FORM_FIELDS["fuzz_canary"]
    assert fz.findings, "the canary's 500s went unnoticed"
    assert {f.split()[0] for f in fz.findings} == set(ROLES)
    assert any("path word" in f for f in fz.findings) and any("form word" in f for f in fz.findings)
    assert any("query" in f for f in fz.findings)
