"""The rules of campaigns.windows at their edges: whom a staggered window covers (both ends of
its birth-date range, the digit 0), which windows count, which opening a refusal names, and
what the guard does around the waiting room."""

from datetime import date, timedelta

import pytest
import time_machine
from django.forms.forms import NON_FIELD_ERRORS
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from bookings import services as booking_services
from bookings.errors import WindowClosed
from bookings.identity import Identity
from bookings.models import Booking
from bookings.tests.factories import BookingFactory
from bookings.tests.flow import identify, token_of, walk_to_review
from campaigns import services
from campaigns.models import BookingWindow
from campaigns.tests.factories import CampaignFactory
from campaigns.tests.queue import join, queue_url
from campaigns.windows import WindowState, format_kst, is_open, window_state
from clinics.tests.factories import SlotFactory

pytestmark = pytest.mark.django_db


def _start(slug: str) -> str:
    return reverse("bookings:start", kwargs={"campaign": slug})


def _api(slug: str) -> str:
    return reverse("api:booking-create", kwargs={"campaign": slug})


def _rrn(born: date, n: int = 1) -> str:
    digit = 1 if born.year < 2000 else 3
    return f"{born:%y%m%d}-{digit}{n:06d}"


@pytest.fixture
def ranged():
    """A campaign for 1962-1966 whose window open now is for people born 1963-03-10 to
    1963-08-20 only; everyone else books from tomorrow."""
    now = timezone.now()
    campaign = CampaignFactory(opens_at=now - timedelta(hours=1), closes_at=now + timedelta(days=5))
    window = BookingWindow.objects.create(
        campaign=campaign,
        label="Spring and summer 1963",
        born_from=date(1963, 3, 10),
        born_to=date(1963, 8, 20),
        opens_at=now - timedelta(hours=1),
        closes_at=now + timedelta(hours=3),
    )
    BookingWindow.objects.create(
        campaign=campaign,
        label="Everyone",
        opens_at=now + timedelta(days=1),
        closes_at=now + timedelta(days=2),
    )
    return campaign, window


# Whom a window covers


def test_a_birth_date_range_includes_its_first_and_last_day(ranged):
    campaign, _ = ranged
    assert window_state(campaign, birth_date=date(1963, 3, 10)) is WindowState.OPEN
    assert window_state(campaign, birth_date=date(1963, 8, 20)) is WindowState.OPEN
    assert window_state(campaign, birth_date=date(1963, 3, 9)) is WindowState.SCHEDULED
    assert window_state(campaign, birth_date=date(1963, 8, 21)) is WindowState.SCHEDULED


@pytest.mark.parametrize("born", [date(1963, 3, 10), date(1963, 8, 20)])
def test_a_person_born_on_the_edge_of_the_range_books_in_their_own_window(client, ranged, born):
    campaign, _ = ranged
    slot = SlotFactory(campaign=campaign)
    review = walk_to_review(client, slot, rrn=_rrn(born))
    assert client.post(review, {"t": token_of(review)}).status_code == 302
    booking = Booking.objects.get()
    booking_services.confirm_booking(booking.pk)
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CONFIRMED


@pytest.mark.parametrize("born", [date(1963, 3, 9), date(1963, 8, 21)])
def test_a_person_born_a_day_outside_the_range_waits_for_their_window(client, ranged, born):
    campaign, _ = ranged
    response = identify(client, campaign.slug, rrn=_rrn(born))
    assert response.status_code == 200
    assert response.context["form"].has_error(NON_FIELD_ERRORS, "window_closed")
    slot = SlotFactory(campaign=campaign)
    person = Identity.parse(name="Kim", rrn=_rrn(born), phone="01012345678")
    with pytest.raises(WindowClosed):
        booking_services.request_booking(campaign, identity=person, slot_id=slot.pk)
    planted = BookingFactory(slot=slot, rrn=_rrn(born))
    booking_services.confirm_booking(planted.pk)
    planted.refresh_from_db()
    assert planted.reject_reason == Booking.RejectReason.OUTSIDE_WINDOW


def _window(campaign, **fields) -> BookingWindow:
    now = timezone.now()
    return BookingWindow.objects.create(
        campaign=campaign,
        opens_at=now - timedelta(hours=1),
        closes_at=now + timedelta(hours=1),
        **fields,
    )


def test_a_window_for_birth_days_ending_in_0_covers_only_those():
    campaign = CampaignFactory()
    _window(campaign, birth_day_last_digit=0)
    for day in (10, 20, 30):
        assert window_state(campaign, birth_date=date(1962, 7, day)) is WindowState.OPEN
    for day in (1, 11, 19, 21, 31):
        assert window_state(campaign, birth_date=date(1962, 7, day)) is WindowState.CLOSED
    # the day of the month, not the month
    assert window_state(campaign, birth_date=date(1962, 10, 7)) is WindowState.CLOSED


def test_a_window_with_a_digit_and_a_range_needs_both():
    campaign = CampaignFactory()
    _window(
        campaign, birth_day_last_digit=9, born_from=date(1962, 1, 1), born_to=date(1962, 12, 31)
    )
    assert window_state(campaign, birth_date=date(1962, 7, 19)) is WindowState.OPEN
    assert window_state(campaign, birth_date=date(1962, 7, 18)) is WindowState.CLOSED
    assert window_state(campaign, birth_date=date(1963, 7, 19)) is WindowState.CLOSED
    assert window_state(campaign, birth_date=date(1961, 12, 29)) is WindowState.CLOSED


def test_a_window_with_only_one_end_of_a_range():
    campaign = CampaignFactory()
    _window(campaign, born_from=date(1964, 1, 1))
    assert window_state(campaign, birth_date=date(1964, 1, 1)) is WindowState.OPEN
    assert window_state(campaign, birth_date=date(1966, 12, 31)) is WindowState.OPEN
    assert window_state(campaign, birth_date=date(1963, 12, 31)) is WindowState.CLOSED
    other = CampaignFactory()
    _window(other, born_to=date(1963, 12, 31))
    assert window_state(other, birth_date=date(1963, 12, 31)) is WindowState.OPEN
    assert window_state(other, birth_date=date(1962, 1, 1)) is WindowState.OPEN
    assert window_state(other, birth_date=date(1964, 1, 1)) is WindowState.CLOSED


# Which windows count, and when


def test_with_windows_the_campaigns_own_dates_no_longer_count():
    now = timezone.now()
    campaign = CampaignFactory(opens_at=now - timedelta(hours=1), closes_at=now + timedelta(days=3))
    BookingWindow.objects.create(
        campaign=campaign, opens_at=now + timedelta(days=1), closes_at=now + timedelta(days=2)
    )
    assert window_state(campaign) is WindowState.SCHEDULED
    assert not is_open(campaign)
    assert Client().get(_start(campaign.slug)).status_code == 403

    ended = CampaignFactory(opens_at=now - timedelta(days=3), closes_at=now - timedelta(days=2))
    BookingWindow.objects.create(
        campaign=ended, opens_at=now - timedelta(hours=1), closes_at=now + timedelta(hours=1)
    )
    assert window_state(ended) is WindowState.OPEN
    assert Client().get(_start(ended.slug)).status_code == 200


def test_a_staggered_window_opens_inclusive_and_closes_exclusive():
    campaign = CampaignFactory()
    window = _window(campaign, birth_day_last_digit=9)
    born, second = date(1962, 7, 19), timedelta(seconds=1)
    assert not is_open(campaign, at=window.opens_at - second, birth_date=born)
    assert is_open(campaign, at=window.opens_at, birth_date=born)
    assert is_open(campaign, at=window.closes_at - second, birth_date=born)
    assert not is_open(campaign, at=window.closes_at, birth_date=born)


def test_a_person_whose_window_has_passed_is_closed_while_others_still_wait():
    now = timezone.now()
    campaign = CampaignFactory(opens_at=now - timedelta(days=1), closes_at=now + timedelta(days=3))
    BookingWindow.objects.create(
        campaign=campaign,
        birth_day_last_digit=9,
        opens_at=now - timedelta(days=1),
        closes_at=now - timedelta(hours=20),
    )
    BookingWindow.objects.create(
        campaign=campaign,
        birth_day_last_digit=0,
        opens_at=now + timedelta(days=1),
        closes_at=now + timedelta(days=2),
    )
    assert window_state(campaign) is WindowState.SCHEDULED
    assert window_state(campaign, birth_date=date(1962, 7, 19)) is WindowState.CLOSED
    assert window_state(campaign, birth_date=date(1962, 7, 20)) is WindowState.SCHEDULED
    assert window_state(campaign, now=now + timedelta(days=3)) is WindowState.CLOSED


# What a refusal says: the next opening, for everyone or for this person


def test_the_refusal_names_the_earliest_opening_to_come():
    now = timezone.now().replace(microsecond=0)
    campaign = CampaignFactory(opens_at=now + timedelta(hours=1), closes_at=now + timedelta(days=5))
    later = now + timedelta(days=2)
    sooner = now + timedelta(days=1)
    for opens in (later, sooner):  # created latest first: the order of rows is no guide
        BookingWindow.objects.create(
            campaign=campaign, opens_at=opens, closes_at=opens + timedelta(hours=3)
        )
    answer = Client().post(_api(campaign.slug), {}, content_type="application/json")
    assert answer.status_code == 403
    assert answer.json()["state"] == "scheduled"
    assert answer.json()["opens_at"] == sooner.isoformat()
    assert answer.json()["closes_at"] == campaign.closes_at.isoformat()
    page = Client().get(_start(campaign.slug))
    assert page.status_code == 403
    assert page.context["state"] == "scheduled"
    assert page.context["opens_at_kst"] == format_kst(sooner)


def test_after_closing_the_api_says_closed_and_writes_nothing():
    campaign = CampaignFactory()
    slot = SlotFactory(campaign=campaign)
    body = {"name": "Kim", "rrn": "620714-1234567", "phone": "01012345678", "slot": slot.pk}
    with time_machine.travel(campaign.closes_at, tick=False):
        answer = Client().post(_api(campaign.slug), body, content_type="application/json")
    assert answer.status_code == 403
    assert answer.json()["state"] == "closed"
    assert Booking.objects.count() == 0


def test_an_unknown_campaign_is_a_json_404_in_the_api():
    answer = Client().post(_api("no-such-campaign"), {}, content_type="application/json")
    assert answer.status_code == 404
    assert "detail" in answer.json()


def test_a_person_whose_window_closed_mid_flow_is_told_their_own_next_opening(client):
    now = timezone.now().replace(microsecond=0)
    campaign = CampaignFactory(opens_at=now - timedelta(hours=1), closes_at=now + timedelta(days=5))
    BookingWindow.objects.create(  # theirs, now: digit 9, closing in ten minutes
        campaign=campaign,
        birth_day_last_digit=9,
        opens_at=now - timedelta(hours=1),
        closes_at=now + timedelta(minutes=10),
    )
    theirs_again = now + timedelta(days=2)
    BookingWindow.objects.create(  # theirs again, the day after tomorrow
        campaign=campaign,
        birth_day_last_digit=9,
        opens_at=theirs_again,
        closes_at=theirs_again + timedelta(hours=3),
    )
    BookingWindow.objects.create(  # somebody else's: open now, and opening again tomorrow
        campaign=campaign,
        birth_day_last_digit=1,
        opens_at=now - timedelta(hours=1),
        closes_at=now + timedelta(hours=5),
    )
    BookingWindow.objects.create(
        campaign=campaign,
        birth_day_last_digit=1,
        opens_at=now + timedelta(days=1),
        closes_at=now + timedelta(days=1, hours=3),
    )
    slot = SlotFactory(campaign=campaign)
    review = walk_to_review(client, slot, rrn="620719-1234567")
    with time_machine.travel(now + timedelta(minutes=11), tick=False):
        refused = client.get(review)
    assert refused.status_code == 403
    assert refused.context["state"] == "scheduled"
    assert refused.context["opens_at_kst"] == format_kst(theirs_again)


# The guard and the waiting room


@pytest.fixture
def two_evenings(settings):
    """Window 1 opens in an hour for ten minutes, window 2 the next day; the room is on."""
    settings.VAXBOOK_QUEUE_DRAW_GRACE = 0
    first = (timezone.now() + timedelta(hours=1)).replace(microsecond=0)
    second = first + timedelta(days=1)
    campaign = CampaignFactory(opens_at=first, closes_at=second + timedelta(hours=3))
    BookingWindow.objects.create(
        campaign=campaign, opens_at=first, closes_at=first + timedelta(minutes=10)
    )
    BookingWindow.objects.create(
        campaign=campaign, opens_at=second, closes_at=second + timedelta(hours=3)
    )
    with time_machine.travel(first - timedelta(minutes=30), tick=False):
        campaign = services.configure_waiting_room(campaign, enabled=True, per_minute=60)
    return campaign, first, second


def test_a_valid_pass_does_not_open_the_form_between_windows(two_evenings):
    campaign, first, _ = two_evenings
    client = Client()
    with time_machine.travel(first + timedelta(minutes=1), tick=False):
        services.run_draw(campaign.pk)
        assert join(client, campaign).status_code == 303
        assert client.get(_start(campaign.slug)).status_code == 200  # admitted, with a pass
    with time_machine.travel(first + timedelta(minutes=11), tick=False):  # the pass is valid
        refused = client.get(_start(campaign.slug))
        assert refused.status_code == 403
        assert refused.context["state"] == "scheduled"
        api = client.post(_api(campaign.slug), {}, content_type="application/json")
        assert api.status_code == 403 and api.json()["state"] == "scheduled"


def test_once_booking_has_closed_the_guard_says_so_instead_of_sending_to_the_queue(two_evenings):
    campaign, _, second = two_evenings
    with time_machine.travel(second + timedelta(hours=3), tick=False):
        page = Client().get(_start(campaign.slug))
        api = Client().post(_api(campaign.slug), {}, content_type="application/json")
    assert page.status_code == 403 and page.context["state"] == "closed"
    assert api.status_code == 403 and api.json()["state"] == "closed"
    assert "queue" not in api.json()


def test_before_the_opening_a_visitor_without_a_pass_is_sent_to_the_queue(two_evenings):
    campaign, first, _ = two_evenings
    with time_machine.travel(first - timedelta(minutes=1), tick=False):
        page = Client().get(_start(campaign.slug))
        api = Client().post(_api(campaign.slug), {}, content_type="application/json")
    assert page.status_code == 302 and page["Location"] == queue_url(campaign)
    assert api.status_code == 403 and api.json()["queue"] == queue_url(campaign)
