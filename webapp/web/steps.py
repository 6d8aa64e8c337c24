"""The steps and places of the multi-step pages, as enums: views pass them and templates compare
against them (registered as template globals), so no page flow is a bare string in two places."""
from __future__ import annotations

from enum import StrEnum


class FlowMode(StrEnum):
    """Where the flow is shown: the order or after-sales page, the payout workspace, the chat panel."""

    SECTION = "section"
    PAGE = "page"
    EMBED = "embed"

    @classmethod
    def of(cls, value: str | None) -> FlowMode:
        """The mode a form or query names; anything else is the order-page section."""
        return cls(value) if value is not None and value in cls._value2member_map_ else cls.SECTION


class FlowStep(StrEnum):
    AMOUNT = "amount"
    REVIEW = "review"
    DONE = "done"


class SettlementStep(StrEnum):
    """结算设置: fill in the refund note, then review it as the buyer will see it before confirming."""

    FILL = "fill"
    REVIEW = "review"
