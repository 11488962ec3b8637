from datetime import date, timedelta

import factory
from django.utils import timezone

from campaigns.models import Campaign, Vaccine


class VaccineFactory(factory.django.DjangoModelFactory):
    """Moderna's schedule unless told otherwise; a vaccine is shared by name."""

    class Meta:
        model = Vaccine
        django_get_or_create = ["name"]

    name = "Moderna"
    manufacturer = "Moderna"
    doses = 2
    interval_min_days = factory.LazyAttribute(lambda o: 28 if o.doses > 1 else None)
    interval_recommended_days = factory.LazyAttribute(lambda o: 28 if o.doses > 1 else None)
    interval_max_days = factory.LazyAttribute(lambda o: 42 if o.doses > 1 else None)


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Campaign

    name = factory.Sequence(lambda n: f"Cohort 55-59 round {n}")
    slug = factory.Sequence(lambda n: f"cohort-{n}")
    # One dose unless a test asks for more (``two_dose_campaign`` in bookings.tests.doses):
    # a booking is then one appointment, as most tests want.
    vaccine = factory.SubFactory(VaccineFactory, name="Janssen", manufacturer="Janssen", doses=1)
    born_from = date(1962, 1, 1)
    born_to = date(1966, 12, 31)
    opens_at = factory.LazyFunction(lambda: timezone.now() - timedelta(hours=1))
    closes_at = factory.LazyAttribute(lambda o: o.opens_at + timedelta(days=7))
