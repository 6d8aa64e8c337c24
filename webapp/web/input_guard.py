"""Input that cannot break a page (ASVS 4.0.3 5.1.1-5.1.4, 5.3.1): the first before_request of
every request refuses, with a 400 in the user's language, what no person types and no page of
ours sends, before any view, form or query sees it:

  - a NUL anywhere: path, query, form, header (PostgreSQL cannot store one, C libraries end a
    string at it);
  - any other control character in the path, the query or a header (CR and LF would split a
    header a value is copied into, e.g. a sign-in's `next`);
  - a path, query or form body that is not UTF-8 (a cut character, a lone surrogate), or a query
    or form body with a malformed %-escape (a "%" not followed by two hex digits: browsers send
    "%25");
  - an absurd length: a query value over MAX_QUERY_VALUE characters or a form value over
    MAX_FORM_VALUE (each form's own limit is far below: that field says so, next to it), and a
    path segment over MAX_PATH_SEGMENT answers 404 (no page has such an address).

Everything else a field can be wrong about (a note too long, a control character pasted into a
note, an amount that is not one) is that field's error, next to it, with what was typed kept: the
forms and the domain rules (webapp/domain/text.py) check it.

htmx requests get a fragment instead of the page: status 422 (the statuses htmx swaps, see
base.html's htmx-config) retargeted to the top of <main>, so the refusal is seen where the page
is, not silently dropped."""
from __future__ import annotations

import re
from urllib.parse import unquote_to_bytes

from flask import Flask, abort, render_template, request
from flask_babel import gettext as _
from flask_htmx import make_response
from markupsafe import Markup
from werkzeug.exceptions import BadRequest

from .htmx import is_htmx

MAX_PATH_SEGMENT = 200
MAX_QUERY_VALUE = 2_048
MAX_FORM_VALUE = 20_000
MAX_BODY_BYTES = 1024 * 1024  # MAX_CONTENT_LENGTH when the config sets none: a bigger body is a 413

_IN_PATH = re.compile("[\x00-\x1f\x7f]")  # C0 and DEL: no address of ours has one
_IN_QUERY = re.compile("[\x00-\x08\x0a-\x1f\x7f]")  # the same, a tab aside (harmless, pasted into a search)
_BAD_ESCAPE = re.compile(rb"%(?![0-9A-Fa-f]{2})")
_FORM_BODIES = ("application/x-www-form-urlencoded", "multipart/form-data")


class BadInput(BadRequest):
    """Refused by the input guard; `reason` is a key of `messages()`."""

    def __init__(self, reason: str) -> None:
        super().__init__(description=reason)
        self.reason = reason


def check() -> None:
    """The before_request: raise BadInput (400) or abort(404) for input no page can take."""
    try:  # the path as it came (the server already undid its %-escapes): UTF-8, or refused
        path = request.environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8")
    except UnicodeError:
        raise BadInput("encoding") from None
    if _IN_PATH.search(path):
        raise BadInput("control")
    if any(len(part) > MAX_PATH_SEGMENT for part in path.split("/")):
        abort(404)
    _check_encoded(request.query_string)
    for name, value in request.args.items(multi=True):
        if _IN_QUERY.search(name) or _IN_QUERY.search(value):
            raise BadInput("control")
        if len(value) > MAX_QUERY_VALUE or len(name) > MAX_QUERY_VALUE:
            raise BadInput("length")
    for name, value in request.headers.items():
        if _IN_QUERY.search(name) or _IN_QUERY.search(value):
            raise BadInput("control")
    if request.method in ("POST", "PUT", "PATCH", "DELETE") and request.mimetype in _FORM_BODIES:
        _check_form()


def _check_encoded(raw: bytes) -> None:
    """%-encoded text (a query string, a form body): well-formed escapes, UTF-8 once undone."""
    if _BAD_ESCAPE.search(raw):
        raise BadInput("encoding")
    try:
        unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8")
    except UnicodeError:
        raise BadInput("encoding") from None


def _check_form() -> None:
    """A form: no NUL, no absurd value, and an encoded body that decodes. Other control
    characters are the fields' business (a textarea sends line breaks; a stray control character
    gets a field error, with the text kept)."""
    if request.mimetype == "application/x-www-form-urlencoded":
        _check_encoded(request.get_data(cache=True))  # the form parser reads the cached body afterwards
    for name, value in request.form.items(multi=True):
        if "\x00" in name or "\x00" in value:
            raise BadInput("nul")
        if len(value) > MAX_FORM_VALUE or len(name) > MAX_FORM_VALUE:
            raise BadInput("length")


def messages() -> dict[str, str]:
    return {
        "control": _("The address or the request contained control characters (such as a line break), which this "
                     "site does not accept. Check the link or what you typed and try again."),
        "nul": _("The form contained a null character, which this site does not accept. Remove it from what you "
                 "typed or pasted and try again."),
        "encoding": _("The address or the form was not correctly encoded text. Check the link or what you typed "
                      "and try again."),
        "length": _("A value in the address or the form is far too long. Shorten what you typed and try again."),
    }


def refused(exc: BadInput):
    """The 400 page in the user's language, or for htmx a fragment it swaps in at the top of <main>."""
    texts = messages()
    message = texts.get(exc.reason, texts["control"])
    title = _("This request cannot be accepted")
    if is_htmx():
        body = Markup('<div class="flash flash-error" role="alert"><strong>%s</strong> %s</div>') % (title, message)
        return make_response(body, 422, retarget="main", reswap="afterbegin")
    return render_template("errors.html", status=400, title=title, message=message), 400


def register(app: Flask) -> None:
    """Run `check` before everything else (CSRF, the session store, the access guard) and answer
    its refusals; bodies over MAX_BODY_BYTES are refused (413) unless the config sets a limit."""
    if app.config.get("MAX_CONTENT_LENGTH") is None:
        app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.before_request_funcs.setdefault(None, []).insert(0, check)
    app.register_error_handler(BadInput, refused)
