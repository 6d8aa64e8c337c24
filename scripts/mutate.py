"""A small mutation check of the money rules (issue 15, item 5).

Copies the working tree (without .venv, .git and caches) to a temporary directory, then, one at a
time, applies a small change ("mutant") to one of the pure money-rule modules there, runs the fast
tests against the copy, and puts the file back (always; checked by hash). A mutant is *killed*
when the tests fail with it, and *survives* when they all still pass: a survivor is a rule change
the tests would not notice.

The working tree itself is never written to: other people edit and test it at the same time.

    .venv/bin/python scripts/mutate.py            # every mutant
    .venv/bin/python scripts/mutate.py -k rules   # only mutants whose id contains "rules"
    .venv/bin/python scripts/mutate.py --list     # show the mutants, run nothing

Tests run in two tiers, stopping at the first failure: tests/unit (a second or two), then the
domain-level service tests on SQLite (about ten seconds). Exit status 0 when no mutant survives.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = ROOT / ".venv" / "bin" / "python"
SKIP = shutil.ignore_patterns(".venv", ".git", ".hypothesis", "__pycache__", "*.pyc", "test-artifacts",
                              "node_modules", "*.egg-info", ".pytest_cache")

PYTEST = ["-m", "pytest", "-q", "-x", "-p", "no:cacheprovider"]
TIERS = [
    # (test_import_light and test_i18n check import weight and catalogs, not money rules; others
    # edit them and the code they watch meanwhile, so they are left out.)
    ("unit", ["tests/unit", "--ignore=tests/unit/test_import_light.py", "--ignore=tests/unit/test_i18n.py"]),
    ("services", ["-m", "not pg", "tests/services/test_payouts.py", "tests/services/test_payout_controls.py",
                  "tests/services/test_refunds.py", "tests/services/test_refund_limits.py"]),
]
TIMEOUT_SECONDS = 180  # per tier; a mutant that hangs the tests counts as killed (timeout)

PR = "webapp/domain/payout_rules.py"
RR = "webapp/domain/refund_rules.py"
MO = "webapp/domain/money.py"
PC = "webapp/domain/payout_controls.py"


@dataclass(frozen=True)
class Mutant:
    id: str
    path: str
    old: str  # must occur in the file; `nth` picks the occurrence (0: the first)
    new: str
    nth: int = 0

    def apply(self, text: str) -> str:
        start = -1
        for _ in range(self.nth + 1):
            start = text.find(self.old, start + 1)
            if start < 0:
                raise LookupError(f"{self.id}: occurrence {self.nth} of {self.old!r} not found in {self.path}")
        return text[:start] + self.new + text[start + len(self.old):]


MUTANTS = [
    # --- payout_rules.py: R2 eligibility, R3 amount --------------------------------------------
    Mutant("rules.max_payouts_5_to_6", PR, "MAX_PAYOUTS_PER_ORDER = 5", "MAX_PAYOUTS_PER_ORDER = 6"),
    Mutant("rules.min_interval_1_to_2", PR, "timedelta(minutes=1)", "timedelta(minutes=2)"),
    Mutant("rules.r2_1_count_ge_to_gt", PR, "f.order_active_count >= MAX", "f.order_active_count > MAX"),
    Mutant("rules.r2_2_lt_to_le", PR, "f.now < f.order_last_payout_at", "f.now <= f.order_last_payout_at"),
    Mutant("rules.r2_3_unusable_quota_allowed", PR, "(f.quota is None or not f.quota.usable)", "f.quota is None"),
    Mutant("rules.r2_3_remove_no_quota", PR, "out.append(Refusal(Code.NO_QUOTA))", "pass"),
    Mutant("rules.quota_usable_ignores_daily", PR, "bool(self.per_payout_fen) and bool(self.daily_fen)",
           "bool(self.per_payout_fen)"),
    Mutant("rules.r2_4_ge_to_gt", PR, "f.order_committed_fen >= f.order_paid_fen", "f.order_committed_fen > f.order_paid_fen"),
    Mutant("rules.r2_5_ge_to_gt", PR, "f.shop_used_today_fen >= f.shop_cap_fen", "f.shop_used_today_fen > f.shop_cap_fen"),
    Mutant("rules.r2_daily_used_up_removed", PR,
           'out.append(Refusal(Code.OVER_ACCOUNT_DAILY_LIMIT, {"remaining": 0, "limit": f.quota.daily_fen}))', "pass"),
    Mutant("rules.r2_arrears_blocker_removed", PR,
           'out.append(Refusal(Code.INSUFFICIENT_FUNDS, {"available": f.funds_available_fen, "arrears": f.arrears_fen}))',
           "pass", nth=0),
    Mutant("rules.r2_no_funds_le_to_lt", PR, "elif f.funds_available_fen <= 0:", "elif f.funds_available_fen < 0:"),
    Mutant("rules.r3_5_not_positive_le_to_lt", PR, "if amount_fen <= 0:", "if amount_fen < 0:"),
    Mutant("rules.r3_1_gt_to_ge", PR, "amount_fen > f.quota.per_payout_fen", "amount_fen >= f.quota.per_payout_fen"),
    Mutant("rules.r3_1_removed", PR,
           'out.append(Refusal(Code.OVER_PER_PAYOUT_LIMIT, {"limit": f.quota.per_payout_fen}))', "pass"),
    Mutant("rules.r3_2_gt_to_ge", PR, "amount_fen > a.account_remaining_fen", "amount_fen >= a.account_remaining_fen"),
    Mutant("rules.r3_3_gt_to_ge", PR, "amount_fen > a.shop_remaining_fen", "amount_fen >= a.shop_remaining_fen"),
    Mutant("rules.r3_4_gt_to_ge", PR, "amount_fen > f.funds_available_fen", "amount_fen >= f.funds_available_fen"),
    Mutant("rules.r3_4_arrears_refusal_removed", PR,
           'out.append(Refusal(Code.INSUFFICIENT_FUNDS, {"available": f.funds_available_fen, "arrears": f.arrears_fen}))',
           "pass", nth=1),
    Mutant("rules.r3_5_gt_to_ge", PR, "amount_fen > a.order_remaining_fen", "amount_fen >= a.order_remaining_fen"),
    Mutant("rules.order_remaining_minus_to_plus", PR, "f.order_paid_fen - f.order_committed_fen",
           "f.order_paid_fen + f.order_committed_fen"),
    Mutant("rules.shop_remaining_minus_to_plus", PR, "f.shop_cap_fen - f.shop_used_today_fen",
           "f.shop_cap_fen + f.shop_used_today_fen"),
    Mutant("rules.account_remaining_minus_to_plus", PR, "staff_quota.daily_fen - f.account_used_today_fen",
           "staff_quota.daily_fen + f.account_used_today_fen"),
    Mutant("rules.arrears_do_not_zero_funds", PR, "0 if f.arrears_fen else max(0, f.funds_available_fen)",
           "max(0, f.funds_available_fen)"),
    Mutant("rules.max_fen_min_to_max", PR, "return max(0, min(caps))", "return max(0, max(caps))"),
    Mutant("rules.max_fen_ignores_staff_caps", PR,
           "caps += [v for v in (self.per_payout_fen, self.account_remaining_fen) if v is not None]", "pass"),
    Mutant("rules.check_create_no_dedupe", PR, "if r.code not in seen]", "]"),
    # --- refund_rules.py: R10-R14, R22-R24 -----------------------------------------------------
    Mutant("refund.window_7_to_8_days", RR, "timedelta(days=7)", "timedelta(days=8)"),
    Mutant("refund.window_le_to_lt", RR, "now - paid_at <= WINDOW", "now - paid_at < WINDOW"),
    Mutant("refund.r10_certification_removed", RR, "out.append(Missing.CERTIFICATION)", "pass"),
    Mutant("refund.r10_setup_removed", RR, "out.append(Missing.SETUP)", "pass"),
    Mutant("refund.nothing_left_le_to_lt", RR, "if refundable_fen <= 0:\n        return ApplyRefusal.NOTHING_LEFT",
           "if refundable_fen < 0:\n        return ApplyRefusal.NOTHING_LEFT"),
    Mutant("refund.order_closed_removed", RR, "return ApplyRefusal.ORDER_CLOSED", "return None"),
    Mutant("refund.r24_refundable_minus_to_plus", RR, "paid_fen - (refunded_fen or 0)", "paid_fen + (refunded_fen or 0)"),
    Mutant("refund.r24_refundable_case_min_to_max", RR, "left = min(requested_fen, left)", "left = max(requested_fen, left)"),
    Mutant("refund.r24_refundable_may_go_negative", RR, "return max(0, left)", "return left"),
    Mutant("refund.goods_condition_missing_removed", RR, "out.append(ApplyRefusal.GOODS_CONDITION_MISSING)", "pass"),
    Mutant("refund.r14_goods_not_intact_removed", RR, "return Route.REVIEW, ReviewWhy.GOODS_NOT_INTACT", "pass"),
    Mutant("refund.r23_off_ignored", RR, "if not enabled:\n        return ReviewWhy.FAST_REFUND_OFF", "if False:\n        pass"),
    Mutant("refund.r23_window_ignored", RR, "if not in_window:\n        return ReviewWhy.OUTSIDE_WINDOW", "if False:\n        pass"),
    Mutant("refund.r24_full_ge_to_gt", RR, "RefundState.FULL if refunded_fen >= paid_fen", "RefundState.FULL if refunded_fen > paid_fen"),
    Mutant("refund.r24_fits_le_to_lt", RR, "0 < amount_fen <= paid_fen - refunded_fen", "0 < amount_fen < paid_fen - refunded_fen"),
    Mutant("refund.r24_fits_zero_allowed", RR, "0 < amount_fen <= paid_fen - refunded_fen", "0 <= amount_fen <= paid_fen - refunded_fen"),
    Mutant("refund.r24_fits_minus_to_plus", RR, "amount_fen <= paid_fen - refunded_fen", "amount_fen <= paid_fen + refunded_fen"),
    Mutant("refund.r13_advance_minus_to_plus", RR, "Funding(from_funds, amount_fen - from_funds)",
           "Funding(from_funds, amount_fen + from_funds)"),
    Mutant("refund.r13_fund_ignores_balance", RR, "max(0, min(amount_fen, available_fen))", "max(0, amount_fen)"),
    Mutant("refund.r13_recovery_min_to_max", RR, "max(0, min(topup_fen, arrears_fen))", "max(0, max(topup_fen, arrears_fen))"),
    Mutant("refund.r22_main_not_exempt", RR, "if actor_is_main:\n        return None", "if False:\n        return None"),
    Mutant("refund.r22_disabled_ignored", RR, "if not enabled or per_refund_fen is None", "if per_refund_fen is None"),
    Mutant("refund.r20_threshold_ge_to_gt", RR, "amount_fen >= approval_fen", "amount_fen > approval_fen"),
    Mutant("refund.r22_per_refund_gt_to_ge", RR, "if amount_fen > per_refund_fen:", "if amount_fen >= per_refund_fen:"),
    Mutant("refund.r22_daily_gt_to_ge", RR, "used_today_fen + amount_fen > daily_fen", "used_today_fen + amount_fen >= daily_fen"),
    Mutant("refund.r22_daily_plus_to_minus", RR, "used_today_fen + amount_fen > daily_fen", "used_today_fen - amount_fen > daily_fen"),
    # --- money.py: R16 ---------------------------------------------------------------------------
    Mutant("money.max_fen_plus_1", MO, "MAX_FEN = 9_999_999_999", "MAX_FEN = 10_000_000_000"),
    Mutant("money.too_large_gt_to_ge", MO, "if fen > MAX_FEN:", "if fen >= MAX_FEN:"),
    Mutant("money.zero_refusal_removed", MO, 'raise _error("not_positive")', "pass"),
    Mutant("money.zero_refused_even_if_allowed", MO, "if fen == 0 and not allow_zero:", "if fen == 0:"),
    Mutant("money.negative_refusal_removed", MO, 'raise _error("negative")', "pass"),
    Mutant("money.fullwidth_refusal_removed", MO, 'raise _error("fullwidth")', "pass"),
    Mutant("money.three_decimals_3_to_4", MO, r"\.\d{3,}$", r"\.\d{4,}$"),
    Mutant("money.yuan_times_100_to_10", MO, "int(integer) * 100", "int(integer) * 10"),
    Mutant("money.fen_pad_left", MO, '.ljust(2, "0")', '.rjust(2, "0")'),
    Mutant("money.ascii_check_removed", MO, "if not m or not s.isascii():", "if not m:"),
    Mutant("money.format_sign_lt_to_le", MO, 'sign = "-" if fen < 0 else ""', 'sign = "-" if fen <= 0 else ""'),
    Mutant("money.format_no_abs", MO, "yuan, cents = divmod(abs(fen), 100)\n    return f", "yuan, cents = divmod(fen, 100)\n    return f"),
    Mutant("money.format_cents_unpadded", MO, "{cents:02d}", "{cents:d}"),
    Mutant("money.format_no_grouping", MO, "{yuan:,}", "{yuan}"),
    Mutant("money.cn_zero_after_yuan_removed", MO, 'if yuan and not jiao:\n            out += "零"', 'if False:\n            out += "零"'),
    Mutant("money.cn_group_zero_1000_to_100", MO, "g < 1000", "g < 100"),
    Mutant("money.en_teens_20_to_21", MO, "if n >= 20:", "if n >= 21:"),
    # --- payout_controls.py: R20, R21 ------------------------------------------------------------
    Mutant("controls.r20_threshold_ge_to_gt", PC, "amount_fen >= threshold_fen", "amount_fen > threshold_fen"),
    Mutant("controls.r20_main_waits_too", PC, " and not requester_is_main", ""),
    Mutant("controls.r20_requester_may_decide", PC, "actor_id != requester_id and ", ""),
    Mutant("controls.r20_any_staff_may_decide", PC, "(actor_is_main or actor_is_approver)", "True"),
    Mutant("controls.r20_approver_ignored", PC, "(actor_is_main or actor_is_approver)", "actor_is_main"),
    Mutant("controls.r21_anyone_may_withdraw", PC, "if not (actor_is_main or actor_id == requester_id):\n        return False",
           "if False:\n        return False"),
    Mutant("controls.r21_withdraw_after_sent", PC, " and not ever_sent", ""),
    Mutant("controls.r21_withdraw_after_approval", PC, " and not approved)", ")"),
    Mutant("controls.r20_withdraw_awaiting_removed", PC, "status == PayoutStatus.AWAITING_APPROVAL or ", ""),
    Mutant("controls.r20_expiry_24_to_25h", PC, "timedelta(hours=24)", "timedelta(hours=25)"),
    Mutant("controls.r20_expiry_ge_to_gt", PC, "now - created_at >= APPROVAL_EXPIRES_AFTER", "now - created_at > APPROVAL_EXPIRES_AFTER"),
    Mutant("controls.r21_send_after_plus_to_minus", PC, "created_at + timedelta(seconds=undo_window_seconds)",
           "created_at - timedelta(seconds=undo_window_seconds)"),
    Mutant("controls.r21_max_600_to_601", PC, "MAX_UNDO_WINDOW_SECONDS = 600", "MAX_UNDO_WINDOW_SECONDS = 601"),
    Mutant("controls.r21_zero_window_refused", PC, "0 <= seconds", "0 < seconds"),
]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run_tiers(work: Path, env: dict) -> tuple[bool, str]:
    """(killed?, by what). Stops at the first tier that fails."""
    for name, args in TIERS:
        try:
            proc = subprocess.run([str(PYTHON), *PYTEST, *args], cwd=work, env=env, capture_output=True, text=True,
                                  timeout=TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            return True, f"{name}: timeout"
        if proc.returncode != 0:
            failed = [ln.split(" ", 1)[1] for ln in proc.stdout.splitlines() if ln.startswith("FAILED ")]
            return True, f"{name}: {failed[0].split(' - ')[0] if failed else 'exit ' + str(proc.returncode)}"
    return False, ""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-k", default="", help="only mutants whose id contains this text")
    ap.add_argument("--list", action="store_true", help="list the mutants and exit")
    ap.add_argument("--keep", action="store_true", help="keep the temporary copy (its path is printed)")
    opts = ap.parse_args()
    mutants = [m for m in MUTANTS if opts.k in m.id]
    if opts.list:
        for m in mutants:
            print(f"{m.id:45} {m.path}: {m.old!r} -> {m.new!r}")
        return 0

    work = Path(tempfile.mkdtemp(prefix="afterdesk-mutate-"))
    try:
        shutil.copytree(ROOT, work, ignore=SKIP, dirs_exist_ok=True)
        env = dict(os.environ, PYTHONPATH=str(work), PYTHONDONTWRITEBYTECODE="1")
        env.pop("CI", None)  # local run: PostgreSQL tests are deselected anyway
        # The copy, not the working tree, must be what the tests import.
        where = subprocess.run([str(PYTHON), "-c", "import webapp; print(webapp.__file__)"], cwd=work, env=env,
                               capture_output=True, text=True, check=True).stdout.strip()
        if not where.startswith(str(work)):
            print(f"refusing to run: webapp imports from {where}, not from the copy {work}", file=sys.stderr)
            return 2
        # The source moves on while this list stays: a mutant whose text is gone is reported, not run.
        stale = []
        for m in mutants:
            try:
                m.apply((work / m.path).read_text(encoding="utf-8"))
            except LookupError as exc:
                stale.append(m)
                print(f"not applicable (the source changed): {exc}")
        mutants = [m for m in mutants if m not in stale]

        started = time.monotonic()
        killed, why = run_tiers(work, env)
        if killed:
            print(f"the unmutated copy fails its tests ({why}); fix that first", file=sys.stderr)
            return 2
        print(f"baseline: the unmutated copy passes ({time.monotonic() - started:.0f}s)\n")

        rows = []
        for m in mutants:
            target = work / m.path
            original = target.read_bytes()
            digest = sha256(target)
            t0 = time.monotonic()
            try:
                target.write_text(m.apply(original.decode("utf-8")), encoding="utf-8")
                killed, why = run_tiers(work, env)
            finally:
                target.write_bytes(original)
                if sha256(target) != digest:
                    raise SystemExit(f"{target} was not restored (hash differs)")
            rows.append((m, killed, why, time.monotonic() - t0))
            print(f"{m.id:45} {'killed' if killed else 'SURVIVED':8} {time.monotonic() - t0:5.1f}s  {why}", flush=True)

        survivors = [m for m, k, _, _ in rows if not k]
        print(f"\n{len(rows) - len(survivors)}/{len(rows)} mutants killed in {time.monotonic() - started:.0f}s")
        print("\n| mutant | file | change | killed? | first failing test |")
        print("|---|---|---|---|---|")
        for m, k, why, _ in rows:
            first = [(text.strip().splitlines() or ["(nothing)"])[0][:50] for text in (m.old, m.new)]
            change = f"`{first[0]}` → `{first[1]}`"
            print(f"| {m.id} | {Path(m.path).name} | {change.replace('|', '¦')} | {'killed' if k else '**survived**'} "
                  f"| {why.replace('|', '¦')} |")
        return 1 if survivors or stale else 0
    finally:
        if opts.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
