"""The pure rules import with the standard library alone: no Flask, no SQLAlchemy, no Babel.

`webapp/__init__.py` is light (the factory lives in `webapp/app.py`), so importing
`webapp.domain.*` (or the channel protocol the simulator shares) pulls in nothing else. Checked in
a fresh interpreter, since this test process has long imported Flask.
"""
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = ("flask", "sqlalchemy", "babel", "werkzeug", "jinja2", "markupsafe", "click", "wtforms", "alembic")
DOMAIN = sorted(f"webapp.domain.{m.name}" for m in pkgutil.iter_modules([str(ROOT / "webapp/domain")]))
LIGHT = [*DOMAIN, "webapp.channel", "webapp.channel.protocol"]


def _newly_imported(modules: list[str], *flags: str) -> list[str]:
    probe = (
        "import json, sys\n"
        "before = set(sys.modules)\n"
        f"for name in {modules!r}:\n"
        "    __import__(name)\n"
        "print(json.dumps(sorted(set(sys.modules) - before)))\n"
    )
    result = subprocess.run([sys.executable, *flags, "-c", probe], cwd=ROOT, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_every_domain_module_is_checked():
    assert {"webapp.domain.payout_rules", "webapp.domain.refund_rules", "webapp.domain.states", "webapp.domain.money",
            "webapp.domain.calendar", "webapp.domain.permissions", "webapp.domain.payout_controls",
            "webapp.domain.accounts"} <= set(DOMAIN)


def test_domain_imports_neither_flask_nor_sqlalchemy_nor_babel():
    loaded = _newly_imported(LIGHT)
    assert set(LIGHT) <= set(loaded)  # the probe really imported them, fresh
    heavy = [m for m in loaded if m.split(".")[0].lower().startswith(FORBIDDEN)]
    assert heavy == []
    not_stdlib = sorted(top for top in {m.split(".")[0] for m in loaded} - set(sys.stdlib_module_names) - {"webapp"}
                        if not top.startswith("_sysconfigdata"))  # the platform's stdlib sysconfig data
    assert not_stdlib == []  # the standard library and our own package, nothing else


@pytest.mark.parametrize("module", LIGHT)
def test_imports_without_site_packages(module):
    """`python -S`: no site-packages on the path at all, so any third-party import would fail."""
    assert module in _newly_imported([module], "-S")


def test_the_factory_is_still_reachable_from_the_package():
    probe = "import webapp, webapp.app; assert webapp.create_app is webapp.app.create_app; print('ok')"
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "ok", result.stderr
