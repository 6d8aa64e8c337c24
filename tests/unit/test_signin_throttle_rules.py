"""Sign-in throttling rules (webapp/domain/signin_throttle.py): budget keys, device cookie entries and
the wait told to the user. Pure: no app, no database. The behaviour is tested in tests/web/test_signin_throttle.py
and tests/races/test_signin_race.py."""
import pytest

from webapp.domain.signin_throttle import (Budget, DeviceEntry, account_key, address_key, buckets_for, remember,
                                           trusted_nonce, wait_parts)


@pytest.mark.parametrize("seconds, expected", [
    (0.2, (1, "seconds")), (1, (1, "seconds")), (30, (30, "seconds")), (59, (59, "seconds")), (59.5, (1, "minutes")),
    (60, (1, "minutes")), (61, (2, "minutes")), (299, (5, "minutes")), (300, (5, "minutes")),
])
def test_wait_is_whole_seconds_under_a_minute_else_minutes_rounded_up(seconds, expected):
    assert wait_parts(seconds) == expected


@pytest.mark.parametrize("address, key", [
    ("192.0.2.1", "ip:192.0.2.1"),
    ("2001:db8:1:2:3:4:5:6", "ip:2001:db8:1:2::/64"),
    ("2001:DB8:1:2::ffff", "ip:2001:db8:1:2::/64"),
    ("::ffff:192.0.2.1", "ip:192.0.2.1"),
    (None, "ip:"),
    ("not-an-address", "ip:not-an-address"),
])
def test_address_budget_key(address, key):
    assert address_key(address) == key


def test_login_budget_key_ignores_case_and_spaces_but_not_the_kind_of_page():
    assert account_key("merchant", " Main-A ") == account_key("merchant", "main-a")
    assert account_key("merchant", "main-a") != account_key("buyer", "main-a")
    assert "main-a" not in account_key("merchant", "main-a")  # a digest: no login name in cookies or counters


def test_device_entries_are_current_per_login_newest_first_and_bounded():
    day = 86_400
    entries = [DeviceEntry("a", "n-a", 0), DeviceEntry("b", "n-b", 10 * day)]
    assert trusted_nonce(entries, "a", 180 * day, 180 * day) == "n-a"
    assert trusted_nonce(entries, "a", 180 * day + 1, 180 * day) is None  # expired
    assert trusted_nonce(entries, "c", 0, 180 * day) is None
    new = remember(entries, DeviceEntry("a", "n-a2", 181 * day), 5, 181 * day, 180 * day)
    assert new == [DeviceEntry("a", "n-a2", 181 * day), DeviceEntry("b", "n-b", 10 * day)]
    many = [DeviceEntry(str(i), f"n{i}", 0) for i in range(9)]
    assert [e.account for e in remember(many, DeviceEntry("z", "nz", 0), 5, 0, day)] == ["z", "0", "1", "2", "3"]


def test_a_known_browser_spends_only_its_own_budget_an_unknown_one_its_address_and_the_login_name():
    b = {"per_login": Budget(10, 300), "per_address": Budget(20, 300), "per_device": Budget(5, 60)}
    known = buckets_for("merchant", "main-a", "192.0.2.1", "nonce-123", **b)
    assert [(x.key, x.budget) for x in known] == [("dev:nonce-123", Budget(5, 60))]
    unknown = buckets_for("merchant", "main-a", "192.0.2.1", None, **b)
    assert [(x.key, x.budget) for x in unknown] == [("ip:192.0.2.1", Budget(20, 300)),
                                                     ("acct:" + account_key("merchant", "main-a"), Budget(10, 300))]


def test_a_budget_needs_room_for_one_attempt():
    with pytest.raises(ValueError):
        Budget(0, 300)
