from datetime import date, timedelta

import factory
from django.utils import timezone

from campaigns.models import Campaign


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Campaign

    name = factory.Sequence(lambda n: f"Cohort 55-59 round {n}")
    slug = factory.Sequence(lambda n: f"cohort-{n}")
    vaccine = "Moderna"
    born_from = date(1962, 1, 1)
    born_to = date(1966, 12, 31)
    opens_at = factory.LazyFunction(lambda: timezone.now() - timedelta(hours=1))
    closes_at = factory.LazyAttribute(lambda o: o.opens_at + timedelta(days=7))
