"""The rules of bookings.identity, checked against their definition rather than their outcome:
the keyed hash recomputed with the key from settings, every bound at its edge."""

import base64
import hashlib
import hmac
import os
from datetime import date, timedelta

import pytest
from django.conf import settings as django_settings

from bookings.identity import (
    Identity,
    IdentityError,
    decrypt_rrn,
    encrypt_rrn,
    is_encrypted_with_newest_key,
    normalise_name,
    normalise_phone,
    parse_rrn,
    reencrypt,
    rrn_hmac,
)

RRN = "620714-1234567"
DIGITS = "6207141234567"


def _keyed(digits: str, key: str) -> str:
    return hmac.new(key.encode(), digits.encode(), hashlib.sha256).hexdigest()


def _fernet_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


# The keyed hash: without the key, a copied database gives every number away in seconds


def test_the_hash_is_hmac_sha256_of_the_digits_under_the_configured_key():
    expected = _keyed(DIGITS, django_settings.VAXBOOK_RRN_HMAC_KEY)
    assert rrn_hmac(parse_rrn(RRN)) == expected
    assert rrn_hmac(parse_rrn(RRN)) != hashlib.sha256(DIGITS.encode()).hexdigest()


def test_the_hash_follows_the_key_in_settings(settings):
    before = rrn_hmac(parse_rrn(RRN))
    settings.VAXBOOK_RRN_HMAC_KEY = "another key, another deployment"
    after = rrn_hmac(parse_rrn(RRN))
    assert after != before
    assert after == _keyed(DIGITS, "another key, another deployment")


@pytest.mark.parametrize("spelling", [RRN, DIGITS, " 620714 1234567 ", "620714\u20101234567"])
def test_every_spelling_of_one_number_has_the_one_keyed_hash(spelling):
    assert rrn_hmac(parse_rrn(spelling)) == _keyed(DIGITS, django_settings.VAXBOOK_RRN_HMAC_KEY)


# Parsing: the bounds of what is a number


@pytest.mark.parametrize("dash", ["-", "\u2010", "\u2212", "\uff0d"])
def test_the_hyphens_people_paste_are_all_accepted(dash):
    assert parse_rrn(f"620714{dash}1234567").digits == DIGITS


def test_someone_born_today_can_be_identified_tomorrow_cannot():
    today = date(2024, 3, 2)
    assert parse_rrn("240302-3234567", today=today).birth_date == today
    with pytest.raises(IdentityError):
        parse_rrn("240303-3234567", today=today)
    assert parse_rrn("240303-3234567", today=today + timedelta(days=1)).digits == "2403033234567"


@pytest.mark.parametrize(
    ("digit", "century"),
    [("1", 1900), ("2", 1900), ("5", 1900), ("6", 1900)]
    + [("3", 2000), ("4", 2000), ("7", 2000), ("8", 2000), ("9", 1800), ("0", 1800)],
)
def test_each_seventh_digit_gives_its_century(digit, century):
    assert parse_rrn(f"000101-{digit}234567", today=date(2030, 1, 1)).birth_date == date(
        century, 1, 1
    )


def test_a_thirteen_digit_number_with_anything_after_it_is_refused():
    for raw in ("620714-12345670", "620714-1234567x", "x620714-1234567", "620714--1234567"):
        with pytest.raises(IdentityError):
            parse_rrn(raw)


# Phones: 9 to 11 digits starting with 0


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("021234567", "02-123-4567"),  # 9 digits: the shortest (Seoul)
        ("0212345678", "02-1234-5678"),
        ("01012345678", "010-1234-5678"),  # 11 digits: the longest
        ("+821012345678", "010-1234-5678"),
        ("(031) 123.4567", "031-123-4567"),
        ("０１０１２３４５６７８", "010-1234-5678"),
    ],
)
def test_phone_numbers_at_their_bounds_are_accepted(raw, shown):
    assert normalise_phone(raw) == shown


@pytest.mark.parametrize("raw", ["02123456", "010123456789", "11012345678", "+8201012345678x"])
def test_phone_numbers_past_their_bounds_are_refused(raw):
    with pytest.raises(IdentityError):
        normalise_phone(raw)


# Names: at most 50 characters, no control or format characters


def test_a_name_of_exactly_the_maximum_length_is_accepted_one_more_is_not():
    assert normalise_name("가" * 50) == "가" * 50
    with pytest.raises(IdentityError):
        normalise_name("가" * 51)


@pytest.mark.parametrize("raw", ["Kim\u200bMinsu", "Kim\u202eMinsu", "Kim\x1bMinsu"])
def test_format_and_control_characters_are_refused_in_a_name(raw):
    with pytest.raises(IdentityError):
        normalise_name(raw)


def test_a_name_is_normalised_to_composed_form():
    decomposed = "\u1100\u1161\u11a8"  # 각 as three jamo
    assert normalise_name(decomposed) == "\uac01"


def test_identity_parse_validates_every_field():
    person = Identity.parse(name=" Kim  Minsu ", rrn=DIGITS, phone="010 1234 5678")
    assert (person.name, person.rrn.digits, person.phone) == (
        "Kim Minsu",
        DIGITS,
        "010-1234-5678",
    )
    for fields in (
        {"name": "", "rrn": DIGITS, "phone": "01012345678"},
        {"name": "Kim", "rrn": "620230-1234567", "phone": "01012345678"},
        {"name": "Kim", "rrn": DIGITS, "phone": "12345"},
    ):
        with pytest.raises(IdentityError):
            Identity.parse(**fields)


# Encryption with rotating keys: newest encrypts, any decrypts


def test_the_newest_key_encrypts_and_an_older_one_still_decrypts(settings):
    old, new = _fernet_key(), _fernet_key()
    settings.VAXBOOK_PII_KEYS = [old]
    token = encrypt_rrn(parse_rrn(RRN))
    settings.VAXBOOK_PII_KEYS = [new, old]
    assert decrypt_rrn(token).digits == DIGITS
    assert not is_encrypted_with_newest_key(token)
    fresh = encrypt_rrn(parse_rrn(RRN))
    assert is_encrypted_with_newest_key(fresh)
    rotated = reencrypt(token)
    assert is_encrypted_with_newest_key(rotated)
    settings.VAXBOOK_PII_KEYS = [new]
    assert decrypt_rrn(rotated).digits == DIGITS
    assert decrypt_rrn(fresh).digits == DIGITS
    with pytest.raises(IdentityError):
        decrypt_rrn(token)
    with pytest.raises(IdentityError):
        reencrypt(token)
