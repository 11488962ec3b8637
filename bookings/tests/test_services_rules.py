"""The rules of bookings.services, each at its edge: what a refusal leaves behind, what the
keyed hash binds, the pass's bounds, a code collision, the sweep past a stuck booking, and
which day a booking may be cancelled or checked in (Korea's, not the server's UTC)."""

import hashlib
import hmac
import threading
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings as django_settings
from django.db import IntegrityError, connection, transaction
from django.forms.forms import NON_FIELD_ERRORS
from django.test import Client
from django.utils import timezone

from bookings import services
from bookings.errors import (
    AlreadyBooked,
    CannotCheckIn,
    CannotRebook,
    NotCancellable,
    OutOfCohort,
    PassBeforeWindow,
    PassFull,
    SlotUnavailable,
    WindowClosed,
)
from bookings.identity import Identity, decrypt_rrn, parse_rrn
from bookings.models import Booking
from bookings.tests.factories import BookingFactory, rrn_for
from bookings.tests.flow import identify
from campaigns import services as campaign_services
from campaigns.models import AdmissionPass, BookingWindow, PassHolder
from campaigns.tests.factories import CampaignFactory
from campaigns.waiting_room import Pass
from clinics.models import Slot
from clinics.tests.factories import (
    ClinicFactory,
    SlotFactory,
    StaffMembershipFactory,
    UserFactory,
)
from vaxbook.roles import CLINIC_STAFF, ensure_roles

pytestmark = pytest.mark.django_db

KST = ZoneInfo("Asia/Seoul")
UTC = ZoneInfo("UTC")
RRN = "620714-1234567"
DIGITS = "6207141234567"


def _keyed(digits: str) -> str:
    key = django_settings.VAXBOOK_RRN_HMAC_KEY.encode()
    return hmac.new(key, digits.encode(), hashlib.sha256).hexdigest()


def _person(rrn: str = RRN, name: str = "Kim Minsu") -> Identity:
    return Identity.parse(name=name, rrn=rrn, phone="010-1234-5678")


def _request(slot: Slot, rrn: str = RRN, **kwargs) -> Booking:
    return services.request_booking(slot.campaign, identity=_person(rrn), slot_id=slot.pk, **kwargs)


def _confirmed(slot: Slot, **kwargs) -> Booking:
    booking = BookingFactory(slot=slot, **kwargs)
    return services.confirm_booking(booking.pk)


# request_booking: what it writes


def test_a_request_keeps_the_keyed_hash_and_the_ciphertext_never_the_number(
    django_capture_on_commit_callbacks,
):
    slot = SlotFactory()
    moment = timezone.now().replace(microsecond=0)
    with django_capture_on_commit_callbacks() as enqueued:
        booking = _request(slot, now=moment)
    booking = Booking.objects.get(pk=booking.pk)
    assert booking.status == Booking.Status.PENDING and booking.code is None
    assert booking.rrn_hmac == _keyed(DIGITS)
    assert DIGITS not in booking.rrn_encrypted
    assert decrypt_rrn(booking.rrn_encrypted).digits == DIGITS
    assert (booking.birth_date, booking.rrn_gender_digit) == (parse_rrn(RRN).birth_date, "1")
    assert booking.requested_at == moment
    assert (booking.admission_pass, booking.waiting_room_required) == ("", False)
    assert len(enqueued) == 1  # its confirmation, published once the row is committed
    slot.refresh_from_db()
    assert slot.booked == 0  # a request takes no place: the confirmation does


def test_a_second_request_of_the_same_person_is_refused_while_the_first_is_active():
    slot = SlotFactory()
    first = _request(slot)
    with pytest.raises(AlreadyBooked):
        _request(slot)
    services.confirm_booking(first.pk)
    with pytest.raises(AlreadyBooked):
        _request(SlotFactory(campaign=slot.campaign, clinic=slot.clinic, start_time=time(10)))
    services.cancel_booking(first.pk)
    assert _request(slot).status == Booking.Status.PENDING  # a cancelled one does not count
    # the same person in another campaign is another booking
    assert _request(SlotFactory()).status == Booking.Status.PENDING


def test_the_identity_step_already_refuses_a_person_with_an_active_booking(client):
    slot = SlotFactory()
    BookingFactory(slot=slot, rrn=RRN)
    with pytest.raises(AlreadyBooked):
        services.check_booking_allowed(slot.campaign, rrn=parse_rrn(RRN), admission=None)
    response = identify(client, slot.campaign.slug, rrn=RRN)
    assert response.status_code == 200
    assert response.context["form"].has_error(NON_FIELD_ERRORS, "already_booked")
    assert identify(client, slot.campaign.slug, rrn=rrn_for(7)).status_code == 302


# request_booking: each refusal, and that it writes nothing


def _nothing_written():
    return Booking.objects.count() == 0


@pytest.mark.parametrize(
    ("rrn", "ok"),
    [
        ("611231-1234567", False),
        ("620101-1234567", True),
        ("661231-2234567", True),
        ("670101-2234567", False),
    ],
)
def test_the_cohort_is_checked_by_the_service_itself(rrn, ok):
    slot = SlotFactory()
    if ok:
        assert _request(slot, rrn).status == Booking.Status.PENDING
    else:
        with pytest.raises(OutOfCohort):
            _request(slot, rrn)
        assert _nothing_written()


def test_the_window_is_checked_at_the_requests_own_moment():
    slot = SlotFactory(date=timezone.localdate() + timedelta(days=10))  # after the closing
    campaign = slot.campaign
    second = timedelta(seconds=1)
    for moment in (campaign.opens_at - second, campaign.closes_at):
        with pytest.raises(WindowClosed):
            _request(slot, now=moment)
    assert _nothing_written()
    assert _request(slot, now=campaign.opens_at).status == Booking.Status.PENDING
    assert _request(slot, rrn_for(1), now=campaign.closes_at - second).requested_at == (
        campaign.closes_at - second
    )


def test_the_window_checked_is_the_persons_own():
    now = timezone.now()
    campaign = CampaignFactory(opens_at=now - timedelta(hours=1))
    BookingWindow.objects.create(
        campaign=campaign,
        birth_day_last_digit=9,
        opens_at=now - timedelta(hours=1),
        closes_at=now + timedelta(hours=1),
    )
    slot = SlotFactory(campaign=campaign)
    with pytest.raises(WindowClosed):
        _request(slot, "620710-1234567")
    assert _nothing_written()
    assert _request(slot, "620719-1234567").status == Booking.Status.PENDING


def test_a_slot_of_another_campaign_is_refused():
    slot = SlotFactory()
    foreign = SlotFactory()
    for slot_id in (foreign.pk, 10**9):
        with pytest.raises(SlotUnavailable) as refused:
            services.request_booking(slot.campaign, identity=_person(), slot_id=slot_id)
        assert refused.value.reason == "not_offered"
    assert _nothing_written()


def test_a_slot_is_refused_from_the_moment_it_starts():
    today = timezone.localdate()
    campaign = CampaignFactory(opens_at=timezone.now() - timedelta(days=1))
    slot = SlotFactory(campaign=campaign, date=today, start_time=time(12, 0))
    noon = datetime.combine(today, time(12, 0), tzinfo=KST)
    for moment in (noon, noon + timedelta(hours=1)):
        with pytest.raises(SlotUnavailable) as refused:
            _request(slot, now=moment)
        assert refused.value.reason == "started"
    assert _nothing_written()
    assert _request(slot, now=noon - timedelta(seconds=1)).status == Booking.Status.PENDING


def test_a_slot_is_visibly_full_at_its_capacity_not_before():
    slot = SlotFactory(capacity=2)
    Slot.objects.filter(pk=slot.pk).update(booked=1)
    assert _request(slot).status == Booking.Status.PENDING
    Slot.objects.filter(pk=slot.pk).update(booked=2)
    with pytest.raises(SlotUnavailable) as refused:
        _request(slot, rrn_for(1))
    assert refused.value.reason == "full"
    assert Booking.objects.count() == 1


# request_booking and bind_pass_to_person: the waiting room's pass


@pytest.fixture
def room():
    """A campaign open since ten minutes, its waiting room on since before the opening."""
    opening = (timezone.now() - timedelta(minutes=10)).replace(microsecond=0)
    campaign = CampaignFactory(opens_at=opening, closes_at=opening + timedelta(days=3))
    campaign = campaign_services.configure_waiting_room(
        campaign, enabled=True, per_minute=60, now=opening - timedelta(hours=1)
    )
    return campaign, opening


def _pass(opening: datetime, ticket: str = "a1b2c3d4e5f6a7b8") -> Pass:
    return Pass(
        ticket_id=ticket,
        opening=float(int(opening.timestamp())),
        admitted_at=opening.timestamp() + 5,
    )


def test_with_the_room_on_a_request_needs_a_pass_and_records_it(room):
    campaign, opening = room
    slot = SlotFactory(campaign=campaign)
    with pytest.raises(WindowClosed):
        _request(slot)
    assert _nothing_written()
    booking = _request(slot, admission=_pass(opening))
    assert (booking.admission_pass, booking.waiting_room_required) == ("a1b2c3d4e5f6a7b8", True)


def test_the_pass_holds_the_keyed_hash_of_the_person(room):
    campaign, opening = room
    services.bind_pass_to_person(campaign, admission=_pass(opening), rrn=parse_rrn(RRN))
    the_pass = AdmissionPass.objects.get(campaign=campaign)
    assert the_pass.ticket_id == "a1b2c3d4e5f6a7b8"
    assert the_pass.opening.timestamp() == int(opening.timestamp())
    assert the_pass.admitted_at.timestamp() == opening.timestamp() + 5
    assert list(the_pass.holders.values_list("person", flat=True)) == [_keyed(DIGITS)]


def test_a_pass_binds_at_most_the_people_per_pass_and_the_same_people_again(room, settings):
    settings.VAXBOOK_PEOPLE_PER_PASS = 2
    campaign, opening = room
    admission = _pass(opening)
    for n in (0, 1, 0, 1):
        services.bind_pass_to_person(campaign, admission=admission, rrn=parse_rrn(rrn_for(n)))
    with pytest.raises(PassFull) as refused:
        services.bind_pass_to_person(campaign, admission=admission, rrn=parse_rrn(rrn_for(2)))
    assert (refused.value.code, refused.value.limit) == ("pass_full", 2)
    assert PassHolder.objects.count() == 2
    # another ticket's pass is another household, counted on its own, whoever else it bound
    other = _pass(opening, ticket="ffffeeeeddddcccc")
    for n in (0, 2):
        services.bind_pass_to_person(campaign, admission=other, rrn=parse_rrn(rrn_for(n)))
    with pytest.raises(PassFull):
        services.bind_pass_to_person(campaign, admission=other, rrn=parse_rrn(rrn_for(3)))
    on_other = PassHolder.objects.filter(admission_pass__ticket_id=other.ticket_id)
    assert set(on_other.values_list("person", flat=True)) == {
        _keyed(parse_rrn(rrn_for(n)).digits) for n in (0, 2)
    }


def test_a_pass_from_the_line_of_an_earlier_opening_does_not_book_a_later_window(room):
    campaign, opening = room
    later = opening + timedelta(minutes=5, milliseconds=500)  # not on a whole second
    BookingWindow.objects.create(  # digit 9, opening five minutes after the campaign
        campaign=campaign,
        birth_day_last_digit=9,
        opens_at=later,
        closes_at=opening + timedelta(days=1),
    )
    BookingWindow.objects.create(  # everyone else, from the campaign's opening
        campaign=campaign,
        birth_day_last_digit=1,
        opens_at=opening,
        closes_at=opening + timedelta(days=1),
    )
    campaign.refresh_from_db()
    nine = parse_rrn("620719-1234567")
    with pytest.raises(PassBeforeWindow) as refused:
        services.bind_pass_to_person(campaign, admission=_pass(opening), rrn=nine)
    assert refused.value.code == "pass_before_window"
    assert refused.value.window_opened == later
    assert PassHolder.objects.count() == 0
    slot = SlotFactory(campaign=campaign)
    with pytest.raises(PassBeforeWindow):
        _request(slot, "620719-1234567", admission=_pass(opening))
    assert _nothing_written()
    # the line of that window's own opening (named by its whole second) books them
    services.bind_pass_to_person(campaign, admission=_pass(later, ticket="b" * 16), rrn=nine)
    # and the earlier line books the people whose window opened with it
    services.bind_pass_to_person(
        campaign, admission=_pass(opening), rrn=parse_rrn("620711-1234567")
    )


def test_a_person_in_two_open_windows_may_use_the_line_of_the_earlier(room):
    campaign, opening = room
    for start, digit in ((opening, 9), (opening + timedelta(minutes=5), 9)):
        BookingWindow.objects.create(
            campaign=campaign,
            birth_day_last_digit=digit,
            opens_at=start,
            closes_at=opening + timedelta(days=1),
        )
    nine = parse_rrn("620719-1234567")
    services.bind_pass_to_person(campaign, admission=_pass(opening), rrn=nine)
    assert PassHolder.objects.count() == 1


def test_a_window_of_the_person_that_has_closed_does_not_count_for_the_pass(room):
    campaign, opening = room
    BookingWindow.objects.create(  # theirs, before the opening of the pass's line: closed
        campaign=campaign,
        birth_day_last_digit=9,
        opens_at=opening - timedelta(days=2),
        closes_at=opening - timedelta(days=1),
    )
    reopened = opening + timedelta(minutes=5)
    BookingWindow.objects.create(  # theirs again, open now, opened after the pass's line
        campaign=campaign,
        birth_day_last_digit=9,
        opens_at=reopened,
        closes_at=opening + timedelta(days=1),
    )
    with pytest.raises(PassBeforeWindow):
        services.bind_pass_to_person(
            campaign, admission=_pass(opening), rrn=parse_rrn("620719-1234567")
        )


def test_a_refusal_before_the_pass_check_takes_no_place_on_it_a_later_one_does(room, settings):
    settings.VAXBOOK_PEOPLE_PER_PASS = 4
    campaign, opening = room
    slot = SlotFactory(campaign=campaign)
    admission = _pass(opening)
    with pytest.raises(OutOfCohort):
        _request(slot, "700101-1234567", admission=admission)
    with pytest.raises(WindowClosed):
        _request(slot, admission=admission, now=campaign.closes_at)
    assert PassHolder.objects.count() == 0
    # an already-booked person still takes a place: one pass cannot probe many numbers
    BookingFactory(slot=slot, rrn=RRN)
    with pytest.raises(AlreadyBooked):
        _request(slot, admission=admission)
    assert list(PassHolder.objects.values_list("person", flat=True)) == [_keyed(DIGITS)]


# rebook


def test_only_a_rejected_booking_is_rebooked_and_for_the_same_person():
    slot = SlotFactory(capacity=1)
    other = SlotFactory(campaign=slot.campaign, clinic=slot.clinic, start_time=time(10))
    _confirmed(slot)
    rejected = services.confirm_booking(BookingFactory(slot=slot, rrn=RRN).pk)
    assert rejected.status == Booking.Status.REJECTED
    new = services.rebook(rejected, slot_id=other.pk)
    assert (new.status, new.slot_id, new.rrn_hmac) == (
        Booking.Status.PENDING,
        other.pk,
        _keyed(DIGITS),
    )
    for booking in (new, services.confirm_booking(new.pk)):
        with pytest.raises(CannotRebook) as refused:
            services.rebook(booking, slot_id=other.pk)
        assert refused.value.code == "cannot_rebook"
    assert Booking.objects.filter(slot=other).count() == 1


def test_a_rebooking_goes_through_the_same_pass(room):
    campaign, opening = room
    slot = SlotFactory(campaign=campaign, capacity=1)
    other = SlotFactory(campaign=campaign, clinic=slot.clinic, start_time=time(10))
    admission = _pass(opening)
    requested = _request(slot, admission=admission)
    Slot.objects.filter(pk=slot.pk).update(booked=1)  # filled by others meanwhile
    rejected = services.confirm_booking(requested.pk)
    assert rejected.status == Booking.Status.REJECTED
    with pytest.raises(WindowClosed):  # the room is on: no pass, no booking
        services.rebook(rejected, slot_id=other.pk)
    new = services.rebook(rejected, slot_id=other.pk, admission=admission)
    assert (new.slot_id, new.admission_pass) == (other.pk, admission.ticket_id)


# confirm_booking


CODE_ALPHABET = set("ABCDEFGHJKMNPQRSTUVWXYZ23456789")


def test_codes_are_eight_characters_without_the_ones_people_misread():
    codes = [services.new_booking_code() for _ in range(3000)]
    assert {len(c) for c in codes} == {8}
    assert set("".join(codes)) == CODE_ALPHABET  # every letter used, none of 0 O 1 I L


def test_confirming_records_the_moment_it_was_decided():
    slot = SlotFactory()
    moment = timezone.now().replace(microsecond=0) + timedelta(seconds=30)
    booking = services.confirm_booking(BookingFactory(slot=slot).pk, now=moment)
    booking.refresh_from_db()
    assert booking.decided_at == moment and set(booking.code) <= CODE_ALPHABET
    full = SlotFactory(capacity=1)
    _confirmed(full)
    rejected = services.confirm_booking(BookingFactory(slot=full).pk, now=moment)
    rejected.refresh_from_db()
    assert (rejected.status, rejected.decided_at) == (Booking.Status.REJECTED, moment)


def test_the_last_place_is_taken_and_then_the_slot_is_full():
    slot = SlotFactory(capacity=2)
    Slot.objects.filter(pk=slot.pk).update(booked=1)
    assert services.confirm_booking(BookingFactory(slot=slot).pk).status == "confirmed"
    late = services.confirm_booking(BookingFactory(slot=slot).pk)
    assert (late.status, late.reject_reason) == ("rejected", Booking.RejectReason.SLOT_FULL)
    slot.refresh_from_db()
    assert slot.booked == 2


def test_the_worker_rechecks_the_window_at_the_request_not_at_the_decision():
    slot = SlotFactory()
    campaign = slot.campaign
    at_opening = BookingFactory(slot=slot, requested_at=campaign.opens_at)
    at_closing = BookingFactory(slot=slot, requested_at=campaign.closes_at)
    services.confirm_booking(at_opening.pk, now=campaign.closes_at + timedelta(hours=1))
    services.confirm_booking(at_closing.pk, now=campaign.opens_at + timedelta(hours=1))
    at_opening.refresh_from_db()
    at_closing.refresh_from_db()
    assert at_opening.status == Booking.Status.CONFIRMED
    assert at_closing.reject_reason == Booking.RejectReason.OUTSIDE_WINDOW
    slot.refresh_from_db()
    assert slot.booked == 1


def test_a_booking_code_collision_is_retried_with_a_new_code(monkeypatch):
    slot = SlotFactory(capacity=5)
    taken = _confirmed(slot).code
    codes = iter([taken, taken, "NEWKEYS2"])
    monkeypatch.setattr(services, "new_booking_code", lambda: next(codes))
    booking = services.confirm_booking(BookingFactory(slot=slot).pk)
    booking.refresh_from_db()
    slot.refresh_from_db()
    assert (booking.status, booking.code) == (Booking.Status.CONFIRMED, "NEWKEYS2")
    assert slot.booked == 2, "the attempts that collided took no place"


def test_a_code_that_keeps_colliding_fails_loudly_after_a_few_tries(monkeypatch):
    slot = SlotFactory(capacity=5)
    taken = _confirmed(slot).code
    tries = []

    def always_taken():
        tries.append(1)
        if len(tries) > 50:
            raise RuntimeError("retried without end")
        return taken

    monkeypatch.setattr(services, "new_booking_code", always_taken)
    booking = BookingFactory(slot=slot)
    with pytest.raises(IntegrityError):
        services.confirm_booking(booking.pk)
    assert 1 < len(tries) <= 10
    booking.refresh_from_db()
    slot.refresh_from_db()
    assert (booking.status, slot.booked) == (Booking.Status.PENDING, 1)


# give_up_booking


def test_giving_up_rejects_a_pending_booking_and_takes_no_place():
    slot = SlotFactory(capacity=3)
    _confirmed(slot)
    booking = BookingFactory(slot=slot)
    moment = timezone.now().replace(microsecond=0)
    given_up = services.give_up_booking(
        booking.pk, reason=Booking.RejectReason.SYSTEM_ERROR, now=moment
    )
    booking.refresh_from_db()
    slot.refresh_from_db()
    assert given_up.pk == booking.pk
    assert (booking.status, booking.reject_reason, booking.decided_at) == (
        Booking.Status.REJECTED,
        Booking.RejectReason.SYSTEM_ERROR,
        moment,
    )
    assert booking.code is None and slot.booked == 1
    assert services.confirm_booking(booking.pk).status == Booking.Status.REJECTED


def test_giving_up_leaves_a_confirmed_booking_and_its_place_alone():
    slot = SlotFactory(capacity=3)
    booking = _confirmed(slot)
    before = Booking.objects.get(pk=booking.pk)
    after = services.give_up_booking(booking.pk, reason=Booking.RejectReason.SYSTEM_ERROR)
    after.refresh_from_db()
    assert (after.status, after.code, after.reject_reason, after.decided_at) == (
        Booking.Status.CONFIRMED,
        before.code,
        "",
        before.decided_at,
    )
    slot.refresh_from_db()
    assert slot.booked == 1
    assert services.give_up_booking(10**9, reason=Booking.RejectReason.SYSTEM_ERROR) is None


# cancel_booking


def test_cancelling_a_pending_booking_frees_nobody_elses_place():
    slot = SlotFactory(capacity=3)
    _confirmed(slot)
    pending = BookingFactory(slot=slot)
    moment = timezone.now().replace(microsecond=0)
    services.cancel_booking(pending.pk, now=moment)
    pending.refresh_from_db()
    slot.refresh_from_db()
    assert (pending.status, pending.cancelled_at) == (Booking.Status.CANCELLED, moment)
    assert slot.booked == 1


def test_cancelling_a_confirmed_booking_frees_its_place_once():
    slot = SlotFactory(capacity=3)
    booking = _confirmed(slot)
    _confirmed(slot)
    services.cancel_booking(booking.pk)
    slot.refresh_from_db()
    assert slot.booked == 1
    with pytest.raises(NotCancellable) as refused:
        services.cancel_booking(booking.pk)
    assert refused.value.reason == "not_active"
    slot.refresh_from_db()
    assert slot.booked == 1
    rejected = BookingFactory(slot=slot, status=Booking.Status.REJECTED)
    with pytest.raises(NotCancellable) as refused:
        services.cancel_booking(rejected.pk)
    assert refused.value.reason == "not_active"


def _korea(day, hour, minute=0) -> datetime:
    """That moment of Korea's day, as the server's clock gives it (UTC)."""
    return datetime.combine(day, time(hour, minute), tzinfo=KST).astimezone(UTC)


def test_an_appointment_can_be_cancelled_until_its_day_ends_in_korea():
    day = timezone.localdate() + timedelta(days=3)
    slot = SlotFactory(date=day, start_time=time(9))
    first, second = _confirmed(slot), _confirmed(slot)
    # 23:30 on the day in Korea is 14:30 UTC: still the day
    services.cancel_booking(first.pk, now=_korea(day, 23, 30))
    # 00:30 the next day in Korea is still the day in UTC: too late all the same
    next_morning = _korea(day + timedelta(days=1), 0, 30)
    assert next_morning.astimezone(UTC).date() == day
    with pytest.raises(NotCancellable) as refused:
        services.cancel_booking(second.pk, now=next_morning)
    assert refused.value.reason == "past"


# check_in_booking: only a confirmed booking, only on its day in Korea


@pytest.fixture
def staff_client():
    groups = ensure_roles()
    clinic = ClinicFactory()
    user = UserFactory(is_staff=True, password=None)
    user.groups.add(groups[CLINIC_STAFF])
    StaffMembershipFactory(clinic=clinic, user=user)
    client = Client()
    client.force_login(user)
    return client, clinic, user


def _check_in_url(clinic, booking) -> str:
    return f"/api/clinics/{clinic.code}/bookings/{booking.code}/check-in/"


@pytest.mark.usefixtures("away_from_midnight")
@pytest.mark.parametrize("days", [-1, 1, 7])
def test_staff_cannot_check_a_person_in_on_another_day(staff_client, days):
    client, clinic, _ = staff_client
    campaign = CampaignFactory(opens_at=timezone.now() - timedelta(days=10))
    slot = SlotFactory(
        campaign=campaign, clinic=clinic, date=timezone.localdate() + timedelta(days)
    )
    booking = _confirmed(slot, requested_at=timezone.now() - timedelta(days=9))
    answer = client.post(_check_in_url(clinic, booking))
    assert answer.status_code == 409
    page = client.post(f"/staff/clinics/{clinic.code}/check-in/{booking.code}/")
    assert page.status_code == 302
    booking.refresh_from_db()
    assert booking.checked_in_at is None and booking.checked_in_by is None


@pytest.mark.usefixtures("away_from_midnight")
def test_staff_check_a_person_in_on_the_day_once(staff_client):
    client, clinic, user = staff_client
    slot = SlotFactory(clinic=clinic, date=timezone.localdate())
    booking = _confirmed(slot)
    answer = client.post(_check_in_url(clinic, booking))
    assert answer.status_code == 200 and answer.json()["code"] == booking.code
    booking.refresh_from_db()
    first = booking.checked_in_at
    assert first is not None and booking.checked_in_by == user
    other = UserFactory(password=None)
    again = services.check_in_booking(booking.pk, by=other, now=first + timedelta(minutes=5))
    again.refresh_from_db()
    assert (again.checked_in_at, again.checked_in_by) == (first, user)


def test_the_day_of_a_check_in_is_the_day_in_korea():
    day = timezone.localdate() + timedelta(days=3)
    slot = SlotFactory(date=day, start_time=time(9))
    early, late, after = _confirmed(slot), _confirmed(slot), _confirmed(slot)
    staff = UserFactory(password=None)
    # 08:00 in Korea is 23:00 UTC the day before
    services.check_in_booking(early.pk, by=staff, now=_korea(day, 8))
    services.check_in_booking(late.pk, by=staff, now=_korea(day, 23, 59))
    for moment in (_korea(day + timedelta(days=1), 0, 5), _korea(day - timedelta(days=1), 23, 55)):
        with pytest.raises(CannotCheckIn) as refused:
            services.check_in_booking(after.pk, by=staff, now=moment)
        assert refused.value.reason == "not_today"
    for booking in (early, late, after):
        booking.refresh_from_db()
    assert early.checked_in_at == _korea(day, 8) and late.checked_in_at is not None
    assert after.checked_in_at is None


def test_only_a_confirmed_booking_is_checked_in():
    slot = SlotFactory(date=timezone.localdate() + timedelta(days=3))
    moment = _korea(slot.date, 10)
    pending = BookingFactory(slot=slot)
    cancelled = _confirmed(slot)
    services.cancel_booking(cancelled.pk)
    for booking in (pending, cancelled):
        with pytest.raises(CannotCheckIn) as refused:
            services.check_in_booking(booking.pk, by=UserFactory(password=None), now=moment)
        assert refused.value.reason == "not_confirmed"
        booking.refresh_from_db()
        assert booking.checked_in_at is None


# The row lock: a change waits for a decision in progress, then sees it


def _while_a_confirmation_is_uncommitted(booking_id: int, change):
    """Run ``change`` while another connection has confirmed the booking but not committed
    yet (it commits half a second later); returns what ``change`` returned."""
    decided, release = threading.Event(), threading.Event()

    def confirm_and_hold():
        try:
            with transaction.atomic():
                services.confirm_booking(booking_id)
                decided.set()
                release.wait(timeout=10)
        finally:
            connection.close()

    worker = threading.Thread(target=confirm_and_hold)
    worker.start()
    try:
        assert decided.wait(timeout=10)
        threading.Timer(0.5, release.set).start()
        return change()
    finally:
        release.set()
        worker.join()


@pytest.mark.django_db(transaction=True)
def test_a_confirmation_delivered_twice_at_once_takes_one_place():
    slot = SlotFactory(capacity=10)
    booking = BookingFactory(slot=slot)
    second = _while_a_confirmation_is_uncommitted(
        booking.pk, lambda: services.confirm_booking(booking.pk)
    )
    slot.refresh_from_db()
    booking.refresh_from_db()
    assert (booking.status, second.code, slot.booked) == (Booking.Status.CONFIRMED, booking.code, 1)


@pytest.mark.django_db(transaction=True)
def test_a_cancellation_during_a_confirmation_gives_the_place_back():
    slot = SlotFactory(capacity=10)
    booking = BookingFactory(slot=slot)
    _while_a_confirmation_is_uncommitted(booking.pk, lambda: services.cancel_booking(booking.pk))
    slot.refresh_from_db()
    booking.refresh_from_db()
    assert (booking.status, slot.booked) == (Booking.Status.CANCELLED, 0)


@pytest.mark.django_db(transaction=True)
def test_giving_up_during_a_confirmation_leaves_the_confirmation_alone():
    slot = SlotFactory(capacity=10)
    booking = BookingFactory(slot=slot)
    _while_a_confirmation_is_uncommitted(
        booking.pk,
        lambda: services.give_up_booking(booking.pk, reason=Booking.RejectReason.SYSTEM_ERROR),
    )
    slot.refresh_from_db()
    booking.refresh_from_db()
    assert (booking.status, slot.booked) == (Booking.Status.CONFIRMED, 1)


# sweep_pending_bookings


def test_the_sweep_takes_what_has_waited_longer_than_its_delay_and_only_pending(settings):
    settings.VAXBOOK_PENDING_SWEEP_AFTER = 120
    slot = SlotFactory(capacity=10)
    now = timezone.now().replace(microsecond=0)
    cutoff = now - timedelta(seconds=120)
    stale = BookingFactory(slot=slot, requested_at=cutoff - timedelta(microseconds=1))
    on_the_edge = BookingFactory(slot=slot, requested_at=cutoff)
    decided = _confirmed(slot, requested_at=cutoff - timedelta(minutes=5))
    decided_at = Booking.objects.get(pk=decided.pk).decided_at
    assert services.sweep_pending_bookings(now=now) == 1
    stale.refresh_from_db()
    on_the_edge.refresh_from_db()
    decided.refresh_from_db()
    assert (stale.status, stale.decided_at) == (Booking.Status.CONFIRMED, now)
    assert on_the_edge.status == Booking.Status.PENDING
    assert decided.decided_at == decided_at
    slot.refresh_from_db()
    assert slot.booked == 2


@pytest.mark.django_db(transaction=True)
def test_the_sweep_goes_on_past_a_booking_it_cannot_decide():
    """A booking whose row stays locked (a stuck worker holds it) makes its decision fail with
    a lock timeout; every other lost confirmation is still decided, and the next sweep takes
    the stuck one once it is free."""
    slot = SlotFactory(capacity=10)
    long_ago = timezone.now() - timedelta(hours=1)
    lost = [
        BookingFactory(slot=slot, requested_at=long_ago + timedelta(seconds=n)) for n in range(5)
    ]
    stuck = lost[2]  # in the middle, whichever way the sweep walks them
    locked, release = threading.Event(), threading.Event()

    def hold_the_row():
        try:
            with transaction.atomic():
                Booking.objects.select_for_update().get(pk=stuck.pk)
                locked.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_the_row)
    holder.start()
    try:
        assert locked.wait(timeout=10)
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '200ms'")
        try:
            assert services.sweep_pending_bookings() == 4
        finally:
            with connection.cursor() as cursor:
                cursor.execute("RESET lock_timeout")
    finally:
        release.set()
        holder.join()
    statuses = dict(Booking.objects.values_list("pk", "status"))
    assert statuses.pop(stuck.pk) == Booking.Status.PENDING
    assert set(statuses.values()) == {Booking.Status.CONFIRMED}
    assert services.sweep_pending_bookings() == 1
    assert Booking.objects.get(pk=stuck.pk).status == Booking.Status.CONFIRMED
