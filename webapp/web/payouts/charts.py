"""The 14-day payouts chart as plain geometry for a server-rendered SVG (no JavaScript)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from ...domain.states import PayoutStatus

# Stack order, bottom to top, with the CSS class that colours each status.
STACK = ((PayoutStatus.SUCCEEDED, "bar-ok"), (PayoutStatus.PROCESSING, "bar-busy"), (PayoutStatus.PENDING, "bar-wait"),
         (PayoutStatus.AWAITING_APPROVAL, "bar-wait"), (PayoutStatus.FAILED, "bar-bad"), (PayoutStatus.CANCELLED, "bar-off"))


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


def bars(series: list[tuple[date, dict[str, int]]], width: int = 560, height: int = 140, gap: int = 6) -> tuple[list[Bar], int]:
    peak = max([sum(v.values()) for _, v in series] + [1])
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
                h = max(1.0, fen / peak * height)
                y -= h
                rects.append(Rect(round(x, 1), round(y, 1), round(w, 1), round(h, 1), css, status, fen))
        out.append(Bar(day, day.strftime("%m-%d"), sum(values.values()), rects, round(x + w / 2, 1)))
    return out, peak
