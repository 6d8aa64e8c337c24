"""The 14-day payouts chart as plain geometry for a server-rendered SVG (no JavaScript), with the
shop's daily cap (R2.5) as a labelled line. When the busiest day reaches at least a fifth of the
cap, everything is drawn to one scale and the line sits where the cap is, so a bar shows how close
the shop came to it. When every day is far below the cap, bars drawn to the cap's scale would be a
flat line of pixels: the bars are scaled to the busiest day instead and the cap line is drawn
above them, labelled as off the scale (never at a height that would misstate it)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from ...domain.states import PayoutStatus

# Stack order, bottom to top, with the CSS class that colours each status. The statuses that count
# against the daily cap (R2.5: awaiting approval, pending, processing, succeeded) come first, so the
# part of a bar below the cap line is what the cap measures; failed and cancelled sit on top.
STACK = ((PayoutStatus.SUCCEEDED, "bar-ok"), (PayoutStatus.PROCESSING, "bar-busy"), (PayoutStatus.PENDING, "bar-wait"),
         (PayoutStatus.AWAITING_APPROVAL, "bar-wait"), (PayoutStatus.FAILED, "bar-bad"), (PayoutStatus.CANCELLED, "bar-off"))
TOP_MARGIN = 14  # room above the highest line for the cap's label
ON_SCALE_SHARE = 5  # the cap is drawn to scale when the busiest day is at least 1/5 of it


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    w: float
    h: float
    css: str
    status: str
    fen: int


@dataclass(frozen=True)
class Bar:
    day: date
    label: str
    total_fen: int
    rects: list[Rect]
    x: float


@dataclass(frozen=True)
class Chart:
    bars: list[Bar]
    peak: int  # the highest day's total (fen), 0 without payouts
    cap_fen: int | None  # the daily cap drawn, if any
    cap_y: float | None  # where its line is
    width: int
    height: int  # the baseline's y
    cap_on_scale: bool = True  # False: the cap is far above every day; its line marks it off the scale

    @property
    def peak_pct_of_cap(self) -> str | None:
        """The busiest day as a share of the cap, for people: "25", "120", "<1" (never a bare 0)."""
        if not self.cap_fen:
            return None
        share = self.peak * 100 / self.cap_fen
        return "<1" if 0 < share < 1 else str(round(share))


def bars(series: list[tuple[date, dict[str, int]]], width: int = 560, height: int = 140, gap: int = 6,
         cap_fen: int | None = None) -> Chart:
    """Stacked bars per day under TOP_MARGIN: to the cap's scale, or (every day far below the cap)
    to the busiest day's, the cap then marked above the bars."""
    peak = max([sum(v.values()) for _, v in series] + [0])
    on_scale = not cap_fen or peak == 0 or peak * ON_SCALE_SHARE >= cap_fen
    ceiling = max(peak, cap_fen or 0, 1) if on_scale else peak
    plot = height - TOP_MARGIN
    slot = width / max(1, len(series))
    w = slot - gap
    out = []
    for i, (day, values) in enumerate(series):
        x = i * slot + gap / 2
        y = float(height)
        rects = []
        for status, css in STACK:
            fen = values.get(status, 0)
            if fen:
                h = max(1.0, fen / ceiling * plot)
                y -= h
                rects.append(Rect(round(x, 1), round(y, 1), round(w, 1), round(h, 1), css, status, fen))
        out.append(Bar(day, day.strftime("%m-%d"), sum(values.values()), rects, round(x + w / 2, 1)))
    if not cap_fen:
        cap_y = None
    elif on_scale:
        cap_y = round(height - cap_fen / ceiling * plot, 1)
    else:
        cap_y = 1.5  # above the plot, in the top margin: off the bars' scale
    return Chart(out, peak, cap_fen or None, cap_y, width, height, cap_on_scale=on_scale)
