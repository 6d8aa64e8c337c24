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


SERVICES = WEB.parent / "services"


def test_services_take_the_session_they_work_in():
    """One session convention (issue 15): every service function, read or write, is handed the
    session it works in; none reaches for the global one."""
    offenders = [f"{path.relative_to(WEB.parent)}:{n}: {line.strip()}"
                 for path in sorted(SERVICES.rglob("*.py"))
                 for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                 if re.search(r"\bdb\.session\b|import db\b|extensions import .*\bdb\b", line)]
    assert offenders == []


def test_templates_compare_page_steps_and_statuses_against_enums():
    """Rules once (issue 15): a template asks `mode == FlowMode.EMBED`, never `mode == 'embed'`."""
    templates = WEB.parents[1] / "templates"
    literal = re.compile(r"\b(mode|step|status|role)\s*(==|!=)\s*['\"]|['\"]\s*(==|!=)\s*(mode|step|status|role)\b")
    offenders = [f"{path.relative_to(templates)}:{n}: {line.strip()}"
                 for path in sorted(templates.rglob("*.html"))
                 for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                 if literal.search(line)]
    assert offenders == []
