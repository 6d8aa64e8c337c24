"""zh_CN first, English second: every user-visible string in the source has a zh_CN translation.

Extraction is Babel's own (`pybabel extract -F babel.cfg`, run by scripts/i18n.py); the check that
every msgid has a usable translation is ours (`untranslated`)."""
import importlib.util
from pathlib import Path

from babel.messages.catalog import Catalog

ROOT = Path(__file__).resolve().parents[2]


def _i18n():
    spec = importlib.util.spec_from_file_location("i18n", ROOT / "scripts/i18n.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_every_message_has_a_chinese_translation():
    i18n = _i18n()
    template = i18n.extract()
    assert len(template) > 50  # the extractor really read the source and templates
    assert i18n.untranslated(template, i18n.load()) == []


def test_extraction_follows_babel_cfg_and_our_keywords():
    i18n = _i18n()
    files = {filename for msg in i18n.extract() for filename, _line in msg.locations}
    assert any(f.startswith("templates/") and f.endswith(".html") for f in files)  # [jinja2: templates/**.html]
    assert any(f.startswith("webapp/web/") and f.endswith(".py") for f in files)  # [python: webapp/**.py], _()
    assert any(f.startswith("webapp/domain/") for f in files)  # N_() in the pure rules
    assert any(f.endswith("forms.py") for f in files)  # _l() (lazy_gettext) in the forms
    assert not any(f.startswith(("tests/", "bench/", "channelsim/", "scripts/")) for f in files)


def test_the_check_flags_missing_empty_and_fuzzy_translations():
    i18n = _i18n()
    template = Catalog()
    for msgid in ("done", "missing", "empty", "fuzzy", ("%(n)s item", "%(n)s items"), ("one", "many")):
        template.add(msgid)
    po = Catalog(locale="zh_CN")
    po.add("done", "完成")
    po.add("empty", "")
    po.add("fuzzy", "模糊", flags=["fuzzy"])
    po.add(("%(n)s item", "%(n)s items"), ("%(n)s 项",))
    po.add(("one", "many"), ("",))
    assert i18n.untranslated(template, po) == ["missing", "empty", "fuzzy", "one"]


def test_placeholders_survive_translation():
    import re

    i18n = _i18n()
    for msg in i18n.load():
        if msg.id and isinstance(msg.id, str):
            assert set(re.findall(r"%\((\w+)\)s", msg.id)) == set(re.findall(r"%\((\w+)\)s", msg.string)), msg.id
