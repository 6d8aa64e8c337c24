"""Keep the zh_CN catalog in step with the source, with Babel's own tools.

    python scripts/i18n.py            # extract, merge into messages.po, list what is untranslated
    python scripts/i18n.py --check    # extract only; exit 1 if any msgid lacks a zh_CN translation

Extraction is `pybabel extract -F babel.cfg` (babel.cfg says which files, with which extractor);
the merge is `pybabel update` (translations kept, no fuzzy guesses, obsolete entries dropped):

    pybabel extract -F babel.cfg -k _l -k lazy_gettext -c TRANSLATORS: --project AfterDesk \\
        --sort-output -o messages.pot .
    pybabel update -i messages.pot -o webapp/translations/zh/LC_MESSAGES/messages.po -l zh_CN \\
        -w 100 --no-fuzzy-matching --ignore-obsolete

What stays ours is the check: every extracted msgid has a zh_CN translation that is neither empty
nor fuzzy (`untranslated()`, run by tests/unit/test_i18n.py). The catalog (messages.po) is the
source of truth and is committed; the .pot is a temporary file; the compiled .mo is built by
`make install` / `make install-test` (`make catalogs`: pybabel compile), never committed.
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
MAPPING = ROOT / "babel.cfg"
# Folder "zh": Babel names zh_CN "zh_Hans_CN", and gettext falls back from that to "zh".
PO = ROOT / "webapp/translations/zh/LC_MESSAGES/messages.po"
# Beyond Babel's default keywords (_, gettext, ngettext, N_, pgettext ...): Flask-Babel's lazy ones.
KEYWORDS = ("_l", "lazy_gettext")
PO_WIDTH = 100


def pybabel(*args: str) -> None:
    """Run `pybabel <args>` from the repository root with this interpreter's Babel."""
    cmd = [sys.executable, "-m", "babel.messages.frontend", "-q", *args]
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"pybabel {' '.join(args)} failed ({result.returncode}):\n{result.stderr}{result.stdout}")


def extract_pot(pot: Path) -> None:
    """`pybabel extract -F babel.cfg` over the repository into `pot` (locations relative to the root)."""
    keywords = [arg for k in KEYWORDS for arg in ("-k", k)]
    pybabel("extract", "-F", str(MAPPING), *keywords, "-c", "TRANSLATORS:", "--project", "AfterDesk",
            "--sort-output", "-o", str(pot), ".")


def extract() -> Catalog:
    """The messages in the source and templates, as Babel extracts them (a template catalog)."""
    with tempfile.TemporaryDirectory() as tmp:
        pot = Path(tmp) / "messages.pot"
        extract_pot(pot)
        with pot.open("rb") as fh:
            return read_po(fh)


def update(pot: Path) -> None:
    """`pybabel update`: merge the template into messages.po, keeping every translation."""
    pybabel("update", "-i", str(pot), "-o", str(PO), "-l", "zh_CN", "-w", str(PO_WIDTH), "--no-fuzzy-matching",
            "--ignore-obsolete", *([] if PO.exists() else ["--init-missing"]))


def load() -> Catalog:
    with PO.open("rb") as fh:
        return read_po(fh, locale="zh_CN")


def untranslated(template: Catalog, po: Catalog) -> list[str]:
    """Our own check: msgids of `template` without a usable zh_CN translation in `po`."""
    missing = []
    for msg in template:
        if not msg.id:
            continue
        got = po.get(msg.id, context=msg.context)
        if got is None or not got.string or (isinstance(got.string, tuple) and not all(got.string)) or got.fuzzy:
            missing.append(msg.id if isinstance(msg.id, str) else msg.id[0])
    return missing


def main() -> int:
    if "--check" in sys.argv:
        missing = untranslated(extract(), load())
        for m in missing:
            print("untranslated:", m)
        return 1 if missing else 0
    with tempfile.TemporaryDirectory() as tmp:
        pot = Path(tmp) / "messages.pot"
        extract_pot(pot)
        PO.parent.mkdir(parents=True, exist_ok=True)
        update(pot)
        with pot.open("rb") as fh:
            template = read_po(fh)
    missing = untranslated(template, load())
    print(f"{len(template)} messages, {len(missing)} untranslated")
    for m in missing:
        print("  ", m)
    return 0


if __name__ == "__main__":
    sys.exit(main())
