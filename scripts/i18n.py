"""Keep the zh_CN catalog in step with the source.

    python scripts/i18n.py            # extract, merge into messages.po, list what is untranslated
    python scripts/i18n.py --check    # exit 1 if any msgid lacks a zh_CN translation

The catalog (messages.po) is the source of truth and is committed; the compiled .mo is built by
`make install` / `make install-test` (pybabel compile), never committed.
"""
from __future__ import annotations

import sys
from io import BytesIO
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
# Folder "zh": Babel names zh_CN "zh_Hans_CN", and gettext falls back from that to "zh".
PO = ROOT / "webapp/translations/zh/LC_MESSAGES/messages.po"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None, "N_": None}
METHODS = [("webapp/**.py", "python"), ("templates/**.html", "jinja2")]


def extract() -> Catalog:
    catalog = Catalog(project="AfterDesk")
    for sub in ("webapp", "templates"):
        method_map = [(pattern.split("/", 1)[1], method) for pattern, method in METHODS if pattern.startswith(sub)]
        for filename, lineno, message, comments, context in extract_from_dir(
            ROOT / sub, method_map=method_map, keywords=KEYWORDS, comment_tags=("TRANSLATORS:",)
        ):
            catalog.add(message, None, [(f"{sub}/{filename}", lineno)], auto_comments=comments, context=context)
    return catalog


def load() -> Catalog:
    with PO.open("rb") as fh:
        return read_po(fh, locale="zh_CN")


def untranslated(template: Catalog, po: Catalog) -> list[str]:
    missing = []
    for msg in template:
        if not msg.id:
            continue
        got = po.get(msg.id, context=msg.context)
        if got is None or not got.string or (isinstance(got.string, tuple) and not all(got.string)) or got.fuzzy:
            missing.append(msg.id if isinstance(msg.id, str) else msg.id[0])
    return missing


def main() -> int:
    template = extract()
    if "--check" in sys.argv:
        missing = untranslated(template, load())
        for m in missing:
            print("untranslated:", m)
        return 1 if missing else 0
    po = load() if PO.exists() else Catalog(locale="zh_CN", project="AfterDesk")
    po.update(template, no_fuzzy_matching=True)
    PO.parent.mkdir(parents=True, exist_ok=True)
    buf = BytesIO()
    write_po(buf, po, width=100, omit_header=False, sort_output=True, ignore_obsolete=True)
    PO.write_bytes(buf.getvalue())
    missing = untranslated(template, po)
    print(f"{len(template)} messages, {len(missing)} untranslated")
    for m in missing:
        print("  ", m)
    return 0


if __name__ == "__main__":
    sys.exit(main())
