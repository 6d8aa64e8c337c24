"""R6: the payout state machine as a literal truth table. The expected outcomes are written out
here, not derived from the table under test, so a change to PAYOUT_TRANSITIONS must change this
file too. Every status write goes through services.payouts.move(), which checks this table."""
import pytest

from tests.support import assert_transition, assert_truth_table_covers_every_pair
from webapp.domain.states import PAYOUT_TRANSITIONS, PayoutStatus

A, P, R, S, F, C = "awaiting_approval", "pending", "processing", "succeeded", "failed", "cancelled"

# (from, to): allowed?   and why
TRUTH = {
    (A, A): False,  # no self-moves
    (A, P): True,   # R20 approved: into the queue
    (A, R): False,  # never sent before it is approved
    (A, S): False,
    (A, F): False,
    (A, C): True,   # R20 rejected, withdrawn by the requester, or not decided within 24 h
    (P, A): False,  # approval is asked at creation only
    (P, P): False,
    (P, R): True,   # a worker claims it; or the channel says it is paying an earlier request (adopt)
    (P, S): True,   # the channel paid an earlier request whose answer was lost
    (P, F): True,   # the channel said no, or the reconciler gave up with no request able to land
    (P, C): True,   # R21 withdrawn before any request left
    (R, A): False,
    (R, P): True,   # a transient channel error, or a dead worker's claim: back to the queue
    (R, R): False,
    (R, S): True,
    (R, F): True,
    (R, C): False,  # a request may be at the channel: only the channel's word ends it
    (S, A): False,  # final: money captured, never moves again
    (S, P): False,
    (S, R): False,
    (S, S): False,
    (S, F): False,
    (S, C): False,
    (F, A): False,  # final: money released, never moves again (a new payout is a new row)
    (F, P): False,
    (F, R): False,
    (F, S): False,
    (F, F): False,
    (F, C): False,
    (C, A): False,  # final: money released
    (C, P): False,
    (C, R): False,
    (C, S): False,
    (C, F): False,
    (C, C): False,
}


def test_r6_truth_table_covers_every_pair():
    assert_truth_table_covers_every_pair(TRUTH, PayoutStatus)


@pytest.mark.parametrize(("current", "target"), list(TRUTH))
def test_r6_payout_transition(current, target):
    assert_transition(PAYOUT_TRANSITIONS, PayoutStatus, current, target, TRUTH[(current, target)])


def test_r6_move_is_the_only_status_writer():
    """No module but services/payouts.py move() assigns a payout's status."""
    import pathlib
    import re

    root = pathlib.Path(__file__).resolve().parents[2] / "webapp"
    writers = []
    for path in root.rglob("*.py"):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.search(r"\b(p|payout)\.status\s*=[^=]", line):
                writers.append(f"{path.relative_to(root)}:{n}: {line.strip()}")
    assert len(writers) == 1 and writers[0].startswith("services/payouts.py:"), writers
    assert writers[0].endswith("payout.status = target"), writers
