from datetime import date, time

import pytest

from campaigns.tests.factories import CampaignFactory
from clinics.models import Slot
from clinics.services import SlotsRefused, generate_slots
from clinics.tests.factories import ClinicFactory, SlotFactory

pytestmark = pytest.mark.django_db


def _generate(**overrides) -> int:
    arguments = {
        "first_day": date(2030, 5, 1),
        "last_day": date(2030, 5, 3),
        "day_starts": time(9, 0),
        "day_ends": time(10, 0),
        "interval_minutes": 20,
        "capacity": 6,
    }
    arguments.update(overrides)
    return generate_slots(**arguments)


def test_creates_a_slot_per_clinic_day_and_time():
    clinics = ClinicFactory.create_batch(2)
    campaign = CampaignFactory()

    created = _generate(clinics=clinics, campaign=campaign)

    # 2 clinics x 3 days x (09:00, 09:20, 09:40)
    assert created == 18
    slots = Slot.objects.filter(clinic=clinics[0], date=date(2030, 5, 2))
    assert [s.start_time for s in slots] == [time(9, 0), time(9, 20), time(9, 40)]
    assert {s.capacity for s in Slot.objects.all()} == {6}
    assert {s.booked for s in Slot.objects.all()} == {0}


def test_the_day_end_is_excluded_and_an_uneven_interval_stops_before_it():
    clinic = ClinicFactory()

    created = _generate(
        clinics=[clinic],
        campaign=CampaignFactory(),
        last_day=date(2030, 5, 1),
        interval_minutes=25,
    )

    assert created == 3
    assert list(Slot.objects.values_list("start_time", flat=True)) == [
        time(9, 0),
        time(9, 25),
        time(9, 50),
    ]


def test_running_again_creates_nothing_and_leaves_existing_slots_alone():
    clinic = ClinicFactory()
    campaign = CampaignFactory()
    booked = SlotFactory(
        clinic=clinic,
        campaign=campaign,
        date=date(2030, 5, 2),
        start_time=time(9, 20),
        capacity=2,
        booked=2,
    )

    assert _generate(clinics=[clinic], campaign=campaign) == 8
    assert _generate(clinics=[clinic], campaign=campaign) == 0

    booked.refresh_from_db()
    assert (booked.capacity, booked.booked) == (2, 2)
    assert Slot.objects.count() == 9


def test_other_campaigns_slots_do_not_count_as_existing():
    clinic = ClinicFactory()
    first, second = CampaignFactory(), CampaignFactory()
    _generate(clinics=[clinic], campaign=first)

    assert _generate(clinics=[clinic], campaign=second) == 9


def test_a_whole_year_is_allowed():
    created = _generate(
        clinics=[ClinicFactory()],
        campaign=CampaignFactory(),
        first_day=date(2028, 1, 1),
        last_day=date(2028, 12, 31),
        day_ends=time(9, 1),
    )

    assert created == 366


@pytest.mark.parametrize(
    ("overrides", "reason", "params"),
    [
        ({"last_day": date(2030, 4, 30)}, "days_reversed", {}),
        ({"interval_minutes": 0}, "interval_too_short", {}),
        ({"interval_minutes": -30}, "interval_too_short", {}),
        ({"capacity": 0}, "capacity_too_small", {}),
        ({"day_ends": time(9, 0)}, "day_reversed", {}),
        ({"day_ends": time(8, 0)}, "day_reversed", {}),
        (
            {"first_day": date(2030, 1, 1), "last_day": date(2031, 1, 2)},
            "too_many_days",
            {"limit": 366, "asked": 367},
        ),
        ({"interval_minutes": 1441}, "interval_too_long", {"limit": 1440}),
        ({"interval_minutes": 10_000_000_000}, "interval_too_long", {"limit": 1440}),
        ({"capacity": 10_001}, "capacity_too_large", {"limit": 10000}),
        ({"capacity": 99_999_999_999}, "capacity_too_large", {"limit": 10000}),
    ],
)
def test_refuses_input_that_makes_no_sense(overrides, reason, params):
    with pytest.raises(SlotsRefused) as refused:
        _generate(clinics=[ClinicFactory()], campaign=CampaignFactory(), **overrides)

    assert (refused.value.reason, refused.value.params) == (reason, params)
    assert isinstance(refused.value, ValueError)
    # the text an official reads names the limit
    assert all(str(number) in str(refused.value) for number in params.values())
    assert not Slot.objects.exists()


def test_the_largest_capacity_and_interval_are_allowed():
    created = _generate(
        clinics=[ClinicFactory()],
        campaign=CampaignFactory(),
        last_day=date(2030, 5, 1),
        interval_minutes=1440,
        capacity=10_000,
    )

    assert created == 1
    assert Slot.objects.get().capacity == 10_000
