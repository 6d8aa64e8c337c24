"""Free text a person typed (a note to the buyer, a reason, a display name): which characters it
may hold. Pure: the forms and services ask here, and the field shows the error with what was
typed kept (ASVS 5.1.3, 5.1.4).

Refused: control characters (C0 and C1, DEL; line breaks and tabs too in one-line text), the
bidirectional overrides and isolates (U+202A-U+202E, U+2066-U+2069: they make shown text read
differently from what is stored, e.g. an order number or an amount reversed), and lone surrogates
(not text at all)."""
from __future__ import annotations

import re

from . import N_

_ALWAYS = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff"
_MULTILINE_BAD = re.compile(f"[{_ALWAYS}]")
_ONE_LINE_BAD = re.compile(f"[{_ALWAYS}\t\n\r\u2028\u2029]")

CONTROL_MESSAGE = N_("Remove the control characters (such as line breaks, tabs or invisible direction marks) from this text.")
CONTROL_MESSAGE_MULTILINE = N_("Remove the control characters (such as invisible direction marks) from this text.")


def unsafe(text: str | None, *, multiline: bool = False) -> bool:
    """Whether `text` holds a character no person means to type here (see the module doc).
    `multiline` text (a textarea) may hold line breaks and tabs."""
    return bool(text) and (_MULTILINE_BAD if multiline else _ONE_LINE_BAD).search(text or "") is not None


def message(*, multiline: bool = False) -> str:
    """The (untranslated) message for `unsafe` text."""
    return CONTROL_MESSAGE_MULTILINE if multiline else CONTROL_MESSAGE
