from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse

from bookings import services
from bookings.models import Booking
from bookings.tests.factories import BookingFactory, rrn_for
from bookings.tests.flow import identify, submit, token_of, walk_to_review
from campaigns.tests.factories import CampaignFactory
from clinics.models import Slot
from clinics.tests.factories import ClinicFactory, SlotFactory

pytestmark = pytest.mark.django_db

RRN = "620714-1234567"


@pytest.fixture
def slot():
    return SlotFactory(
        clinic=ClinicFactory(name="Jongno Health Center", region="Seoul"), capacity=3
    )


def test_citizen_books_and_sees_the_confirmation(client, slot, django_capture_on_commit_callbacks):
    review_url = walk_to_review(client, slot, rrn=RRN, name="김민수")
    page = client.get(review_url).content.decode()
    assert "620714-1******" in page and "1234567" not in page
    assert "Jongno Health Center" in page

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = submit(client, review_url)
    assert response.status_code == 302
    booking = Booking.objects.get()
    assert booking.status == Booking.Status.PENDING
    assert len(callbacks) == 1, "the confirmation is enqueued once the booking is committed"
    assert response["Location"] == reverse(
        "bookings:status", kwargs={"public_id": booking.public_id}
    )

    pending_page = client.get(response["Location"]).content.decode()
    assert 'http-equiv="refresh"' in pending_page

    services.confirm_booking(booking.pk)
    booking.refresh_from_db()
    page = client.get(response["Location"]).content.decode()
    assert "Booking confirmed" in page and booking.code in page
    assert "Jongno Health Center" in page and slot.clinic.address in page
    assert 'http-equiv="refresh"' not in page
    assert "1234567" not in page
    assert booking.name == "김민수"


def test_the_choose_step_walks_region_clinic_day_time_with_places_left(client, slot):
    SlotFactory(campaign=slot.campaign, clinic=ClinicFactory(region="Busan"), capacity=5)
    response = identify(client, slot.campaign.slug, rrn=RRN)
    url = response["Location"]
    token = token_of(url)
    page = client.get(url).content.decode()
    assert "Seoul" in page and "Busan" in page
    page = client.get(url, {"t": token, "region": "Seoul"}).content.decode()
    assert "Jongno Health Center" in page and "3 places" in page
    page = client.get(url, {"t": token, "clinic": slot.clinic.code}).content.decode()
    assert slot.date.strftime("%Y-%m-%d") in page
    page = client.get(
        url, {"t": token, "clinic": slot.clinic.code, "date": slot.date.isoformat()}
    ).content.decode()
    assert "09:00" in page and "3 of 3 places left" in page


def test_out_of_cohort_person_is_told_the_cohort(client, slot):
    response = identify(client, slot.campaign.slug, rrn="700101-1234567")
    assert response.status_code == 200
    page = response.content.decode()
    assert "born 1962-01-01 to 1966-12-31" in page
    assert "not in the cohort" in page


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"rrn": "62071-41234567x"}, "13 digits"),
        ({"rrn": "620231-1234567"}, "real date"),
        ({"name": ""}, "This field is required"),
        ({"name": "x" * 200}, "at most 50"),
        ({"phone": "12"}, "Korean phone"),
        ({"phone": "010-1234-5678-9999"}, "Korean phone"),
    ],
)
def test_bad_identity_gets_a_form_error_and_writes_nothing(client, slot, fields, message):
    data = {"name": "Kim", "rrn": RRN, "phone": "010-1234-5678", **fields}
    response = client.post(reverse("bookings:start", kwargs={"campaign": slot.campaign.slug}), data)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert Booking.objects.count() == 0
    assert "booking_flow" not in client.session


def test_a_second_booking_of_the_same_person_is_refused_with_how_to_look_it_up(client, slot):
    BookingFactory(slot=slot, rrn=RRN)
    response = identify(client, slot.campaign.slug, rrn="6207141234567")
    page = response.content.decode()
    assert response.status_code == 200
    assert "already has a booking" in page and "booking code" in page
    assert Booking.objects.count() == 1


def test_second_booking_caught_at_submit_when_made_meanwhile(client, slot):
    review_url = walk_to_review(client, slot, rrn=RRN)
    BookingFactory(slot=slot, rrn=RRN)  # another tab or person booked in between
    response = submit(client, review_url)
    assert response.status_code == 409
    assert "already has a booking" in response.content.decode()
    assert Booking.objects.count() == 1


def test_a_slot_of_another_campaign_or_clinic_is_refused(client, slot):
    foreign_campaign_slot = SlotFactory(campaign=CampaignFactory(), clinic=slot.clinic)
    other_clinic_slot = SlotFactory(campaign=slot.campaign, clinic=ClinicFactory())
    url = identify(client, slot.campaign.slug, rrn=RRN)["Location"]
    for wrong in (foreign_campaign_slot, other_clinic_slot):
        response = client.post(
            url,
            {
                "t": token_of(url),
                "clinic": slot.clinic.code,
                "date": slot.date.isoformat(),
                "slot": wrong.pk,
            },
        )
        assert response.status_code == 200
        assert "not offered at this clinic" in response.content.decode()
    response = client.post(url, {"t": token_of(url), "clinic": slot.clinic.code, "slot": "abc"})
    assert response.status_code == 200 and "Enter a whole number" in response.content.decode()
    assert client.session["booking_flow"]["slot_id"] is None


def test_a_full_slot_cannot_be_chosen(client, slot):
    Slot.objects.filter(pk=slot.pk).update(booked=slot.capacity)
    url = identify(client, slot.campaign.slug, rrn=RRN)["Location"]
    response = client.post(
        url,
        {
            "t": token_of(url),
            "clinic": slot.clinic.code,
            "date": slot.date.isoformat(),
            "slot": slot.pk,
        },
    )
    assert "full" in response.content.decode()
    assert Booking.objects.count() == 0


def test_a_slot_that_fills_before_submit_is_refused_with_a_way_back(client, slot):
    review_url = walk_to_review(client, slot, rrn=RRN)
    Slot.objects.filter(pk=slot.pk).update(booked=slot.capacity)
    response = submit(client, review_url)
    assert response.status_code == 409
    page = response.content.decode()
    assert "full" in page and "Choose another time" in page
    assert Booking.objects.count() == 0


def test_double_submit_makes_one_booking_and_shows_it(client, slot):
    review_url = walk_to_review(client, slot, rrn=RRN)
    first = submit(client, review_url)
    second = submit(client, review_url)
    assert Booking.objects.count() == 1
    assert second.status_code == 302 and second["Location"] == first["Location"]


def test_steps_cannot_be_reached_without_the_token_of_the_step_before(client, slot):
    slug = slot.campaign.slug
    for name in ("bookings:choose", "bookings:review"):
        url = reverse(name, kwargs={"campaign": slug})
        for response in (
            client.get(url),
            client.get(url, {"t": "forged"}),
            client.post(url, {"t": "x"}),
        ):
            assert response.status_code == 302
            assert response["Location"] == reverse("bookings:start", kwargs={"campaign": slug})
    # a choose token does not open the review step
    choose_url = identify(client, slug, rrn=RRN)["Location"]
    response = client.post(
        reverse("bookings:review", kwargs={"campaign": slug}), {"t": token_of(choose_url)}
    )
    assert response.status_code == 302
    assert Booking.objects.count() == 0


def test_a_token_from_another_session_is_refused(client, slot):
    review_url = walk_to_review(client, slot, rrn=RRN)
    stranger = Client()
    response = submit(stranger, review_url)
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "bookings:start", kwargs={"campaign": slot.campaign.slug}
    )
    assert Booking.objects.count() == 0


def test_missing_csrf_token_is_refused_and_writes_nothing(slot):
    browser = Client(enforce_csrf_checks=True)
    response = browser.post(
        reverse("bookings:start", kwargs={"campaign": slot.campaign.slug}),
        {"name": "Kim", "rrn": RRN, "phone": "010-1234-5678"},
    )
    assert response.status_code == 403
    assert "expired" in response.content.decode()
    assert Booking.objects.count() == 0


def test_rejected_booking_offers_other_slots_and_rebooks(client, slot):
    later = SlotFactory(campaign=slot.campaign, clinic=slot.clinic, start_time="10:00", capacity=2)
    review_url = walk_to_review(client, slot, rrn=RRN)
    status_url = submit(client, review_url)["Location"]
    Slot.objects.filter(pk=slot.pk).update(booked=slot.capacity)  # others were confirmed first
    booking = Booking.objects.get()
    services.confirm_booking(booking.pk)
    page = client.get(status_url).content.decode()
    assert "This time filled up" in page and "10:00" in page

    rebook_url = reverse(
        "bookings:rebook", kwargs={"campaign": slot.campaign.slug, "public_id": booking.public_id}
    )
    assert Client().post(rebook_url, {"slot": later.pk}).status_code == 403  # not this session's
    response = client.post(rebook_url, {"slot": later.pk})
    assert response.status_code == 302
    new = Booking.objects.get(status=Booking.Status.PENDING)
    assert new.slot == later and new.rrn_hmac == booking.rrn_hmac


def test_lookup_with_code_and_rrn_then_cancel_frees_the_place(slot):
    booking = BookingFactory(slot=slot, rrn=RRN)
    services.confirm_booking(booking.pk)
    booking.refresh_from_db()
    slot.refresh_from_db()
    assert slot.booked == 1
    citizen = Client()
    cancel_url = reverse("bookings:cancel", kwargs={"public_id": booking.public_id})
    assert citizen.post(cancel_url).status_code == 403, "the code alone is not enough"

    wrong = citizen.post(reverse("bookings:lookup"), {"code": booking.code, "rrn": rrn_for(999)})
    assert "No booking matches" in wrong.content.decode()
    response = citizen.post(
        reverse("bookings:lookup"), {"code": booking.code.lower(), "rrn": "6207141234567"}
    )
    assert response.status_code == 302
    page = citizen.get(response["Location"]).content.decode()
    assert booking.code in page and "Cancel this booking" in page

    citizen.post(cancel_url)
    booking.refresh_from_db()
    slot.refresh_from_db()
    assert booking.status == Booking.Status.CANCELLED
    assert slot.booked == 0
    again = citizen.post(cancel_url, follow=True)
    assert "already cancelled" in again.content.decode()


def test_status_of_an_unknown_booking_is_404(client):
    response = client.get("/booking/6f1c3a56-9c43-4b7e-8d0c-3d8f3f0d9a11/")
    assert response.status_code == 404


def test_times_that_have_already_started_today_are_not_offered(client):
    from datetime import datetime, time, timedelta

    import time_machine
    from django.utils import timezone

    campaign = CampaignFactory(opens_at=timezone.now() - timedelta(days=1))
    today = timezone.localdate()
    morning = SlotFactory(campaign=campaign, date=today, start_time=time(9, 0))
    SlotFactory(campaign=campaign, clinic=morning.clinic, date=today, start_time=time(18, 0))
    noon = timezone.make_aware(datetime.combine(today, time(12, 0)))
    with time_machine.travel(noon, tick=False):
        url = identify(client, campaign.slug, rrn=RRN)["Location"]
        query = {"t": token_of(url), "clinic": morning.clinic.code, "date": today.isoformat()}
        page = client.get(url, query).content.decode()
        assert "18:00" in page and "09:00" not in page
        response = client.post(url, {**query, "slot": morning.pk})
        assert "not offered" in response.content.decode()
        with pytest.raises(services.SlotUnavailable, match="already passed"):
            services.request_booking(
                campaign,
                identity=services.Identity.parse(name="Kim", rrn=RRN, phone="01012345678"),
                slot_id=morning.pk,
            )
    assert Booking.objects.count() == 0


@pytest.mark.parametrize(
    "query",
    [{"region": "a\x00b"}, {"clinic": "a\x00b"}, {"clinic": "x" * 500}, {"date": "2021-02-30"}],
)
def test_odd_choices_in_the_links_get_a_message_not_a_500(client, slot, query):
    url = identify(client, slot.campaign.slug, rrn=RRN)["Location"]
    response = client.get(url, {"t": token_of(url), **query})
    assert response.status_code == 200
    assert "not valid" in response.content.decode()


def test_a_re_shown_form_never_writes_the_registration_number_back(client, slot):
    response = identify(client, slot.campaign.slug, rrn="700101-1234567")
    page = response.content.decode()
    assert "not in the cohort" in page
    assert "700101" not in page
    assert "no-store" in response["Cache-Control"]


def test_an_expired_step_token_goes_back_to_the_entry(client, slot, settings):
    import time_machine
    from django.utils import timezone

    review_url = walk_to_review(client, slot, rrn=RRN)
    later = timezone.now() + timedelta(seconds=settings.VAXBOOK_STEP_TOKEN_MAX_AGE + 1)
    with time_machine.travel(later, tick=False):
        response = submit(client, review_url)
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "bookings:start", kwargs={"campaign": slot.campaign.slug}
    )
    assert Booking.objects.count() == 0


def test_a_token_of_another_campaign_is_refused(client, slot):
    other = SlotFactory(capacity=3)
    review_url = walk_to_review(client, slot, rrn=RRN)
    foreign = reverse("bookings:review", kwargs={"campaign": other.campaign.slug})
    response = client.post(foreign, {"t": token_of(review_url)})
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "bookings:start", kwargs={"campaign": other.campaign.slug}
    )
    assert Booking.objects.count() == 0


def test_a_token_of_another_person_in_the_same_session_is_refused(client, slot):
    first_review = walk_to_review(client, slot, rrn=RRN)
    walk_to_review(client, slot, rrn="630303-2345678")  # the session now books someone else
    response = submit(client, first_review)
    assert response.status_code == 302
    assert Booking.objects.count() == 0
