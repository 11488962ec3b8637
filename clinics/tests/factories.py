from datetime import time, timedelta

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from campaigns.tests.factories import CampaignFactory
from clinics.models import Clinic, Slot, StaffMembership


class ClinicFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Clinic

    name = factory.Sequence(lambda n: f"Seoul Clinic {n}")
    code = factory.Sequence(lambda n: f"clinic-{n}")
    region = "Seoul"
    address = factory.Sequence(lambda n: f"{n} Sejong-daero, Jung-gu, Seoul")


class SlotFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Slot

    clinic = factory.SubFactory(ClinicFactory)
    campaign = factory.SubFactory(CampaignFactory)
    date = factory.LazyFunction(lambda: timezone.localdate() + timedelta(days=2))
    start_time = time(9, 0)
    capacity = 10


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("correct horse battery")


class StaffMembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StaffMembership

    user = factory.SubFactory(UserFactory, is_staff=False)
    clinic = factory.SubFactory(ClinicFactory)
