import factory
from django.utils import timezone

from bookings.identity import encrypt_rrn, parse_rrn, rrn_hmac
from bookings.models import Booking
from clinics.tests.factories import SlotFactory


def rrn_for(n: int) -> str:
    """A distinct, valid registration number of someone born in 1962-1966 (in the cohort)."""
    year = 62 + n % 5
    month = 1 + (n // 5) % 12
    day = 1 + (n // 60) % 28
    return f"{year:02d}{month:02d}{day:02d}-{1 + n % 2}{n % 1000000:06d}"


class BookingFactory(factory.django.DjangoModelFactory):
    """A booking as ``request_booking`` leaves it; pass ``status``/``code`` for others."""

    class Meta:
        model = Booking

    class Params:
        rrn = factory.Sequence(rrn_for)

    slot = factory.SubFactory(SlotFactory)
    campaign = factory.SelfAttribute("slot.campaign")
    name = "Kim Minsu"
    phone = "010-1234-5678"
    birth_date = factory.LazyAttribute(lambda o: parse_rrn(o.rrn).birth_date)
    rrn_gender_digit = factory.LazyAttribute(lambda o: parse_rrn(o.rrn).gender_digit)
    rrn_hmac = factory.LazyAttribute(lambda o: rrn_hmac(parse_rrn(o.rrn)))
    rrn_encrypted = factory.LazyAttribute(lambda o: encrypt_rrn(parse_rrn(o.rrn)))
    requested_at = factory.LazyFunction(timezone.now)
