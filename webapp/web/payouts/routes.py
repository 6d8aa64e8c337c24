"""Small payout screens (R1-R9). One flow serves the three entry points (R1):
  section  the order detail's "Small payouts" card (and the after-sales detail, R8)
  page     After-sales -> Small payout: the payout workspace, starting from an order number
  embed    /embed/payout?order=...: a compact panel for the chat tool's side panel
Steps: find the order (R2 reasons) -> amount (R3, checked as you type) -> review -> confirm (R4)
-> the result with its live status (R6)."""
from __future__ import annotations

import uuid
from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ... import clock
from ...domain import money, search, text
from ...domain.payout_rules import REASON_LABELS
from ...domain.states import PAYOUT_FINAL, PAYOUT_STATUS_LABELS, PayoutStatus
from ...extensions import db
from ...models import Payout
from ...services import payout_reports as reports
from ...services import payouts as svc
from ...services import queries
from ...services import staff as staff_svc
from ..params import date_arg, int_arg
from ..access import background, current_shop_id, requires
from ..htmx import fragment, is_htmx, live, page_or_fragment, unchanged
from ..messages import DECISION_REFUSED, cancel_text, failure_text, refusal_text
from ..payout_flow import PayoutForm, flow_context
from ..search_text import describe
from ..exports import Column, Kind, csv_response, local_stamp, xlsx_response
from ..steps import FlowMode, FlowStep
from . import charts

bp = Blueprint("payouts", __name__)

PAGE_TEMPLATES = {FlowMode.SECTION: "merchant/order_detail.html", FlowMode.PAGE: "payouts/new.html",
                  FlowMode.EMBED: "payouts/embed.html"}


def _shop_order(order_no: str):
    """The signed-in shop's order; another's is not found (404 through web/errors.py, R18)."""
    return queries.get_shop_order(db.session, current_shop_id(), order_no)


def _shop_payout(payout_id: int) -> Payout:
    return queries.get_shop_payout(db.session, current_shop_id(), payout_id)


def _page_extras(mode: FlowMode) -> dict:
    if mode == FlowMode.PAGE:
        return _workspace_context()
    if mode == FlowMode.EMBED:
        g.frame_ancestors = current_app.config["EMBED_FRAME_ANCESTORS"]
    return {}


def render_flow(order, status: int = 200, **kw):
    ctx = flow_context(order, **kw)
    if is_htmx():
        template = "payouts/_section.html" if ctx["mode"] == FlowMode.SECTION else "payouts/_flow.html"
        return render_template(template, **ctx), status
    mode = ctx["mode"]
    return render_template(PAGE_TEMPLATES[mode], **ctx, **_page_extras(mode)), status


def _workspace_context() -> dict:
    now = clock.now()
    glance = reports.glance(db.session, current_user, now)
    chart = charts.bars(reports.daily_series(db.session, current_user.shop_id, now), width=320, height=96, gap=4,
                        cap_fen=glance.shop_cap_fen)
    return {"glance": glance, "chart": chart,
            "my_quota_row": lambda: staff_svc.staff_row(db.session, current_user, current_user.id, now)}


# --- entry points --------------------------------------------------------------------------

def _find(mode: FlowMode, template: str):
    """Step 1: find the order by number (R2). Full page, or just the flow for htmx."""
    q = queries.normalize_order_no(request.args.get("order"))
    order = queries.shop_order(db.session, current_shop_id(), q) if q else None
    done = None
    done_id = int_arg("done")
    if order is not None and done_id:
        done = queries.order_payout(db.session, order.id, done_id)
    ctx = flow_context(order, mode=mode, done=done, step=FlowStep.DONE if done else FlowStep.AMOUNT) if order else {"mode": mode}
    ctx.update(q=q, not_found=bool(q) and order is None)
    if is_htmx():
        return render_template("payouts/_flow.html", **ctx)
    return render_template(template, **ctx, **_page_extras(mode))


@bp.route("/payouts/new")
@requires("payouts.create")
def new():
    """Entry (a): After-sales -> Small payout, the payout workspace."""
    return _find(FlowMode.PAGE, "payouts/new.html")


@bp.route("/embed/payout")
@requires("payouts.create")
def embed():
    """Entry (c): a compact panel for the chat tool's side panel (~360 px, no site chrome)."""
    return _find(FlowMode.EMBED, "payouts/embed.html")


# --- steps ---------------------------------------------------------------------------------

@bp.route("/orders/<order_no>/payouts/check", methods=["POST"])
@requires("payouts.create")
def check(order_no: str):
    """Inline validation while typing (R3): the first rule the amount breaks, or the all-clear."""
    order = _shop_order(order_no)
    fen = None
    if (request.form.get("amount") or "").strip():
        try:
            fen = money.parse_yuan(request.form.get("amount"))
        except money.MoneyError as exc:  # not an amount yet: say how to write one, nothing else to read
            return render_template("payouts/_amount_feedback.html", message=_(exc.message), ok=False, elig=None,
                                   refusal=None, mode=FlowMode.of(request.form.get("mode")), oob=True)
    elig, refusals = svc.amount_check(db.session, current_user, order.order_no, fen, clock.now())
    ok = fen is not None and not refusals
    # The limits beside the amount come with it (out of band): they show the values now, e.g. a
    # quota the main account has just disabled.
    return render_template("payouts/_amount_feedback.html", message=None, ok=ok, elig=elig,
                           refusal=refusals[0] if refusals and fen is not None else None,
                           mode=FlowMode.of(request.form.get("mode")), oob=True)


@bp.route("/orders/<order_no>/payouts/review", methods=["POST"])
@requires("payouts.create")
def review(order_no: str):
    """Step 3 (R4): check the amount against every rule, then show what will happen."""
    order = _shop_order(order_no)
    mode = FlowMode.of(request.form.get("mode"))
    form = PayoutForm()
    if not form.validate_on_submit():
        return render_flow(order, 422, mode=mode, form=form)
    assert form.fen is not None  # a validated form has its amount parsed (validate_amount)
    refusals = svc.check_amount(db.session, current_user, order_no, form.fen, clock.now())
    if refusals:
        form.amount.errors = [refusal_text(refusals[0])]
        return render_flow(order, 422, mode=mode, form=form, refusal=refusals[0])
    return render_flow(order, mode=mode, form=form, step=FlowStep.REVIEW)


@bp.route("/orders/<order_no>/payouts/change", methods=["POST"])
@requires("payouts.create")
def change(order_no: str):
    """Back from the review to the amount step, with everything typed kept (and the same key)."""
    order = _shop_order(order_no)
    form = PayoutForm()
    form.validate_on_submit()
    form.amount.errors = []
    return render_flow(order, mode=FlowMode.of(request.form.get("mode")), form=form)


@bp.route("/orders/<order_no>/payouts", methods=["POST"])
@requires("payouts.create")
def create(order_no: str):
    """Confirm (R4): creates the payout once per request key; a replay shows the same payout.
    The usual answer, a redirect, reads nothing but what the service locks; the order is read for
    the pages that show it (a refusal, the htmx fragment). Another shop's order: 404 either way."""
    mode = FlowMode.of(request.form.get("mode"))
    form = PayoutForm()
    if not form.validate_on_submit() or not form.request_key.data:
        errors = list(form.request_key.errors)
        if errors:  # a mangled key: a fresh form, nothing created
            form.request_key.data = uuid.uuid4().hex
        return render_flow(_shop_order(order_no), 422, mode=mode, form=form, errors=errors)
    assert form.fen is not None  # a validated form has its amount parsed (validate_amount)
    intent = svc.PayoutIntent(order_no, form.fen, form.reason.data, (form.note.data or "").strip(), form.request_key.data)
    try:
        created = svc.create_payout(db.session, current_user, intent, clock.now(), ip=request.remote_addr,
                                    with_result=is_htmx())
    except svc.PayoutRefused as exc:
        form.amount.errors = [refusal_text(exc.refusals[0])]
        return render_flow(_shop_order(order_no), 422, mode=mode, form=form, refusal=exc.refusals[0])
    except svc.RequestKeyConflict:
        form.request_key.data = uuid.uuid4().hex
        return render_flow(_shop_order(order_no), 409, mode=mode, form=form, errors=[
            _("This form was already used for a different payout. Check the details and confirm again.")])
    if is_htmx():
        if created.after is not None:  # a new payout: its result shows the rows just committed, no re-read
            return render_flow(created.after.order, mode=mode, step=FlowStep.DONE, done=created.payout,
                               elig=created.after)
        return render_flow(_shop_order(order_no), mode=mode, step=FlowStep.DONE, done=created.payout)
    if not created.replayed:
        flash(_("Payout of %(amount)s started.", amount=money.format_fen(created.amount_fen)), "success")
    if mode == FlowMode.SECTION:
        return redirect(url_for("merchant.order_detail", order_no=order_no, _anchor=f"payout-{created.payout_id}"),
                        code=303)
    endpoint = "payouts.new" if mode == FlowMode.PAGE else "payouts.embed"
    return redirect(url_for(endpoint, order=order_no, done=created.payout_id), code=303)


# --- live status (R6) ----------------------------------------------------------------------

@bp.route("/payouts/<id:payout_id>/status")
@background
@requires("payouts.view")
def status(payout_id: int):
    """The status row polls this every 2 s while not final; 286 tells htmx to stop. When a payout
    has just failed, HX-Trigger tells the bell to refresh (a new in-site message)."""
    seen = request.args.get("v")
    if seen:  # the version the row shows: one narrow read answers "unchanged" (204)
        version = queries.payout_version(db.session, payout_id, shop_id=current_shop_id())
        same = None if sends_in_seconds(version) else unchanged(seen, version)  # a running undo countdown re-renders
        if same is not None:
            return same
    payout = queries.get_shop_payout(db.session, current_shop_id(), payout_id, for_row=True)
    # Cross-component refresh once final: the order summary re-reads its tallies; after a failure
    # the bell its count (a new in-site message).
    events = ["payout-settled"] + (["messages-changed"] if payout.status == PayoutStatus.FAILED else [])
    return live(_row(payout), payout.status in PAYOUT_FINAL, trigger=events)


def _row(payout: Payout, **kw) -> str:
    """A payout's row where it is shown: the order page's history, or the result in the workspace
    (`compact`) or the chat panel (`embed`: every link stays in the panel). On the order page a
    failed or cancelled row says why no new payout can start now, if one cannot (R2)."""
    compact, embed = request.args.get("compact") == "1", request.args.get("embed") == "1"
    elig = None
    if not compact and payout.status in (PayoutStatus.FAILED, PayoutStatus.CANCELLED):
        elig = svc.eligibility(db.session, current_user, payout.order.order_no, clock.now())
    return render_template("payouts/_row.html", p=payout, compact=compact or embed, embed=embed, elig=elig, **kw)


def _row_url(payout: Payout) -> str:
    """Where a row's action leads without htmx: back to where the row was shown."""
    if request.args.get("embed") == "1":
        return url_for("payouts.embed", order=payout.order.order_no, done=payout.id)
    if request.args.get("compact") == "1":
        return url_for("payouts.new", order=payout.order.order_no, done=payout.id)
    return url_for("merchant.order_detail", order_no=payout.order.order_no, _anchor=f"payout-{payout.id}")


@bp.route("/orders/<order_no>/payouts/summary")
@background
@requires("payouts.view")
def summary(order_no: str):
    """The order's payout tallies (refreshed when one of its payouts settles)."""
    order = _shop_order(order_no)
    elig = svc.eligibility(db.session, current_user, order.order_no, clock.now())
    return render_template("payouts/_summary.html", order=order, elig=elig, mode=FlowMode.of(request.args.get("mode", FlowMode.PAGE)))


@bp.route("/payouts/<id:payout_id>/continue", methods=["POST"])
@requires("payouts.create")
def continue_(payout_id: int):
    """继续打款 (R6): a pending payout goes to the front of the queue; never pays twice."""
    payout = _shop_payout(payout_id)
    sent_now = svc.continue_payout(db.session, current_user, payout.id, clock.now(), ip=request.remote_addr)
    payout = _shop_payout(payout_id)
    if sent_now:
        notice = _("Sent to the payment channel now. The status updates by itself; it is never paid twice.")
    else:
        notice = _("This payout was no longer waiting to be sent, so nothing changed. Its status: %(status)s.",
                   status=_(PAYOUT_STATUS_LABELS[PayoutStatus(payout.status)]))
    if is_htmx():
        return _row(payout, notice=notice)
    flash(notice, "success" if sent_now else "info")
    return redirect(_row_url(payout), code=303)


# --- undo window, approval (R20, R21) ------------------------------------------------------------

def _decided(payout_id: int, error: str | None, back: str, *, status: int = 409, note: str = ""):
    """After a withdraw/approve/reject: htmx gets the updated row (with the refusal in place, and
    the reject note as typed), everyone else a 303 back (the refusal flashed)."""
    payout = _shop_payout(payout_id)
    if is_htmx():
        body = (render_template("payouts/_approval_row.html", p=payout, error=error, note=note) if back == "approvals"
                else _row(payout, error=error, note=note))
        return fragment(body, status if error else 200, trigger=["payout-settled", "approvals-changed"])
    if error:
        flash(error, "error")
    if back == "approvals":
        return redirect(url_for("payouts.approvals"), code=303)
    return redirect(_row_url(payout), code=303)


def _decide(payout_id: int, action, back: str):
    _shop_payout(payout_id)
    try:
        action()
    except svc.DecisionRefused as exc:
        if exc.code == "not_allowed":
            abort(403)
        return _decided(payout_id, _(DECISION_REFUSED[exc.code]), back)
    return _decided(payout_id, None, back)


@bp.route("/payouts/<id:payout_id>/withdraw", methods=["POST"])
@requires("payouts.create")
def withdraw(payout_id: int):
    """撤回 (R20, R21): before it is sent, the requester or the main account takes it back."""
    return _decide(payout_id, lambda: svc.withdraw(db.session, current_user, payout_id, clock.now(),
                                                   ip=request.remote_addr), request.args.get("back", "row"))


@bp.route("/payouts/<id:payout_id>/approve", methods=["POST"])
@requires("payouts.approve")
def approve(payout_id: int):
    return _decide(payout_id, lambda: svc.approve(db.session, current_user, payout_id, clock.now(),
                                                  ip=request.remote_addr), "approvals")


@bp.route("/payouts/<id:payout_id>/reject", methods=["POST"])
@requires("payouts.approve")
def reject(payout_id: int):
    note = (request.form.get("note") or "").strip()[:200]
    if text.unsafe(note):  # the queue again, the note kept and the error on its row
        _shop_payout(payout_id)
        if is_htmx():
            return _decided(payout_id, _(text.message()), "approvals", status=422, note=note)
        return approvals_page(422, refused_id=payout_id, refused_error=_(text.message()), refused_note=note)
    return _decide(payout_id, lambda: svc.reject(db.session, current_user, payout_id, note, clock.now(),
                                                 ip=request.remote_addr), "approvals")


@bp.route("/payouts/approvals")
@requires("payouts.view")
def approvals():
    """R20: payouts waiting for approval, oldest first; decide buttons for who may decide."""
    return approvals_page()


def approvals_page(status: int = 200, **refused):
    return render_template("payouts/approvals.html", payouts=svc.awaiting_approval(db.session, current_shop_id()),
                           **refused), status


@bp.route("/payouts/approvals/count")
@background
@requires("payouts.view")
def approvals_count():
    """The navigation badge, refreshed by htmx on a timer and when a decision is made."""
    return render_template("payouts/_approvals_badge.html",
                           n=svc.awaiting_approval_count(db.session, current_shop_id()))


@bp.app_template_global()
def may_withdraw(p: Payout) -> bool:
    from ...domain.payout_controls import may_withdraw as rule

    return bool(getattr(current_user, "shop_id", None) == p.shop_id and rule(
        actor_id=current_user.id, actor_is_main=current_user.is_main, requester_id=p.started_by_id, status=p.status,
        ever_sent=p.channel_not_after is not None, approved=p.decided_by_id is not None))


@bp.app_template_global()
def may_decide(p: Payout) -> bool:
    from ...domain.payout_controls import may_decide as rule

    return bool(getattr(current_user, "shop_id", None) == p.shop_id and rule(
        actor_id=current_user.id, actor_is_main=current_user.is_main,
        actor_is_approver=getattr(current_user, "is_approver", False), requester_id=p.started_by_id))


@bp.app_template_global()
def sends_in_seconds(p: Payout | queries.PayoutVersion) -> int:
    """R21: seconds left of the undo window (0 once it may be sent)."""
    if p.status != PayoutStatus.PENDING or p.next_attempt_at is None or p.channel_not_after is not None:
        return 0
    return max(0, int((p.next_attempt_at - clock.now()).total_seconds() + 0.999))


# --- records (R5) --------------------------------------------------------------------------


def _record_filter() -> reports.RecordFilter:
    status = request.args.get("status", "")
    return reports.RecordFilter(
        status=status if status in PAYOUT_STATUS_LABELS else "",
        date_from=date_arg("from"), date_to=date_arg("to"), staff_id=int_arg("staff"),
        q=request.args.get("q") or request.args.get("order") or "",  # `order`: the old links' name
    )


@bp.route("/payouts")
@requires("payouts.view")
def records():
    """Shop-wide payout records with filters, totals and keyset pagination. Staff see the whole
    shop's records, like the main account: colleagues follow up on each other's payouts."""
    shop_id = current_shop_id()
    f = reports.searched(db.session, shop_id, _record_filter())
    page = reports.records(db.session, shop_id, f, cursor=request.args.get("cursor"), limit=current_app.config["ORDERS_PAGE_SIZE"])
    ctx = {"page": page, "f": f, "totals": reports.totals(db.session, shop_id, f), "staff": reports.shop_staff(db.session, shop_id),
           "searched": describe(search.parse(f.q))}
    return page_or_fragment("payouts/records.html", "results", **ctx)


def _export(fmt: str):
    """The filtered records (R5) as CSV or XLSX, the same filters as the page (web/exports.py says
    how each cell is written so Excel keeps order numbers and reads money as numbers)."""
    shop_id = current_shop_id()
    f = reports.searched(db.session, shop_id, _record_filter())
    columns = [
        Column(_("Payout"), Kind.NUMBER, 9), Column(_("Order number"), Kind.ORDER_NO, 22),
        Column(_("Buyer"), Kind.TEXT, 12), Column(_("Amount (yuan)"), Kind.MONEY, 12), Column(_("Reason"), Kind.LABEL, 12),
        Column(_("Note to the buyer"), Kind.TEXT, 24), Column(_("Started by"), Kind.TEXT, 12),
        Column(_("Started at"), Kind.TIME, 20), Column(_("Status"), Kind.LABEL, 10),
        Column(_("Why it failed or was cancelled"), Kind.LABEL, 36), Column(_("Finished at"), Kind.TIME, 20),
    ]
    # Labels translated once per export, not once per row; rows read in batches (a million rows
    # stream at tens of thousands per second, and a compressing proxy gets whole chunks).
    reasons = _TranslatedOnce(lambda code: _(REASON_LABELS.get(code, code)))
    statuses = _TranslatedOnce(lambda code: _(PAYOUT_STATUS_LABELS[code]))
    why = _TranslatedOnce(lambda codes: failure_text(codes[0]) or cancel_text(codes[1]))

    def rows():
        for p in reports.export_rows(db.session, shop_id, f):
            yield (p.id, p.order_no, p.buyer_name, p.amount_fen, reasons[p.reason_code], p.note, p.starter_name,
                   p.created_at, statuses[p.status], why[(p.failure_reason, p.cancel_reason)],
                   p.succeeded_at or p.failed_at or p.cancelled_at)

    name = f"payouts-{local_stamp(clock.now())}"
    if fmt == "xlsx":
        return xlsx_response(columns, rows(), name, _("Payout records"), more_rows_note=_more_rows)
    return csv_response(columns, rows(), name)


def _more_rows(shown: int) -> str:
    return _("Only the first %(n)s rows fit in one sheet. Export CSV for all of them.", n=shown)


@bp.route("/payouts/export.csv")
@requires("payouts.view")
def export_csv():
    """The filtered records as CSV (UTF-8 with a BOM, so Excel opens the Chinese text)."""
    return _export("csv")


@bp.route("/payouts/export.xlsx")
@requires("payouts.view")
def export_xlsx():
    """The filtered records as an Excel workbook: order numbers as text, amounts as numbers."""
    return _export("xlsx")


class _TranslatedOnce(dict):
    """code -> its text in the user's language, computed on first use."""

    def __init__(self, text):
        super().__init__()
        self._text = text

    def __missing__(self, code):
        self[code] = value = self._text(code)
        return value
