"""Two-factor sign-in rules (issue 12 point 3; ASVS 2.8, 2.6): TOTP codes checked against pyotp (the
reference the authenticator apps agree with), the ±1 step drift window, replays refused, recovery
codes and what people type for them, who must use two-factor, the 5 minutes between password and code."""
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, unquote, urlsplit

import pyotp
import pytest

from webapp.domain import two_factor as rules
from webapp.domain.permissions import Role
from webapp.domain.two_factor import Outcome

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
T = datetime(2026, 11, 23, 2, 0, 15, tzinfo=timezone.utc)  # 15 s into its 30-second step
STEP = int(T.timestamp()) // 30


def code(at: datetime, secret: str = SECRET) -> str:
    return pyotp.TOTP(secret).at(at)


# -- TOTP ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("offset", [-30, -1, 0, 29, 60, 3_600, -86_400])
def test_codes_are_those_of_rfc_6238_as_pyotp_computes_them(offset):
    at = T + timedelta(seconds=offset)
    assert rules.code_at(SECRET, rules.time_step(at)) == code(at)


def test_rfc_6238_test_vector():
    """RFC 6238 appendix B, SHA-1: at 59 s the 8-digit code is 94287082 (6 digits: its last six)."""
    secret = rules.secret_from_bytes(b"12345678901234567890")
    assert rules.code_at(secret, 59 // 30) == "287082"


@pytest.mark.parametrize("drift, accepted", [(-60, False), (-46, False), (-45, True), (-30, True), (0, True),
                                             (30, True), (44, True), (45, False), (60, False)])
def test_a_code_is_accepted_one_step_either_side_and_no_further(drift, accepted):
    """The code of the instant `drift` seconds from now. T is 15 s into its step, so -45 s is the
    first second of the step before and +44 s the last of the step after; -46 and +45 are two
    steps away."""
    outcome, step = rules.check_code(SECRET, code(T + timedelta(seconds=drift)), T, None)
    assert (outcome == Outcome.ACCEPTED) is accepted
    if accepted:
        assert step == rules.time_step(T + timedelta(seconds=drift))
    else:
        assert outcome == Outcome.WRONG and step is None


def test_a_code_whose_step_was_used_is_refused_as_a_replay():
    outcome, step = rules.check_code(SECRET, code(T), T, None)
    assert outcome == Outcome.ACCEPTED and step == STEP
    assert rules.check_code(SECRET, code(T), T, STEP) == (Outcome.REUSED, None)
    assert rules.check_code(SECRET, code(T), T + timedelta(seconds=10), STEP) == (Outcome.REUSED, None)
    # an earlier step's code (still in the window) after a later one was used: refused too
    assert rules.check_code(SECRET, code(T - timedelta(seconds=30)), T, STEP) == (Outcome.REUSED, None)
    # the next step's code is fine
    later = T + timedelta(seconds=30)
    assert rules.check_code(SECRET, code(later), later, STEP) == (Outcome.ACCEPTED, STEP + 1)


def test_a_later_step_used_ahead_refuses_the_current_one():
    """A code of the next step (a phone clock a little fast) moves the last used step on: the current
    step's code is refused afterwards, never two codes of one window."""
    ahead = T + timedelta(seconds=30)
    assert rules.check_code(SECRET, code(ahead), T, None) == (Outcome.ACCEPTED, STEP + 1)
    assert rules.check_code(SECRET, code(T), T, STEP + 1) == (Outcome.REUSED, None)


@pytest.mark.parametrize("typed, outcome", [
    ("", Outcome.MISSING), ("   ", Outcome.MISSING), (None, Outcome.MISSING),
    ("12345", Outcome.MALFORMED), ("1234567", Outcome.MALFORMED), ("12a456", Outcome.MALFORMED),
    ("١٢٣٤٥٦", Outcome.MALFORMED),  # Arabic-Indic digits are digits, but no authenticator shows them
    ("x" * 64, Outcome.MALFORMED),
])
def test_what_is_not_a_code_says_so(typed, outcome):
    assert rules.check_code(SECRET, typed, T, None) == (outcome, None)


def test_a_wrong_code_of_the_right_shape_is_wrong():
    right = code(T)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    assert rules.check_code(SECRET, wrong, T, None) == (Outcome.WRONG, None)


@pytest.mark.parametrize("typed", ["{}", " {} ", "{a} {b}", "{a}-{b}", "\u3000{}\u3000"])
def test_codes_typed_with_spaces_dashes_or_full_width_digits_are_read(typed):
    right = code(T)
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in right)
    for digits in (right, full_width):
        text = typed.format(digits, a=digits[:3], b=digits[3:])
        assert rules.normalize_code(text) == right
        assert rules.check_code(SECRET, text, T, None) == (Outcome.ACCEPTED, STEP)


def test_the_secret_is_160_random_bits_in_base32():
    secret = rules.secret_from_bytes(bytes(range(20)))
    assert len(secret) == 32 and secret.isalnum() and secret == secret.upper()
    assert pyotp.TOTP(secret).at(T) == rules.code_at(secret, STEP)


def test_the_provisioning_uri_names_the_issuer_and_the_login():
    uri = rules.provisioning_uri(SECRET, "main-a")
    parts = urlsplit(uri)
    assert (parts.scheme, parts.netloc) == ("otpauth", "totp")
    assert unquote(parts.path) == "/AfterDesk:main-a"
    query = parse_qs(parts.query)
    assert query["secret"] == [SECRET] and query["issuer"] == ["AfterDesk"]
    assert query["digits"] == ["6"] and query["period"] == ["30"] and query["algorithm"] == ["SHA1"]
    # and an app reading it makes the same codes (pyotp parses the URI as the apps do)
    parsed = pyotp.parse_uri(uri)
    assert parsed.issuer == "AfterDesk" and parsed.name == "main-a" and parsed.at(T) == code(T)


def test_the_secret_is_shown_in_groups_of_four():
    assert rules.grouped(SECRET) == "JBSW Y3DP EHPK 3PXP JBSW Y3DP EHPK 3PXP"


# -- recovery codes --------------------------------------------------------------------------------

def test_a_recovery_code_is_80_bits_as_four_groups_of_four():
    made = rules.recovery_code_from_bytes(bytes.fromhex("ffffffffffffffffffff"))
    assert made == "ZZZZ-ZZZZ-ZZZZ-ZZZZ"
    assert rules.recovery_code_from_bytes(bytes(10)) == "0000-0000-0000-0000"
    sample = rules.recovery_code_from_bytes(bytes.fromhex("0123456789abcdef0123"))
    groups = sample.split("-")
    assert len(groups) == 4 and all(len(g) == 4 for g in groups)
    assert set(sample.replace("-", "")) <= set(rules.RECOVERY_ALPHABET)
    assert len(rules.RECOVERY_ALPHABET) == 32 and not set("ILOU") & set(rules.RECOVERY_ALPHABET)
    with pytest.raises(ValueError):
        rules.recovery_code_from_bytes(bytes(9))  # fewer than 80 bits: refused


def test_different_bytes_make_different_codes():
    seen = {rules.recovery_code_from_bytes(i.to_bytes(10, "big")) for i in range(2_000)}
    assert len(seen) == 2_000


@pytest.mark.parametrize("typed", [
    "7K3Q-M9XD-2PVA-H4TR", "7k3q-m9xd-2pva-h4tr", "7K3QM9XD2PVAH4TR", "7k3q m9xd 2pva h4tr", " 7K3Q - M9XD - 2PVA - H4TR ",
    "７Ｋ３Ｑ－Ｍ９ＸＤ－２ＰＶＡ－Ｈ４ＴＲ",  # typed with a full-width (Chinese IME) keyboard
    "7K3Q_M9XD.2PVA\u3000H4TR",
])
def test_recovery_codes_are_read_however_they_are_typed(typed):
    assert rules.normalize_recovery_code(typed) == "7K3QM9XD2PVAH4TR"


def test_letters_read_for_digits_are_taken_as_the_digits():
    assert rules.normalize_recovery_code("OOOO-IIII-LLLL-oil1") == "0000111111110111"


@pytest.mark.parametrize("typed", ["", None, "7K3Q-M9XD-2PVA", "7K3Q-M9XD-2PVA-H4TR-AAAA", "7K3Q-M9XD-2PVA-H4TU",
                                   "7K3Q-M9XD-2PVA-H4T!", "123456"])
def test_what_cannot_be_a_recovery_code_is_refused(typed):
    assert rules.normalize_recovery_code(typed) is None


def test_a_stored_recovery_code_is_a_salted_hash_that_matches_only_its_code():
    salt_a, salt_b = "00" * 16, "11" * 16
    digest = rules.recovery_code_digest(salt_a, "7K3QM9XD2PVAH4TR")
    assert len(digest) == 64 and "7K3Q" not in digest
    assert rules.recovery_code_digest(salt_b, "7K3QM9XD2PVAH4TR") != digest  # per-code salt
    assert rules.recovery_code_matches(salt_a, digest, "7K3QM9XD2PVAH4TR")
    assert not rules.recovery_code_matches(salt_a, digest, "7K3QM9XD2PVAH4TT")
    assert not rules.recovery_code_matches(salt_b, digest, "7K3QM9XD2PVAH4TR")


# -- who must use it; the time between password and code -------------------------------------------

@pytest.mark.parametrize("role, shop_requires, must", [
    (Role.STAFF, True, True), (Role.STAFF, False, False), (Role.MAIN, True, False), (Role.MAIN, False, False),
    ("staff", True, True),
])
def test_sub_accounts_of_a_shop_that_requires_it_must_use_it(role, shop_requires, must):
    assert rules.must_use_two_factor(role, shop_requires) is must
    assert rules.must_set_up(role, shop_requires, enabled=False) is must
    assert rules.must_set_up(role, shop_requires, enabled=True) is False


@pytest.mark.parametrize("age, fresh", [(timedelta(0), True), (timedelta(minutes=5), True),
                                        (timedelta(minutes=5, seconds=1), False), (timedelta(hours=2), False),
                                        (timedelta(seconds=-1), False)])
def test_the_code_must_follow_the_password_within_five_minutes(age, fresh):
    assert rules.pending_sign_in_is_fresh(T - age, T) is fresh


def test_no_pending_sign_in_is_never_fresh():
    assert rules.pending_sign_in_is_fresh(None, T) is False
