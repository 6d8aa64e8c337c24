"""Pure rules: no Flask, no database. Messages are marked with N_() for extraction and
translated at the edge (web layer) with gettext."""


def N_(message: str) -> str:
    """Mark a message for translation without translating it here."""
    return message
