"""The resident registration number (RRN) and the other facts that identify a person.

This module is the only place that sees an RRN in clear. It parses and normalises it, derives
the birth date, and turns it into what may be kept: a keyed HMAC for matching, a Fernet
ciphertext (authenticated encryption) and the masked form people read (``620714-1******``).
Error messages and ``repr`` never repeat the number.

The format: ``YYMMDD-GNNNNNN``. The 7th digit G gives the century and sex (1/2: 1900s, 3/4:
2000s, 9/0: 1800s; 5/6 and 7/8 are foreign residents born in the 1900s and 2000s; odd is male,
even female).

Check-digit policy: **never block, never warn.** The 13th digit used to be a checksum of the
other twelve, but numbers issued since October 2020 end in random digits, and people re-issued
a number since then (any age) have one too, so the rule does not *certainly* apply to anybody.
A false "invalid number" would turn away a real person on the night of the opening; a made-up
number gains nothing, because the booking is checked at the clinic against the person's ID.
"""

import hashlib
import hmac
import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext

# ASCII digits only: Python's \d also matches Arabic-Indic or Devanagari digits, which would
# give one person several spellings (and HMACs). Full-width digits are folded by NFKC first.
_RRN_PATTERN = re.compile(r"([0-9]{6})-?([0-9]{7})")
_CENTURY_BY_DIGIT = {
    "1": 1900,
    "2": 1900,
    "5": 1900,
    "6": 1900,
    "3": 2000,
    "4": 2000,
    "7": 2000,
    "8": 2000,
    "9": 1800,
    "0": 1800,
}
_PHONE_DIGITS = re.compile(r"0[0-9]{8,10}")
NAME_MAX_LENGTH = 50


class IdentityError(ValueError):
    """A value that identifies a person is malformed. The message is safe to show and log."""


@dataclass(frozen=True)
class Rrn:
    digits: str  # 13 digits, no hyphen

    @property
    def gender_digit(self) -> str:
        return self.digits[6]

    @property
    def birth_date(self) -> date:
        return _birth_date(self.digits)

    @property
    def sex(self) -> str:
        return "male" if int(self.gender_digit) % 2 == 1 else "female"

    @property
    def is_foreign_resident(self) -> bool:
        return self.gender_digit in "5678"

    @property
    def masked(self) -> str:
        return mask(self.digits[:6], self.gender_digit)

    def __repr__(self) -> str:  # never print the number, not even in a traceback
        return f"Rrn({self.masked})"

    __str__ = __repr__


def _birth_date(digits: str) -> date:
    century = _CENTURY_BY_DIGIT[digits[6]]
    return date(century + int(digits[0:2]), int(digits[2:4]), int(digits[4:6]))


def parse_rrn(raw: str, *, today: date | None = None) -> Rrn:
    """Parse ``YYMMDD-GNNNNNN`` (hyphen optional; spaces and full-width digits accepted)."""
    text = unicodedata.normalize("NFKC", raw or "")
    text = re.sub(r"\s+", "", text).replace("\u2010", "-").replace("\u2212", "-")
    match = _RRN_PATTERN.fullmatch(text)
    if not match:
        raise IdentityError(
            gettext(
                "Enter the registration number as 13 digits, YYMMDD-GNNNNNN (the hyphen is "
                "optional)."
            )
        )
    digits = match.group(1) + match.group(2)
    try:
        born = _birth_date(digits)
    except ValueError:
        raise IdentityError(
            gettext("The registration number does not start with a real date of birth.")
        ) from None
    today = today or timezone.localdate()
    if born > today:
        raise IdentityError(gettext("The registration number gives a date of birth in the future."))
    return Rrn(digits)


def mask(yymmdd: str, gender_digit: str) -> str:
    return f"{yymmdd}-{gender_digit}******"


def mask_birth_date(birth_date: date, gender_digit: str) -> str:
    return mask(birth_date.strftime("%y%m%d"), gender_digit)


def rrn_hmac(rrn: Rrn) -> str:
    key = settings.VAXBOOK_RRN_HMAC_KEY.encode()
    return hmac.new(key, rrn.digits.encode(), hashlib.sha256).hexdigest()


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    """All keys, newest first: encrypts with the newest, decrypts with any (key rotation)."""
    return MultiFernet([Fernet(k.encode()) for k in keys])


@lru_cache(maxsize=4)
def _newest(key: str) -> Fernet:
    return Fernet(key.encode())


def encrypt_rrn(rrn: Rrn) -> str:
    return _fernet(tuple(settings.VAXBOOK_PII_KEYS)).encrypt(rrn.digits.encode()).decode()


def decrypt_rrn(token: str) -> Rrn:
    try:
        digits = _fernet(tuple(settings.VAXBOOK_PII_KEYS)).decrypt(token.encode()).decode()
    except InvalidToken:
        raise IdentityError(
            gettext("The stored registration number cannot be decrypted.")
        ) from None
    return Rrn(digits)


def is_encrypted_with_newest_key(token: str) -> bool:
    try:
        _newest(settings.VAXBOOK_PII_KEYS[0]).decrypt(token.encode())
    except InvalidToken:
        return False
    return True


def reencrypt(token: str) -> str:
    """The same number encrypted with the newest key (raises IdentityError if no key fits)."""
    try:
        return _fernet(tuple(settings.VAXBOOK_PII_KEYS)).rotate(token.encode()).decode()
    except InvalidToken:
        raise IdentityError(
            gettext("The stored registration number cannot be decrypted.")
        ) from None


def normalise_phone(raw: str) -> str:
    """Korean phone numbers: 9 to 11 digits starting with 0, shown with hyphens."""
    text = unicodedata.normalize("NFKC", raw or "")
    digits = re.sub(r"[\s\-().]", "", text)
    if digits.startswith("+82"):
        digits = "0" + digits[3:]
    if not _PHONE_DIGITS.fullmatch(digits):
        raise IdentityError(gettext("Enter a Korean phone number, for example 010-1234-5678."))
    if digits.startswith("02"):
        head, rest = digits[:2], digits[2:]
    else:
        head, rest = digits[:3], digits[3:]
    return f"{head}-{rest[:-4]}-{rest[-4:]}"


def normalise_name(raw: str) -> str:
    text = unicodedata.normalize("NFC", raw or "").strip()
    text = re.sub(r"\s+", " ", text)
    if not text:
        raise IdentityError(gettext("Enter the name of the person to vaccinate."))
    if len(text) > NAME_MAX_LENGTH:
        raise IdentityError(
            gettext("The name can be at most %(limit)d characters.") % {"limit": NAME_MAX_LENGTH}
        )
    if any(unicodedata.category(ch).startswith("C") for ch in text):
        raise IdentityError(gettext("The name contains characters that cannot be used."))
    return text


@dataclass(frozen=True)
class Identity:
    """The person to vaccinate, validated."""

    name: str
    rrn: Rrn
    phone: str
    email: str = ""  # optional: the messages go there too

    @classmethod
    def parse(cls, *, name: str, rrn: str, phone: str) -> "Identity":
        return cls(name=normalise_name(name), rrn=parse_rrn(rrn), phone=normalise_phone(phone))
