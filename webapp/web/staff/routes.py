"""Staff and quotas (R7, R19): the main account manages its sub-accounts, their payout quotas,
and reads the shop's activity. Staff see their own quota."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ... import clock
from ...domain import accounts as rules
from ...domain import money
from ...extensions import db
from ...services import activity as activity_svc
from ...services import payout_reports as reports
from ...services import staff as svc
from ...services import two_factor as two_factor_svc
from ..params import date_arg, int_arg
from ..access import background, current_shop_id, requires
from ..htmx import is_htmx, page_or_fragment
from ..step_up import recent_password
from .forms import PasswordResetForm, QuotaForm, StaffCreateForm

bp = Blueprint("staff", __name__)


def _problems_to_form(form, problems: dict[str, list[str]], params: dict) -> None:
    for field, codes in problems.items():
        target = getattr(form, field, None)
        messages = [_(rules.MESSAGES[c], **{k: money.format_fen(v) for k, v in params.items()}) for c in codes]
        if target is not None:
            target.errors = list(target.errors or []) + messages
        else:
            form.form_errors.extend(messages)


def _row(account_id: int) -> svc.StaffRow:
    """An account of the signed-in shop; another's is not found (404 through web/errors.py, R18)."""
    return svc.staff_row(db.session, current_user, account_id, clock.now())


def _managed_row(account_id: int) -> svc.StaffRow:
    """A sub-account's row (the main account's own is not managed here: not found)."""
    return svc.managed_row(db.session, current_user, account_id, clock.now())


@bp.route("/staff")
@requires("staff.manage")
def index():
    rows = svc.staff_rows(db.session, current_user, clock.now())
    return render_template("staff/index.html", rows=rows, editing=None, quota_form=None)


@bp.route("/staff/new", methods=["GET", "POST"])
@requires("staff.manage")
@recent_password
def create():
    form = StaffCreateForm()
    if form.validate_on_submit():
        try:
            account = svc.create_staff(db.session, current_user, login=form.login.data, display_name=form.display_name.data,
                                       password=form.password.data, now=clock.now(), ip=request.remote_addr)
        except svc.StaffError as exc:
            _problems_to_form(form, exc.problems, exc.params)
        else:
            flash(_("Sub-account %(login)s created. Set its payout quota to let it start payouts.", login=account.login), "success")
            return redirect(url_for("staff.index", _anchor=f"staff-{account.id}"), code=303)
    return render_template("staff/new.html", form=form), (422 if form.is_submitted() else 200)


def _quota_form_for(row: svc.StaffRow) -> QuotaForm:
    form = QuotaForm(formdata=None)
    q = row.quota
    form.enabled.data = bool(q and q.enabled)
    form.per_payout.data = money.fen_to_input(q.per_payout_fen) if q and q.per_payout_fen else ""
    form.daily.data = money.fen_to_input(q.daily_fen) if q and q.daily_fen else ""
    form.refund_enabled.data = bool(q and q.refund_enabled)
    form.per_refund.data = money.fen_to_input(q.per_refund_fen) if q and q.per_refund_fen else ""
    form.refund_daily.data = money.fen_to_input(q.refund_daily_fen) if q and q.refund_daily_fen else ""
    return form


@bp.route("/staff/<id:account_id>/row")
@requires("staff.manage")
def row(account_id: int):
    """One row in view mode (also: Cancel from editing)."""
    r = _row(account_id)
    if not is_htmx():
        return redirect(url_for("staff.index", _anchor=f"staff-{account_id}"))
    return render_template("staff/_row.html", r=r)


@bp.route("/staff/<id:account_id>/quota/edit")
@requires("staff.manage")
def edit_quota(account_id: int):
    """Inline editing: the row turns into a form in place (the full page without JavaScript)."""
    r = _row(account_id)
    form = _quota_form_for(r)
    if is_htmx():
        return render_template("staff/_row_edit.html", r=r, form=form)
    rows = svc.staff_rows(db.session, current_user, clock.now())
    return render_template("staff/index.html", rows=rows, editing=account_id, quota_form=form)


def _parse_limit(form, field) -> int | None:
    text = (getattr(form, field).data or "").strip()
    if not text:
        return None
    try:
        return money.parse_yuan(text)
    except money.MoneyError as exc:
        getattr(form, field).errors = [_(exc.message)]
        return None


@bp.route("/staff/<id:account_id>/quota", methods=["POST"])
@requires("staff.manage")
@recent_password
def save_quota(account_id: int):
    r = _managed_row(account_id)
    form = QuotaForm()
    ok = form.validate_on_submit()
    limits = {f: _parse_limit(form, f) for f in ("per_payout", "daily", "per_refund", "refund_daily")}
    saved = None
    if ok and not any(getattr(form, f).errors for f in limits):
        try:
            saved = svc.update_quota(
                db.session, current_user, account_id, enabled=form.enabled.data, per_payout_fen=limits["per_payout"],
                daily_fen=limits["daily"], refund_enabled=form.refund_enabled.data, per_refund_fen=limits["per_refund"],
                refund_daily_fen=limits["refund_daily"], now=clock.now(), ip=request.remote_addr)
        except svc.StaffError as exc:
            _problems_to_form(form, exc.problems, exc.params)
    if saved is None:
        if is_htmx():
            return render_template("staff/_row_edit.html", r=r, form=form), 422
        rows = svc.staff_rows(db.session, current_user, clock.now())
        return render_template("staff/index.html", rows=rows, editing=account_id, quota_form=form), 422
    r = _row(account_id)
    notice = _("Saved. %(name)s has already paid out %(used)s today, so no more payouts today.",
               name=r.account.display_name, used=money.format_fen(saved.used_today_fen)) if saved.below_used_today else None
    if is_htmx():
        return render_template("staff/_row.html", r=r, notice=notice)
    flash(notice or _("Quota saved."), "info" if notice else "success")
    return redirect(url_for("staff.index", _anchor=f"staff-{account_id}"), code=303)


def _row_changed(account_id: int, change, done: str):
    """A one-click change on a staff row: htmx gets the new row, everyone else a 303 and a notice."""
    _row(account_id)
    change()
    if is_htmx():
        return render_template("staff/_row.html", r=_row(account_id))
    flash(done, "success")
    return redirect(url_for("staff.index", _anchor=f"staff-{account_id}"), code=303)


@bp.route("/staff/<id:account_id>/active", methods=["POST"])
@requires("staff.manage")
def set_active(account_id: int):
    active = request.form.get("active") == "1"
    name = _row(account_id).account.display_name
    return _row_changed(
        account_id, lambda: svc.set_active(db.session, current_user, account_id, active, clock.now(), ip=request.remote_addr),
        _("%(name)s can sign in again.", name=name) if active else _("%(name)s is disabled and signed out.", name=name))


@bp.route("/staff/<id:account_id>/approver", methods=["POST"])
@requires("staff.manage")
@recent_password  # who may approve payouts (R20) is a money control
def set_approver(account_id: int):
    """R20: make a sub-account an approver of others' payouts, or stop it."""
    approver = request.form.get("approver") == "1"
    name = _row(account_id).account.display_name
    return _row_changed(
        account_id, lambda: svc.set_approver(db.session, current_user, account_id, approver, clock.now(),
                                             ip=request.remote_addr),
        _("%(name)s can now approve payouts.", name=name) if approver else _("%(name)s no longer approves payouts.", name=name))


@bp.route("/staff/<id:account_id>/password", methods=["GET", "POST"])
@requires("staff.manage")
@recent_password
def reset_password(account_id: int):
    r = _managed_row(account_id)
    form = PasswordResetForm()
    if form.validate_on_submit():
        try:
            svc.reset_password(db.session, current_user, account_id, form.password.data, clock.now(), ip=request.remote_addr)
        except svc.StaffError as exc:
            _problems_to_form(form, exc.problems, exc.params)
        else:
            flash(_("New password set for %(name)s. Their other sessions have ended.", name=r.account.display_name), "success")
            return redirect(url_for("staff.index", _anchor=f"staff-{account_id}"), code=303)
    return render_template("staff/password.html", form=form, r=r), (422 if form.is_submitted() else 200)


@bp.route("/staff/two-factor", methods=["POST"])
@requires("staff.manage")
@recent_password
def require_two_factor():
    """Sub-accounts must use two-factor sign-in (or no longer must). Those without it are sent to set it
    up on their next request (web/two_factor.gate); they cannot turn it off while it is required."""
    required = request.form.get("required") == "1"
    changed = two_factor_svc.set_staff_requirement(db.session, current_user, required, clock.now(), ip=request.remote_addr)
    if not changed:
        notice = _("Nothing changed.")
    elif required:
        notice = _("Sub-accounts must now use two-step verification. Those without it set it up when they next open "
                   "a page.")
    else:
        notice = _("Sub-accounts may now choose whether to use two-step verification.")
    flash(notice, "success")
    return redirect(url_for("staff.index", _anchor="two-factor"), code=303)


@bp.route("/staff/<id:account_id>/two-factor/reset", methods=["POST"])
@requires("staff.manage")
@recent_password
def reset_two_factor(account_id: int):
    """A sub-account lost its phone: its two-factor is removed and it is signed out everywhere. It signs in
    with its password and sets two-factor up again."""
    r = _managed_row(account_id)
    try:
        two_factor_svc.reset_for_staff(db.session, current_user, account_id, clock.now(), ip=request.remote_addr)
    except two_factor_svc.TwoFactorError:
        flash(_("%(name)s does not use two-step verification: nothing to reset.", name=r.account.display_name), "info")
    else:
        flash(_("Two-step verification of %(name)s is reset and all of their sessions have ended. They sign in with "
                "their password and set it up again.", name=r.account.display_name), "success")
    return redirect(url_for("staff.index", _anchor=f"staff-{account_id}"), code=303)


@bp.route("/activity")
@requires("activity.view")
def activity():
    action = request.args.get("action", "")
    f = activity_svc.ActivityFilter(
        action=action if action in activity_svc.ACTIONS or action in activity_svc.GROUPS else "",
        actor_id=int_arg("actor"), date_from=date_arg("from"), date_to=date_arg("to"),
    )
    page = activity_svc.events(db.session, current_shop_id(), f, cursor=request.args.get("cursor"),
                               limit=current_app.config["ORDERS_PAGE_SIZE"])
    people = {a.id: a for a in reports.shop_staff(db.session, current_shop_id())}
    return page_or_fragment("staff/activity.html", "results", page=page, f=f, people=people,
                            actions=activity_svc.ACTIONS)


@bp.route("/quota/mine")
@background
@requires("quota.own")
def my_quota():
    """A staff member's own quota and today's use, live."""
    r = _row(current_user.id)
    return render_template("staff/_my_quota.html", r=r)
