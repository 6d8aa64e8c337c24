"""DESIGN.md: views read and write through services only. No module under webapp/web touches the
database session itself (the grep of issue 15, kept true by this test)."""
import pathlib
import re

WEB = pathlib.Path(__file__).resolve().parents[2] / "webapp" / "web"


def test_no_database_session_in_the_web_layer():
    offenders = [f"{path.relative_to(WEB.parent)}:{n}: {line.strip()}"
                 for path in sorted(WEB.rglob("*.py"))
                 for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                 if re.search(r"db\.session\.", line)]
    assert offenders == []
