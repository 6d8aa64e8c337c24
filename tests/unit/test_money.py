"""R16: money is integer fen inside; strict parsing and ¥1,234.56 formatting at the edges."""
import pytest

from webapp.domain.money import MAX_FEN, MoneyError, fen_to_input, format_fen, parse_yuan


@pytest.mark.parametrize(
    "text, fen",
    [
        ("12", 1200), ("12.5", 1250), ("12.50", 1250), ("0.01", 1), ("1,234.56", 123456),
        ("¥5", 500), ("￥ 5.00", 500), ("  7.7 ", 770), ("99999999.99", MAX_FEN), ("0015", 1500),
    ],
)
def test_r16_parse_accepts_plain_yuan(text, fen):
    assert parse_yuan(text) == fen


@pytest.mark.parametrize(
    "text, code",
    [
        ("", "empty"), ("   ", "empty"), (None, "empty"), ("¥", "empty"),
        ("abc", "not_a_number"), ("1e3", "not_a_number"), ("1.", "not_a_number"), (".5", "not_a_number"),
        ("12,34", "not_a_number"), ("1 000", "not_a_number"), ("+5", "not_a_number"), ("NaN", "not_a_number"),
        ("Infinity", "not_a_number"), ("٣", "not_a_number"), ("0x10", "not_a_number"),
        ("-1", "negative"), ("-0.01", "negative"),
        ("0", "not_positive"), ("0.00", "not_positive"),
        ("1.234", "too_many_decimals"), ("0.001", "too_many_decimals"),
        ("１２", "fullwidth"), ("1２.5", "fullwidth"),
        ("99999999999999", "too_large"), ("100000000.00", "too_large"),
    ],
)
def test_r16_parse_refuses_bad_input_with_a_code(text, code):
    with pytest.raises(MoneyError) as info:
        parse_yuan(text)
    assert info.value.code == code
    assert info.value.message  # a message the web layer translates


def test_r16_zero_allowed_only_when_asked():
    assert parse_yuan("0", allow_zero=True) == 0


@pytest.mark.parametrize(
    "fen, text",
    [(0, "¥0.00"), (1, "¥0.01"), (990, "¥9.90"), (123456, "¥1,234.56"), (1_500_000, "¥15,000.00"), (-250, "-¥2.50")],
)
def test_r16_format(fen, text):
    assert format_fen(fen) == text


def test_r16_format_refuses_non_integers():
    with pytest.raises(TypeError):
        format_fen(12.5)
    with pytest.raises(TypeError):
        format_fen(True)


@pytest.mark.parametrize("fen", [1, 99, 100, 1250, 123456, MAX_FEN])
def test_r16_round_trip(fen):
    assert parse_yuan(fen_to_input(fen)) == fen
    assert parse_yuan(format_fen(fen)) == fen


@pytest.mark.parametrize(
    "fen, words",
    [
        (0, "零元整"), (500, "伍元整"), (1, "壹分"), (50, "伍角"), (1250, "壹拾贰元伍角"), (100550, "壹仟零伍元伍角"),
        (100505, "壹仟零伍元零伍分"), (1_000_000, "壹万元整"), (1_500_000, "壹万伍仟元整"), (10_000_100, "壹拾万零壹元整"),
        (299_900, "贰仟玖佰玖拾玖元整"), (100_000_000_00, "壹亿元整"), (100_001_000_00, "壹亿零壹仟元整"),
        (1_050_000, "壹万零伍佰元整"), (1_005_000, "壹万零伍拾元整"),  # a group under 1000 after a higher one: 零
    ],
)
def test_r4_amount_in_chinese_capitals(fen, words):
    from webapp.domain.money import fen_to_chinese_words

    assert fen_to_chinese_words(fen) == words


@pytest.mark.parametrize(
    "fen, words",
    [(500, "five yuan"), (1250, "twelve yuan fifty fen"), (5, "five fen"), (0, "zero yuan"), (2_000, "twenty yuan"),
     (1_900, "nineteen yuan"), (2_120, "twenty-one yuan twenty fen"), (-150, "minus one yuan fifty fen"),
     (1_500_000, "fifteen thousand yuan"), (299_999, "two thousand nine hundred ninety-nine yuan ninety-nine fen")],
)
def test_r4_amount_in_english_words(fen, words):
    from webapp.domain.money import fen_to_english_words

    assert fen_to_english_words(fen) == words
