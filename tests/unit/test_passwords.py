"""Passwords (ASVS 2.1): the common-password list shipped in the package, read lazily once,
case-insensitive; a common password with a few characters added or swapped; the login name in
any simple variant; control characters. And the free-text rule every note and name obeys."""
import pytest

from webapp.domain import accounts, text


def test_the_list_is_shipped_in_the_package_and_has_the_most_used_passwords():
    from importlib import resources

    path = resources.files("webapp.domain").joinpath("data", accounts.COMMON_PASSWORDS_FILE)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) >= 10_000 and len(set(lines)) == len(lines)
    assert lines[:4] == ["123456", "123456789", "qwerty", "password"]  # most used first
    assert all(line == line.lower() and line.strip() == line and line for line in lines)


def test_package_data_includes_the_list():
    """An installed wheel carries the file: pyproject's package-data names it."""
    import tomllib
    from pathlib import Path

    pyproject = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text(encoding="utf-8"))
    globs = pyproject["tool"]["setuptools"]["package-data"]["webapp"]
    assert "domain/data/*.txt" in globs


def test_the_list_is_read_once():
    accounts.common_passwords.cache_clear()
    first = accounts.common_passwords()
    assert accounts.common_passwords() is first
    assert accounts.common_passwords.cache_info().misses == 1


@pytest.mark.parametrize("password", [
    "1234567890", "qwertyuiop", "password123", "1qaz2wsx3edc", "iloveyou12", "woaini1314",  # on the list
    "PassWord123", "QWERTYUIOP", "1Q2W3E4R5T6Y",  # any case
    "aa12345678", "1234qwer!!",  # the few the list lacks
])
def test_common_passwords_are_refused_case_insensitively(password):
    assert "password_common" in accounts.password_problems(password, login="kefu01")


@pytest.mark.parametrize("password", [
    "P@ssw0rd2024", "dragon2024!!", "!!monkey12345", "Sunshine_1990", "1234567890dragon", "f00tball99",
])
def test_common_passwords_with_a_few_characters_added_or_swapped_are_refused(password):
    assert accounts.password_problems(password, login="kefu01") == ["password_common_variant"]


@pytest.mark.parametrize("password", ["kefu01-secure-9", "KEFU01xyz12345", "10ufek-harbour7", "k3fu0l-harbour7",
                                      "Kefu.01-harbour7"[::-1], "ke-fu-01-harbour7"])
def test_the_login_name_and_its_simple_variants_are_refused(password):
    assert "password_login" in accounts.password_problems(password, login="kefu01")


@pytest.mark.parametrize("password", ["tidal7orchard", "Correct-Horse-42", "晴天-海港-2048", "river kite 9 lantern"])
def test_good_passwords_pass(password):
    assert accounts.password_problems(password, login="kefu01") == []


@pytest.mark.parametrize("password", ["tidal7orchard\x00", "tidal7\torchard", "tidal7orchard\n", "tidal7\u202eorchard"])
def test_control_characters_are_refused_in_passwords(password):
    assert "password_control" in accounts.password_problems(password, login="kefu01")


def test_every_problem_has_a_message_that_says_why():
    assert "20,000" in accounts.MESSAGES["password_common"]
    for code in ("password_common", "password_common_variant", "password_login", "password_control",
                 "display_name_control"):
        assert accounts.MESSAGES[code]


@pytest.mark.parametrize("login", ["kefu01\n", "kefu01\r\n", "kefu\x0001", " kefu01", "kefu01 "])
def test_login_names_with_line_breaks_or_controls_are_refused(login):
    assert accounts.login_problems(login) == ["login_format"]


@pytest.mark.parametrize("name, ok", [("小王", True), ("Wang Xiaoming", True), ("a\u202eb", False), ("a\nb", False),
                                      ("a\x00b", False), ("a\tb", False), ("😀 客服", True)])
def test_display_names(name, ok):
    assert (accounts.display_name_problems(name) == []) == ok


@pytest.mark.parametrize("value, one_line, multiline", [
    ("运费差价", False, False), ("", False, False), ("line one\r\nline two\ttabbed", True, False),
    ("\x00", True, True), ("a\x1bb", True, True), ("\x7f", True, True), ("\x85", True, True),
    ("\u202eevil", True, True), ("\u2066x\u2069", True, True), ("\ud800", True, True), ("\u2028", True, False),
    ("emoji 😀 and ｆｕｌｌ width", False, False),
])
def test_free_text_rule(value, one_line, multiline):
    assert text.unsafe(value) is one_line
    assert text.unsafe(value, multiline=True) is multiline
