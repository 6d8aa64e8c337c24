"""zh_CN first, English second: every user-visible string in the source has a zh_CN translation."""
import importlib.util
from pathlib import Path

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


def test_placeholders_survive_translation():
    import re

    i18n = _i18n()
    for msg in i18n.load():
        if msg.id and isinstance(msg.id, str):
            assert set(re.findall(r"%\((\w+)\)s", msg.id)) == set(re.findall(r"%\((\w+)\)s", msg.string)), msg.id
