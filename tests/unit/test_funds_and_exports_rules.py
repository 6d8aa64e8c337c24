"""Pure rules of issue 13 points 4 and 5, no database: top-up bounds, what each movement does to
the available balance (a literal table), the signed amount, how each kind of export cell is
written, and the 14-day chart's geometry against the daily cap."""
from datetime import date, datetime, timedelta, timezone

import pytest

from webapp.domain.funds_rules import TOPUP_MAX_FEN, TOPUP_MIN_FEN, topup_problem
from webapp.models.funds import Movement, available_delta

# movement -> what ¥1.00 of it does to the available balance (written by hand, not derived)
AVAILABLE_TRUTH = {
    "topup": +100,  # outside -> available
    "hold": -100,  # available -> held (a payout created)
    "capture": 0,  # held -> paid out (paid from the held money)
    "release": +100,  # held -> available (a payout failed)
    "refund": -100,  # available -> refunded
    "advance": 0,  # the platform pays the shortfall straight to the buyer (arrears grow)
    "recover": -100,  # available -> advance (arrears paid back)
}


def test_every_movement_has_a_row_in_the_truth_table():
    assert set(AVAILABLE_TRUTH) == {m.value for m in Movement}


@pytest.mark.parametrize("movement", list(AVAILABLE_TRUTH))
def test_what_a_movement_does_to_the_available_balance(movement):
    assert available_delta(movement, 100) == AVAILABLE_TRUTH[movement]


@pytest.mark.parametrize("fen, problem", [
    (0, "below_min"), (99, "below_min"), (100, None), (12_345, None), (100_000_000, None), (100_000_001, "above_max"),
])
def test_top_up_bounds(fen, problem):
    assert (TOPUP_MIN_FEN, TOPUP_MAX_FEN) == (100, 100_000_000)
    assert topup_problem(fen) == problem


def test_every_memo_code_and_top_up_failure_has_words():
    from webapp.models.funds import Memo
    from webapp.web.messages import LEDGER_MEMO_LABELS, memo_text

    assert set(LEDGER_MEMO_LABELS) == set(Memo)
    assert LEDGER_MEMO_LABELS["arrears_recovered"] == "Arrears paid back from the top-up"  # found by the stored text
    assert memo_text("left by an old version") == "left by an old version" and memo_text("") == ""


def test_signed_amounts_use_a_real_minus_sign():
    from webapp.web.settings.funds import signed_fen

    assert signed_fen(125_050) == "+¥1,250.50"
    assert signed_fen(-700) == "\u2212¥7.00"
    assert signed_fen(0) == "¥0.00"


@pytest.mark.parametrize("kind, value, written", [
    ("ORDER_NO", "6926000000000000019", '="6926000000000000019"'),
    ("ORDER_NO", '=1+"x"', "'=1+\"x\""),  # not an order number: guarded like typed text, never wrapped
    ("MONEY", 1250, "12.50"),
    ("MONEY", -700, "-7.00"),
    ("MONEY", 0, "0.00"),
    ("TEXT", "=SUM(A1)", "'=SUM(A1)"),
    ("TEXT", "+1", "'+1"),
    ("TEXT", "-1", "'-1"),
    ("TEXT", "@x", "'@x"),
    ("TEXT", "\tx", "'\tx"),
    ("TEXT", "\rx", "'\rx"),
    ("TEXT", "张三", "张三"),
    ("TEXT", None, ""),
    ("NUMBER", 42, "42"),
    ("TIME", datetime(2026, 11, 23, 16, 30, tzinfo=timezone.utc), "2026-11-24 00:30:00"),  # shop-local (R17)
])
def test_csv_cells(kind, value, written):
    from webapp.web.exports import Kind, _csv_cell

    assert _csv_cell(Kind[kind], value) == written


def test_file_name_stamps_are_shop_local():
    from webapp.web.exports import local_stamp

    assert local_stamp(datetime(2026, 11, 23, 16, 30, tzinfo=timezone.utc)) == "20261124-003000"


def _series(totals):
    first = date(2026, 11, 10)
    return [(first + timedelta(days=i), {"succeeded": fen}) for i, fen in enumerate(totals)]


def test_the_chart_puts_the_cap_to_scale_above_small_days():
    from webapp.web.payouts.charts import bars

    chart = bars(_series([0] * 13 + [375_000]), width=320, height=96, gap=4, cap_fen=1_500_000)
    assert chart.cap_y == 14.0  # the cap is the ceiling: its line at the top margin
    today = chart.bars[-1].rects[0]
    assert today.h == pytest.approx(82 * 0.25, abs=0.1) and today.y == pytest.approx(96 - 20.5, abs=0.1)
    assert chart.peak == 375_000 and chart.peak_pct_of_cap == "25" and chart.cap_on_scale
    assert all(not b.rects for b in chart.bars[:-1])


def test_a_day_above_the_cap_reaches_the_top_and_the_cap_line_is_below_it():
    from webapp.web.payouts.charts import bars

    chart = bars(_series([200_000, 50_000]), width=320, height=96, gap=4, cap_fen=100_000)
    assert chart.bars[0].rects[0].y == 14.0 and chart.cap_y == pytest.approx(96 - 41.0, abs=0.1)
    assert chart.peak_pct_of_cap == "200"


def test_days_far_below_the_cap_are_scaled_to_the_busiest_day_and_the_cap_is_marked_off_the_scale():
    from webapp.web.payouts.charts import bars

    chart = bars(_series([0] * 12 + [1_550, 3_100]), width=320, height=96, gap=4, cap_fen=1_500_000)
    assert not chart.cap_on_scale and chart.cap_y == 1.5  # above the plot, not at a made-up height
    today, yesterday = chart.bars[-1].rects[0], chart.bars[-2].rects[0]
    assert today.y == 14.0 and yesterday.h == pytest.approx(41.0, abs=0.1)
    assert chart.peak_pct_of_cap == "<1"
    at_a_fifth = bars(_series([300_000]), width=320, height=96, gap=4, cap_fen=1_500_000)
    assert at_a_fifth.cap_on_scale and at_a_fifth.cap_y == 14.0 and at_a_fifth.peak_pct_of_cap == "20"
    assert bars(_series([0] * 14), cap_fen=1_500_000).cap_on_scale  # no payouts: the cap to scale, no bars


def test_without_a_cap_or_payouts_the_chart_is_empty_and_has_no_line():
    from webapp.web.payouts.charts import bars

    chart = bars(_series([0] * 14), width=320, height=96, gap=4)
    assert chart.cap_y is None and chart.peak == 0 and all(not b.rects for b in chart.bars)
