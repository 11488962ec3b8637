from datetime import date

import pytest

from bookings.identity import (
    IdentityError,
    decrypt_rrn,
    encrypt_rrn,
    normalise_name,
    normalise_phone,
    parse_rrn,
    rrn_hmac,
)

# A refusal is told apart by which one it is, not by its wording (which is translated): one
# number of each kind, whose refusals the others must equal.
NOT_13_DIGITS = "12345"
NO_SUCH_DATE = "620631-1234567"  # 31 June


def _refusal(raw: str, **kwargs) -> str:
    with pytest.raises(IdentityError) as refused:
        parse_rrn(raw, **kwargs)
    return str(refused.value)


@pytest.mark.parametrize(
    ("raw", "born"),
    [
        ("620714-1234567", date(1962, 7, 14)),
        ("6207141234567", date(1962, 7, 14)),
        ("620714-2234567", date(1962, 7, 14)),
        ("620714-5234567", date(1962, 7, 14)),
        ("620714-6234567", date(1962, 7, 14)),
        ("050301-3234567", date(2005, 3, 1)),
        ("050301-4234567", date(2005, 3, 1)),
        ("050301-7234567", date(2005, 3, 1)),
        ("050301-8234567", date(2005, 3, 1)),
        ("991231-9234567", date(1899, 12, 31)),
        ("991231-0234567", date(1899, 12, 31)),
        (" 620714 - 1234567 ", date(1962, 7, 14)),
        ("６２０７１４－１２３４５６７", date(1962, 7, 14)),
    ],
)
def test_birth_date_and_century_come_from_the_number(raw, born):
    assert parse_rrn(raw).birth_date == born


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "620714",
        "620714-123456",
        "620714-12345678",
        "62O714-1234567",
        "620714_1234567",
        "abc",
        "620714-1\u0662\u0663\u0664567",  # Arabic-Indic digits: another spelling of one person
        "\u0666\u0662\u0660\u0667\u0661\u0664-1234567",
        "620714-\u0661234567",  # a non-ASCII gender digit
        "620714-1\u0968\u0969\u096a567",  # Devanagari
    ],
)
def test_malformed_numbers_are_refused(raw):
    assert _refusal(raw) == _refusal(NOT_13_DIGITS)


@pytest.mark.parametrize(
    "raw", ["620230-1234567", "621301-1234567", "620000-1234567", "010229-3234567"]
)
def test_impossible_dates_are_refused(raw):
    assert _refusal(raw) == _refusal(NO_SUCH_DATE) != _refusal(NOT_13_DIGITS)


def test_a_birth_date_in_the_future_is_refused():
    future = _refusal("991231-3234567", today=date(2026, 11, 24))
    assert future not in (_refusal(NOT_13_DIGITS), _refusal(NO_SUCH_DATE))
    # the same number, on the day of that birth
    assert parse_rrn("991231-3234567", today=date(2099, 12, 31)).birth_date == date(2099, 12, 31)


def test_errors_and_repr_never_repeat_the_number():
    rrn = parse_rrn("620714-1234567")
    assert "1234567" not in repr(rrn) and "1234567" not in str(rrn)
    assert rrn.masked == "620714-1******"
    with pytest.raises(IdentityError) as excinfo:
        parse_rrn("620230-1234567")
    assert "620230" not in str(excinfo.value)


def test_hmac_matches_the_same_person_whatever_the_spelling():
    assert rrn_hmac(parse_rrn("620714-1234567")) == rrn_hmac(parse_rrn("6207141234567"))
    assert rrn_hmac(parse_rrn("620714-1234567")) != rrn_hmac(parse_rrn("620714-1234568"))
    assert "6207141234567" not in rrn_hmac(parse_rrn("620714-1234567"))


def test_encryption_round_trips_and_hides_the_number():
    token = encrypt_rrn(parse_rrn("620714-1234567"))
    assert "6207141234567" not in token
    assert decrypt_rrn(token).digits == "6207141234567"


def test_decrypting_a_tampered_ciphertext_fails_cleanly():
    token = encrypt_rrn(parse_rrn("620714-1234567"))
    with pytest.raises(IdentityError):
        decrypt_rrn(token[:-4] + "AAAA")


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("01012345678", "010-1234-5678"),
        ("010-1234-5678", "010-1234-5678"),
        ("010 1234 5678", "010-1234-5678"),
        ("+82 10 1234 5678", "010-1234-5678"),
        ("02-123-4567", "02-123-4567"),
        ("0311234567", "031-123-4567"),
    ],
)
def test_phone_numbers_are_normalised(raw, shown):
    assert normalise_phone(raw) == shown


@pytest.mark.parametrize("raw", ["", "12345", "010-1234-56789012", "phone", "1-800-FLOWERS"])
def test_odd_phones_are_refused(raw):
    with pytest.raises(IdentityError):
        normalise_phone(raw)


def test_names_are_trimmed_and_bounded():
    assert normalise_name("  김  민수 ") == "김 민수"
    with pytest.raises(IdentityError):
        normalise_name("   ")
    with pytest.raises(IdentityError):
        normalise_name("가" * 200)
    with pytest.raises(IdentityError):
        normalise_name("Kim\x00Minsu")


@pytest.mark.parametrize(
    ("raw", "sex", "foreign"),
    [
        ("620714-1234567", "male", False),
        ("620714-2234567", "female", False),
        ("050301-3234567", "male", False),
        ("050301-4234567", "female", False),
        ("620714-5234567", "male", True),
        ("620714-6234567", "female", True),
        ("050301-7234567", "male", True),
        ("050301-8234567", "female", True),
    ],
)
def test_sex_and_foreign_residents_come_from_the_seventh_digit(raw, sex, foreign):
    rrn = parse_rrn(raw)
    assert rrn.sex == sex
    assert rrn.is_foreign_resident is foreign


def _legacy_check_digit(first_twelve: str) -> int:
    weights = [2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5]
    total = sum(int(d) * w for d, w in zip(first_twelve, weights, strict=True))
    return (11 - total % 11) % 10


def test_the_old_check_digit_never_blocks_a_number():
    # Numbers issued since October 2020 end in random digits: both must be accepted.
    twelve = "620714123456"
    good = twelve + str(_legacy_check_digit(twelve))
    bad = twelve + str((_legacy_check_digit(twelve) + 1) % 10)
    assert parse_rrn(good).digits == good
    assert parse_rrn(bad).digits == bad
