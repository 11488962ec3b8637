import base64
import os
from io import StringIO

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.management import call_command

from bookings.identity import decrypt_rrn, parse_rrn
from bookings.models import Booking
from bookings.tests.factories import BookingFactory, rrn_for

pytestmark = pytest.mark.django_db


def _key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def _rotate() -> str:
    out = StringIO()
    call_command("rotate_pii_keys", stdout=out)
    return out.getvalue()


def test_rotation_re_encrypts_everything_with_the_newest_key_and_can_be_re_run(settings):
    old, new = _key(), _key()
    settings.VAXBOOK_PII_KEYS = [old]
    bookings = [BookingFactory(rrn=rrn_for(n)) for n in range(7)]

    settings.VAXBOOK_PII_KEYS = [new, old]
    # an interrupted earlier run had already done one row
    first = bookings[0]
    from bookings.identity import reencrypt

    Booking.objects.filter(pk=first.pk).update(rrn_encrypted=reencrypt(first.rrn_encrypted))

    assert "Re-encrypted 6, already current 1" in _rotate()
    assert "Re-encrypted 0, already current 7" in _rotate()

    settings.VAXBOOK_PII_KEYS = [new]  # the old key can now be dropped
    for n, booking in enumerate(bookings):
        booking.refresh_from_db()
        assert decrypt_rrn(booking.rrn_encrypted).digits == parse_rrn(rrn_for(n)).digits
        with pytest.raises(InvalidToken):
            Fernet(old.encode()).decrypt(booking.rrn_encrypted.encode())


def test_matching_does_not_change_with_the_encryption_key(settings, client):
    settings.VAXBOOK_PII_KEYS = [_key()]
    booking = BookingFactory(rrn="620714-1234567")
    settings.VAXBOOK_PII_KEYS = [_key(), *settings.VAXBOOK_PII_KEYS]
    _rotate()
    from bookings.selectors import booking_for_person

    booking.code = "ABCDEFGH"
    booking.save()
    assert booking_for_person(code="ABCDEFGH", rrn=parse_rrn("6207141234567")) == booking
