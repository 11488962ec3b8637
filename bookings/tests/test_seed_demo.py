import io
from datetime import time, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from bookings.doses import later_dose_slots
from campaigns.models import Campaign, Vaccine
from campaigns.windows import KST, window_state
from clinics.models import Clinic, Slot, StaffMembership

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("away_from_midnight")]


# Literal on purpose: the addresses the command prints for a person to paste into a browser.
URLS = [
    "http://127.0.0.1:8000/\n",
    "http://127.0.0.1:8000/admin/\n",
    "http://127.0.0.1:8000/book/cohort-55-59/\n",
    "http://127.0.0.1:8000/book/cohort-60-64/ ",
    "http://127.0.0.1:8000/staff/\n",
]


def _seed(logins_file) -> str:
    out = io.StringIO()
    call_command("seed_demo", logins_file=logins_file, stdout=out)
    return out.getvalue()


def _logins(logins_file) -> dict[str, str]:
    lines = logins_file.read_text().splitlines()
    return dict(line.split(" ", 1) for line in lines if not line.startswith("#"))


def _counts() -> dict[str, int]:
    return {
        "campaigns": Campaign.objects.count(),
        "clinics": Clinic.objects.count(),
        "regions": Clinic.objects.values("region").distinct().count(),
        "slots": Slot.objects.count(),
        "users": get_user_model().objects.count(),
        "groups": Group.objects.count(),
        "memberships": StaffMembership.objects.count(),
    }


def test_seeds_once_and_a_second_run_reuses_everything(tmp_path):
    logins_file = tmp_path / "demo-logins.txt"

    first_output = _seed(logins_file)
    first_counts, first_logins = _counts(), _logins(logins_file)
    second_output = _seed(logins_file)

    # 20 clinics x 14 days x 16 half-hours from 09:00 to 16:30 x 3 campaigns, twice (each
    # campaign's vaccine has two doses: the second dose's 14 days, the interval later)
    assert first_counts == {
        "campaigns": 3,
        "clinics": 20,
        "regions": 5,
        "slots": 26880,
        "users": 2,
        "groups": 2,
        "memberships": 1,
    }
    assert _counts() == first_counts
    assert _logins(logins_file) == first_logins
    for output in (first_output, second_output):
        for url in URLS:
            assert url in output
        for username, password in first_logins.items():
            assert username in output and password in output
    assert "(26880 new)" in first_output and "(0 new)" in second_output


def _logs_in(client, username: str, password: str) -> bool:
    """Through the login page, as a person does (the login limits see the request)."""
    client.logout()
    response = client.post(reverse("admin:login"), {"username": username, "password": password})
    return response.status_code == 302


def test_the_printed_logins_work(tmp_path, client):
    logins_file = tmp_path / "demo-logins.txt"
    _seed(logins_file)
    logins = _logins(logins_file)

    assert set(logins) == {"admin", "clinic"}
    assert _logs_in(client, "admin", logins["admin"])
    assert client.get(reverse("admin:campaigns_campaign_add")).status_code == 200

    client.logout()
    response = client.post(
        reverse("admin:login"), {"username": "clinic", "password": logins["clinic"]}
    )
    assert response.status_code == 302
    # clinic staff read their own clinic's rosters, never every clinic's bookings in the admin
    assert client.get(reverse("admin:bookings_booking_changelist")).status_code == 403
    assert client.get(reverse("admin:campaigns_campaign_add")).status_code == 403
    for code, status in (("seoul-01", 200), ("busan-01", 403)):
        roster = reverse("clinics:roster", kwargs={"code": code, "file_format": "csv"})
        assert client.get(roster).status_code == status
    membership = StaffMembership.objects.get(user__username="clinic")
    assert membership.clinic.code == "seoul-01"


def test_a_lost_logins_file_gets_new_working_passwords(tmp_path, client):
    logins_file = tmp_path / "demo-logins.txt"
    _seed(logins_file)
    old = _logins(logins_file)
    logins_file.unlink()

    output = _seed(logins_file)

    new = _logins(logins_file)
    assert new["admin"] != old["admin"] and new["admin"] in output
    assert not _logs_in(client, "admin", old["admin"])
    assert _logs_in(client, "admin", new["admin"])
    assert _logs_in(client, "clinic", new["clinic"])


def test_the_demo_campaigns(tmp_path):
    _seed(tmp_path / "demo-logins.txt")

    open_now = Campaign.objects.get(slug="cohort-55-59")
    assert open_now.name == "Cohort 55-59 (born 1962-1966)"
    assert open_now.vaccine.name == "Moderna"
    assert window_state(open_now).value == "open"
    assert (open_now.born_from.isoformat(), open_now.born_to.isoformat()) == (
        "1962-01-01",
        "1966-12-31",
    )

    later = Campaign.objects.get(slug="cohort-50-54")
    assert window_state(later).value == "scheduled"
    opens_kst = timezone.localtime(later.opens_at, KST)
    assert opens_kst.time() == time(20, 0)
    assert (opens_kst.date() - timezone.localdate(timezone.now(), KST)).days == 1
    assert later.closes_at - later.opens_at == timedelta(days=7)

    assert not open_now.verify_phone and not later.verify_phone
    verified = Campaign.objects.get(slug="cohort-60-64")
    assert verified.verify_phone and window_state(verified).value == "open"
    assert (verified.born_from.isoformat(), verified.born_to.isoformat()) == (
        "1957-01-01",
        "1961-12-31",
    )
    assert Slot.objects.filter(campaign=verified).count() == 8960
    # the last first-dose day's last time still has its second dose, the interval later
    last = Slot.objects.filter(campaign=verified).order_by("date", "start_time")[4479]
    second = later_dose_slots(verified, first=last)
    assert second is not None
    assert (second[0].date - last.date).days == verified.vaccine.interval_recommended_days

    today = timezone.localdate(timezone.now(), KST)
    days = Slot.objects.filter(campaign=open_now).values("date").distinct().count()
    assert days == 14 * 2  # the first dose fortnight, then the second dose one
    assert Slot.objects.filter(campaign=open_now).earliest("date").date == today
    assert set(Slot.objects.values_list("capacity", flat=True)) == {6}


def test_the_demo_vaccines_and_the_one_each_campaign_names(tmp_path):
    Vaccine.objects.create(name="Moderna", doses=1)  # as an official left it: kept
    _seed(tmp_path / "demo-logins.txt")
    _seed(tmp_path / "demo-logins.txt")

    schedules = {
        v.name: (v.doses, v.interval_min_days, v.interval_recommended_days, v.interval_max_days)
        for v in Vaccine.objects.all()
    }
    assert schedules == {
        "Pfizer-BioNTech": (2, 21, 21, 42),
        "Moderna": (1, None, None, None),
        "AstraZeneca": (2, 56, 77, 84),
        "Janssen": (1, None, None, None),
    }
    named = dict(Campaign.objects.values_list("slug", "vaccine__name"))
    assert named == {
        "cohort-55-59": "Moderna",
        "cohort-50-54": "Pfizer-BioNTech",
        "cohort-60-64": "AstraZeneca",
    }
