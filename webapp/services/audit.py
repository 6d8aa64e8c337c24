"""R19: every money movement and every quota or setting change is recorded (append-only)."""
from __future__ import annotations

import json
from datetime import datetime

from ..db import AnySession
from ..models import AuditEvent


def actor_of(account) -> tuple[str, int | None]:
    if account is None:
        return "system", None
    kind = "buyer" if account.__class__.__name__ == "Buyer" else "merchant"
    return kind, account.id


def record(session: AnySession, *, shop_id: int | None, actor, action: str, target_type: str, target_id,
           now: datetime, before: dict | None = None, after: dict | None = None, ip: str | None = None) -> AuditEvent:
    kind, actor_id = actor_of(actor)
    event = AuditEvent(
        shop_id=shop_id, actor_kind=kind, actor_id=actor_id, action=action, target_type=target_type,
        target_id=str(target_id), before=json.dumps(before, ensure_ascii=False, default=str) if before is not None else None,
        after=json.dumps(after, ensure_ascii=False, default=str) if after is not None else None, ip=ip, created_at=now,
    )
    session.add(event)
    return event
