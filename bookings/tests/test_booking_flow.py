from datetime import datetime, time, timedelta

import pytest
import time_machine
from django.contrib import messages
from django.forms import IntegerField
from django.forms.forms import NON_FIELD_ERRORS
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from bookings import services
from bookings.errors import OutOfCohort
from bookings.identity import IdentityError, normalise_name, normalise_phone, parse_rrn
from bookings.models import Booking
from bookings.tests.factories import BookingFactory, rrn_for
from bookings.tests.flow import identify, submit, token_of, walk_to_review
from bookings.tests.page import parse
from campaigns.tests.factories import CampaignFactory
from clinics.models import Slot
from clinics.tests.factories import ClinicFactory, SlotFactory

pytestmark = pytest.mark.django_db

RRN = "620714-1234567"


def _chosen_slot(client: Client):
    return client.session["booking_flow"]["slot_id"]


def _choice_refused(response) -> list[str]:
    """The choose page came back with its errors shown (in the summary at the top)."""
    assert response.status_code == 200
    errors = response.context["errors"]
    shown = [li.text for li in parse(response).by_id("error-summary").find_all("li")]
    assert errors and shown == [str(e) for e in errors]
    return errors


def _messages(response) -> list[int]:
    return [message.level for message in response.context["messages"]]


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
    assert 'id="booking" data-status="pending"' in pending_page
    assert 'http-equiv="refresh"' not in pending_page, "followed by a script, not a meta refresh"

    services.confirm_booking(booking.pk)
    booking.refresh_from_db()
    page = client.get(response["Location"]).content.decode()
    assert 'id="booking" data-status="confirmed"' in page
    assert f'id="booking-code">{booking.code}</strong>' in page
    assert "Jongno Health Center" in page and slot.clinic.address in page
    assert 'http-equiv="refresh"' not in page
    assert "1234567" not in page
    assert booking.name == "김민수"


def test_the_choose_step_walks_region_clinic_day_time_with_places_left(client, slot):
    SlotFactory(campaign=slot.campaign, clinic=ClinicFactory(region="Busan"), capacity=5)
    response = identify(client, slot.campaign.slug, rrn=RRN)
    url = response["Location"]
    token = token_of(url)
    regions = client.get(url)
    assert sorted(regions.context["regions"]) == ["Busan", "Seoul"]
    assert all(f"region={r}" in regions.content.decode() for r in ("Busan", "Seoul"))
    clinics = client.get(url, {"t": token, "region": "Seoul"})
    assert [(c["code"], c["places_left"]) for c in clinics.context["clinics"]] == [
        (slot.clinic.code, 3)
    ]
    page = clinics.content.decode()
    assert "Jongno Health Center" in page and f"clinic={slot.clinic.code}" in page
    days = client.get(url, {"t": token, "clinic": slot.clinic.code})
    assert [(d["date"], d["places_left"]) for d in days.context["days"]] == [(slot.date, 3)]
    assert f"date={slot.date:%Y-%m-%d}" in days.content.decode()
    times = client.get(url, {"t": token, "clinic": slot.clinic.code, "date": slot.date.isoformat()})
    assert [(s.pk, s.start_time, s.left, s.capacity) for s in times.context["slots"]] == [
        (slot.pk, time(9, 0), 3, 3)
    ]
    assert f'name="slot" value="{slot.pk}"' in times.content.decode()


def test_out_of_cohort_person_is_told_the_cohort(client, slot):
    response = identify(client, slot.campaign.slug, rrn="700101-1234567")
    assert response.status_code == 200
    form = response.context["form"]
    assert form.has_error("rrn", "out_of_cohort")
    # the service's refusal, which names the campaign's cohort
    assert form.errors["rrn"] == [OutOfCohort(slot.campaign).message]
    assert slot.campaign.cohort_label in form.errors["rrn"][0]
    assert escape(form.errors["rrn"][0]) in response.content.decode()


def _identity_refusal(check, value: str) -> str:
    """What ``bookings.identity`` says of ``value``: the page must say the same."""
    with pytest.raises(IdentityError) as refused:
        check(value)
    return str(refused.value)


@pytest.mark.parametrize(
    ("fields", "check"),
    [
        ({"rrn": "62071-41234567x"}, parse_rrn),  # not 13 digits
        ({"rrn": "620231-1234567"}, parse_rrn),  # no such date
        ({"name": ""}, None),  # required
        ({"name": "x" * 200}, normalise_name),  # longer than 50
        ({"phone": "12"}, normalise_phone),
        ({"phone": "010-1234-5678-9999"}, normalise_phone),
    ],
)
def test_bad_identity_gets_a_form_error_and_writes_nothing(client, slot, fields, check):
    [(field, value)] = fields.items()
    data = {"name": "Kim", "rrn": RRN, "phone": "010-1234-5678", **fields}
    response = client.post(reverse("bookings:start", kwargs={"campaign": slot.campaign.slug}), data)
    assert response.status_code == 200
    form = response.context["form"]
    assert list(form.errors) == [field]
    if check is None:
        assert form.has_error(field, "required")
    else:
        assert form.errors[field] == [_identity_refusal(check, value)]
    assert escape(form.errors[field][0]) in response.content.decode()
    assert Booking.objects.count() == 0
    assert "booking_flow" not in client.session


def test_a_second_booking_of_the_same_person_is_refused_with_how_to_look_it_up(client, slot):
    BookingFactory(slot=slot, rrn=RRN)
    response = identify(client, slot.campaign.slug, rrn="6207141234567")
    page = response.content.decode()
    assert response.status_code == 200
    assert response.context["form"].has_error(NON_FIELD_ERRORS, "already_booked")
    assert 'data-refusal="already_booked"' in page
    # and the way to the booking there is
    assert f'<a id="find-existing-booking" href="{reverse("bookings:lookup")}">' in page
    assert Booking.objects.count() == 1


def test_second_booking_caught_at_submit_when_made_meanwhile(client, slot):
    review_url = walk_to_review(client, slot, rrn=RRN)
    BookingFactory(slot=slot, rrn=RRN)  # another tab or person booked in between
    response = submit(client, review_url)
    assert response.status_code == 409
    assert response.context["error"].code == "already_booked"
    assert 'id="refusal" data-code="already_booked"' in response.content.decode()
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
        assert len(_choice_refused(response)) == 1  # not offered here
        assert _chosen_slot(client) is None
    response = client.post(url, {"t": token_of(url), "clinic": slot.clinic.code, "slot": "abc"})
    assert _choice_refused(response) == [str(IntegerField.default_error_messages["invalid"])]
    assert _chosen_slot(client) is None


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
    assert len(_choice_refused(response)) == 1
    # it is offered here, shown as full
    assert [(s.pk, s.left) for s in response.context["slots"]] == [(slot.pk, 0)]
    assert _chosen_slot(client) is None
    assert Booking.objects.count() == 0


def test_a_slot_that_fills_before_submit_is_refused_with_a_way_back(client, slot):
    review_url = walk_to_review(client, slot, rrn=RRN)
    Slot.objects.filter(pk=slot.pk).update(booked=slot.capacity)
    response = submit(client, review_url)
    assert response.status_code == 409
    # refused as unavailable (its campaign's, still to come: full), with a way back to choose
    assert response.context["error"].code == "slot_unavailable"
    page = response.content.decode()
    assert 'id="refusal" data-code="slot_unavailable"' in page
    choose_url = response.context["choose_url"]
    assert f'id="choose-another-time" href="{escape(choose_url)}"' in page
    assert client.get(choose_url).status_code == 200
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
    assert "403_csrf.html" in [template.name for template in response.templates]
    assert Booking.objects.count() == 0


def test_rejected_booking_offers_other_slots_and_rebooks(client, slot):
    later = SlotFactory(campaign=slot.campaign, clinic=slot.clinic, start_time="10:00", capacity=2)
    review_url = walk_to_review(client, slot, rrn=RRN)
    status_url = submit(client, review_url)["Location"]
    Slot.objects.filter(pk=slot.pk).update(booked=slot.capacity)  # others were confirmed first
    booking = Booking.objects.get()
    services.confirm_booking(booking.pk)
    status = client.get(status_url)
    page = status.content.decode()
    assert 'data-status="rejected" data-reject-reason="slot_full"' in page
    assert status.context["alternatives"] == [later]
    assert f'name="slot" value="{later.pk}"' in page

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
    assert wrong.status_code == 200
    # a well-formed code and number that match no booking: the form's own error
    form = wrong.context["form"]
    assert list(form.errors) == [NON_FIELD_ERRORS] and form.cleaned_data["rrn"]
    response = citizen.post(
        reverse("bookings:lookup"), {"code": booking.code.lower(), "rrn": "6207141234567"}
    )
    assert response.status_code == 302
    page = citizen.get(response["Location"]).content.decode()
    assert booking.code in page
    assert parse(page).by_id("cancel-link").attrs["href"] == cancel_url
    asked = parse(citizen.get(cancel_url)).by_id("cancel-booking")
    assert asked.attrs["action"] == cancel_url and asked.attrs["method"] == "post"

    cancelled = citizen.post(cancel_url, follow=True)
    assert _messages(cancelled) == [messages.SUCCESS]
    booking.refresh_from_db()
    slot.refresh_from_db()
    assert booking.status == Booking.Status.CANCELLED
    assert slot.booked == 0
    again = citizen.post(cancel_url, follow=True)
    assert _messages(again) == [messages.ERROR]  # already cancelled
    slot.refresh_from_db()
    assert slot.booked == 0


def test_status_of_an_unknown_booking_is_404(client):
    unknown = "6f1c3a56-9c43-4b7e-8d0c-3d8f3f0d9a11"
    response = client.get(reverse("bookings:status", kwargs={"public_id": unknown}))
    assert response.status_code == 404


def test_times_that_have_already_started_today_are_not_offered(client):
    campaign = CampaignFactory(opens_at=timezone.now() - timedelta(days=1))
    today = timezone.localdate()
    morning = SlotFactory(campaign=campaign, date=today, start_time=time(9, 0))
    evening = SlotFactory(campaign=campaign, clinic=morning.clinic, date=today, start_time=time(18))
    noon = timezone.make_aware(datetime.combine(today, time(12, 0)))
    with time_machine.travel(noon, tick=False):
        url = identify(client, campaign.slug, rrn=RRN)["Location"]
        query = {"t": token_of(url), "clinic": morning.clinic.code, "date": today.isoformat()}
        times = client.get(url, query)
        assert [s.pk for s in times.context["slots"]] == [evening.pk]
        assert f'value="{morning.pk}"' not in times.content.decode()
        response = client.post(url, {**query, "slot": morning.pk})
        assert len(_choice_refused(response)) == 1
        assert _chosen_slot(client) is None
        # the morning is this campaign's and has places: only its time refuses it
        assert morning.places_left > 0
        with pytest.raises(services.SlotUnavailable) as refused:
            services.request_booking(
                campaign,
                identity=services.Identity.parse(name="Kim", rrn=RRN, phone="01012345678"),
                slot_id=morning.pk,
            )
        assert refused.value.reason == "started"
    assert Booking.objects.count() == 0


@pytest.mark.parametrize(
    "query",
    [{"region": "a\x00b"}, {"clinic": "a\x00b"}, {"clinic": "x" * 500}, {"date": "2021-02-30"}],
)
def test_odd_choices_in_the_links_get_a_message_not_a_500(client, slot, query):
    url = identify(client, slot.campaign.slug, rrn=RRN)["Location"]
    response = client.get(url, {"t": token_of(url), **query})
    assert len(_choice_refused(response)) == 1
    context = response.context
    assert (context["region"], context["clinic"], context["day"]) == ("", None, None)


def test_a_re_shown_form_never_writes_the_registration_number_back(client, slot):
    response = identify(client, slot.campaign.slug, rrn="700101-1234567")
    page = response.content.decode()
    assert response.context["form"].has_error("rrn", "out_of_cohort")
    assert "700101" not in page
    assert "no-store" in response["Cache-Control"]


def test_an_expired_step_token_goes_back_to_the_entry(client, slot, settings):
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
