"""Fill untranslated zh entries from a JSON object {msgid: translation}.

Run `python scripts/i18n.py` first (it merges new messages into the catalog), then
`python scripts/fill_zh.py FILE.json`, then `python scripts/i18n.py --check`.
"""
import json
import sys
from io import BytesIO
from pathlib import Path

from babel.messages.pofile import read_po, write_po

PO = Path(__file__).resolve().parent.parent / "webapp/translations/zh/LC_MESSAGES/messages.po"
table = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
with PO.open("rb") as fh:
    catalog = read_po(fh, locale="zh_CN")
filled = 0
for message in catalog:
    if message.id and message.id in table and not message.string:
        message.string = table[message.id]
        filled += 1
buf = BytesIO()
write_po(buf, catalog, width=100, sort_output=True, ignore_obsolete=True)
PO.write_bytes(buf.getvalue())
print(f"filled {filled}")
