"""R7 quota rules and sub-account rules, at their boundaries."""
import pytest

from webapp.domain import accounts

CAP = 1_500_000


@pytest.mark.parametrize("login, ok", [("kefu01", True), ("a.b-c_d", True), ("ab", False), ("Kefu", False),
                                       ("-abc", False), ("x" * 32, True), ("x" * 33, False), ("客服", False), ("", False)])
def test_login_names(login, ok):
    assert (accounts.login_problems(login) == []) == ok


@pytest.mark.parametrize(
    "password, problems",
    [("tidalkite12", []), ("tidalkit1", ["password_short"]), ("tidalkitexy", ["password_classes"]),
     ("1234567890", ["password_classes", "password_common"]), ("kefu01abc123", ["password_login"]),
     ("password123", ["password_common"])],
)
def test_password_strength(password, problems):
    assert accounts.password_problems(password, login="kefu01") == problems


def test_r7_valid_quota():
    assert accounts.quota_problems(enabled=True, per_payout_fen=5_000, daily_fen=20_000, shop_cap_fen=CAP) == {}
    assert accounts.quota_problems(enabled=True, per_payout_fen=20_000, daily_fen=20_000, shop_cap_fen=CAP) == {}
    assert accounts.quota_problems(enabled=True, per_payout_fen=1, daily_fen=CAP, shop_cap_fen=CAP) == {}
    assert accounts.quota_problems(enabled=False, per_payout_fen=None, daily_fen=None, shop_cap_fen=CAP) == {}


@pytest.mark.parametrize(
    "kw, expected",
    [
        (dict(enabled=True, per_payout_fen=0, daily_fen=100), {"per_payout": ["limit_positive"]}),
        (dict(enabled=True, per_payout_fen=100, daily_fen=-1), {"daily": ["limit_positive"]}),
        (dict(enabled=True, per_payout_fen=20_001, daily_fen=20_000), {"per_payout": ["per_over_daily"]}),
        (dict(enabled=True, per_payout_fen=100, daily_fen=CAP + 1), {"daily": ["daily_over_cap"]}),
        (dict(enabled=True, per_payout_fen=None, daily_fen=100), {"enabled": ["limits_required"]}),
        (dict(enabled=True, per_payout_fen=100, daily_fen=None), {"enabled": ["limits_required"]}),
    ],
)
def test_r7_quota_boundaries(kw, expected):
    assert accounts.quota_problems(shop_cap_fen=CAP, **kw) == expected
