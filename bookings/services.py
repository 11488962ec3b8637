"""Every state change of a booking goes through a function here."""

import logging
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from bookings.errors import (
    AlreadyBooked,
    CannotCheckIn,
    CannotRebook,
    NotCancellable,
    OutOfCohort,
    PassBeforeWindow,
    PassFull,
    PhoneNotVerified,
    SlotUnavailable,
    WindowClosed,
)
from bookings.identity import Identity, Rrn, decrypt_rrn, encrypt_rrn, rrn_hmac
from bookings.models import Booking
from bookings.selectors import active_bookings_of_person, has_active_booking
from campaigns import waiting_room, windows
from campaigns.models import AdmissionPass, Campaign, PassHolder
from campaigns.selectors import campaign_for_birth_date
from campaigns.waiting_room import Pass
from clinics.models import Slot
from vaxbook.notifications import services as notifications

logger = logging.getLogger(__name__)

# No 0/O or 1/I/L: codes are read out over the phone and typed from paper.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8


def new_booking_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def _enqueue_confirmation(booking_id: int) -> None:
    # Imported here: the task module imports this one.
    from bookings import tasks

    tasks.confirm_booking.delay(booking_id)


def bind_pass_to_person(
    campaign: Campaign, *, admission: Pass, rrn: Rrn, now: datetime | None = None
) -> None:
    """Check that this admission pass may book for this person, and bind the person to it
    (committed at once, whatever happens next: a mistyped but valid number takes a place).

    A pass books for the people whose window had opened when its ticket queued (the line of
    a later opening is that opening's to fill: ``PassBeforeWindow``), and for at most
    ``VAXBOOK_PEOPLE_PER_PASS`` different people (``PassFull``): the first identity submitted
    with it binds the first place, and so on. A person already bound passes again freely.
    Binding locks the pass's row, so a burst of identities on one pass cannot overshoot.
    """
    now = now or timezone.now()
    born = rrn.birth_date
    covering = [w for w in windows.windows_of(campaign) if w.covers(born) and w.is_open(now)]
    # Lines are named by their opening's whole second (waiting_room.Ticket.opening).
    if covering and all(int(w.opens_at.timestamp()) > admission.opening for w in covering):
        raise PassBeforeWindow(min(w.opens_at for w in covering))
    person = rrn_hmac(rrn)
    bound = PassHolder.objects.filter(
        admission_pass__campaign=campaign,
        admission_pass__ticket_id=admission.ticket_id,
        person=person,
    )
    if bound.exists():
        return
    limit = settings.VAXBOOK_PEOPLE_PER_PASS
    with transaction.atomic():
        AdmissionPass.objects.bulk_create(
            [
                AdmissionPass(
                    campaign=campaign,
                    ticket_id=admission.ticket_id,
                    opening=waiting_room.as_datetime(admission.opening),
                    admitted_at=waiting_room.as_datetime(admission.admitted_at),
                )
            ],
            ignore_conflicts=True,
        )
        the_pass = AdmissionPass.objects.select_for_update().get(
            campaign=campaign, ticket_id=admission.ticket_id
        )
        people = set(the_pass.holders.values_list("person", flat=True))
        if person in people:
            return
        if len(people) >= limit:
            raise PassFull(limit)
        PassHolder.objects.create(admission_pass=the_pass, person=person, bound_at=now)


def check_booking_allowed(
    campaign: Campaign,
    *,
    rrn: Rrn,
    admission: Pass | None,
    now: datetime | None = None,
) -> None:
    """Raise the refusal (``BookingRefused``) that stops this person booking in this campaign
    now, or return: out of the cohort, outside a window covering them, no admission pass that
    may book for them while the waiting room is on, or an active booking already. The identity
    step shows the refusal on its form; ``request_booking`` calls this first.

    With the waiting room on, this binds the person to the pass (``bind_pass_to_person``):
    committed whatever comes next, which is how a pass stops testing numbers one by one.
    """
    now = now or timezone.now()
    born = rrn.birth_date
    if not campaign.covers_birth_date(born):
        raise OutOfCohort(
            campaign,
            other_campaign=campaign_for_birth_date(born, now=now, excluding=campaign),
        )
    if not windows.covers(campaign, born):  # a gap between the staggered windows
        raise WindowClosed(
            reason="not_covered",
            campaign=campaign,
            state=windows.WindowState.CLOSED,
            now=now,
            birth_date=born,
        )
    state = windows.window_state(campaign, now=now, birth_date=born)
    if state is not windows.WindowState.OPEN:
        raise WindowClosed(
            reason="window", campaign=campaign, state=state, now=now, birth_date=born
        )
    if campaign.waiting_room_enabled:
        if admission is None:
            raise WindowClosed(reason="no_pass")
        bind_pass_to_person(campaign, admission=admission, rrn=rrn, now=now)
    if has_active_booking(campaign, rrn=rrn):
        raise AlreadyBooked()


def check_phone_verified(campaign: Campaign, *, phone: str, verified_phone: str | None) -> None:
    """Raise ``PhoneNotVerified`` if ``campaign`` books only with a proven phone and ``phone``
    is not the one proven (``verified_phone``)."""
    if campaign.verify_phone and (not verified_phone or verified_phone != phone):
        raise PhoneNotVerified()


def request_booking(
    campaign: Campaign,
    *,
    identity: Identity,
    slot_id: int,
    admission: Pass | None = None,
    now: datetime | None = None,
    language: str | None = None,
    verified_phone: str | None = None,
) -> Booking:
    """Create a ``pending`` booking and enqueue its confirmation once the row is committed.

    Refuses (``BookingRefused``) a campaign that wants a verified phone when ``verified_phone``
    (the phone a one-time code proved, ``vaxbook.notifications.phone_codes``) is not the
    identity's phone; what ``check_booking_allowed`` refuses; and a slot that is not this
    campaign's, is past or is visibly full. When it refuses, no booking is written (the
    person's place on the pass may stay: see ``check_booking_allowed``). Whether the place is
    really taken is decided by ``confirm_booking``, not here.
    """
    now = now or timezone.now()
    check_phone_verified(campaign, phone=identity.phone, verified_phone=verified_phone)
    check_booking_allowed(campaign, rrn=identity.rrn, admission=admission, now=now)
    person = rrn_hmac(identity.rrn)
    slot = Slot.objects.filter(pk=slot_id, campaign=campaign).first()
    if slot is None:
        raise SlotUnavailable(reason="not_offered")
    if slot.starts_at <= now:
        raise SlotUnavailable(reason="started")
    if slot.booked >= slot.capacity:
        raise SlotUnavailable(reason="full")
    try:
        with transaction.atomic():
            booking = Booking.objects.create(
                campaign=campaign,
                slot=slot,
                name=identity.name,
                phone=identity.phone,
                email=identity.email,
                birth_date=identity.rrn.birth_date,
                rrn_gender_digit=identity.rrn.gender_digit,
                rrn_hmac=person,
                rrn_encrypted=encrypt_rrn(identity.rrn),
                requested_at=now,
                admission_pass=admission.ticket_id if admission else "",
                waiting_room_required=campaign.waiting_room_enabled,
                language=language or settings.LANGUAGE_CODE,
            )
            # robust: if the broker is down the booking still stands (the row is the truth) and
            # the person still gets its status page; the sweep enqueues it later.
            transaction.on_commit(lambda: _enqueue_confirmation(booking.pk), robust=True)
    except IntegrityError:
        # Two submits of the same person raced past the check above: the partial unique
        # constraint let one through.
        raise AlreadyBooked() from None
    logger.info("booking %s requested for slot %s", booking.public_id, slot.pk)
    return booking


def send_booking_codes(*, rrn: Rrn, phone: str, language: str) -> int:
    """Text the codes and links of this person's active bookings made with this phone to that
    phone, in one message (``code_recovery``, unique per call); nothing when there are none.
    Returns how many bookings the text names: for the caller's logs, never for a page, which
    must read the same whether or not any matched. The text names no registration number."""
    bookings = active_bookings_of_person(rrn=rrn, phone=phone)
    key = f"code_recovery:{secrets.token_urlsafe(12)}"
    if not bookings:
        # The same work towards the broker as a match (one task published), so that a slow
        # broker does not make a match slower than a miss and tell a guesser which it was.
        # The task finds no message under this key and does nothing.
        notifications.enqueue_decoy(key)
        return 0
    with transaction.atomic():
        notifications.notify(
            kind=notifications.Kind.CODE_RECOVERY,
            recipient=phone,
            key=key,
            context={"bookings": [notifications.booking_context(b) for b in bookings]},
            language=language,
            # It names every matched booking: kept until the retention period, not with the
            # first of them (whose purge would leave the others' codes in its text).
            booking=None,
        )
    return len(bookings)


def rebook(
    booking: Booking, *, slot_id: int, admission: Pass | None = None, now: datetime | None = None
) -> Booking:
    """Request another slot for the person of a rejected booking (same checks as a new one)."""
    if booking.status != Booking.Status.REJECTED:
        raise CannotRebook()
    identity = Identity(
        name=booking.name, rrn=decrypt_rrn(booking.rrn_encrypted), phone=booking.phone
    )
    return request_booking(
        booking.campaign,
        identity=identity,
        slot_id=slot_id,
        admission=admission,
        now=now,
        language=booking.language,
        # the phone the rejected booking was made with (proven, where the campaign asks that)
        verified_phone=booking.phone,
    )


def _locked(booking_id: int, *related: str):
    """The booking row, locked until the end of the transaction (not its related rows)."""
    return (
        Booking.objects.select_for_update(of=("self",))
        .select_related(*related)
        .filter(pk=booking_id)
    )


def _decide(booking_id: int, *, now: datetime) -> tuple[Booking | None, bool]:
    """The booking and whether this call decided it (False: gone, or decided before)."""
    with transaction.atomic():
        booking = _locked(booking_id, "campaign", "slot__clinic").first()
        if booking is None or booking.status != Booking.Status.PENDING:
            return booking, False
        booking.decided_at = now
        fields = ["status", "decided_at", "reject_reason"]
        if not windows.is_open(
            booking.campaign, at=booking.requested_at, birth_date=booking.birth_date
        ):
            booking.status = Booking.Status.REJECTED
            booking.reject_reason = Booking.RejectReason.OUTSIDE_WINDOW
        elif (
            Slot.objects.filter(pk=booking.slot_id, booked__lt=F("capacity")).update(
                booked=F("booked") + 1
            )
            == 1
        ):
            booking.status = Booking.Status.CONFIRMED
            booking.code = new_booking_code()
            fields.append("code")
        else:
            booking.status = Booking.Status.REJECTED
            booking.reject_reason = Booking.RejectReason.SLOT_FULL
        booking.save(update_fields=fields)
        notifications.booking_decided(booking)
    return booking, True


def confirm_booking(booking_id: int, *, now: datetime | None = None) -> Booking | None:
    """Decide a pending booking: take a place in its slot, or reject it.

    In one transaction: lock the booking row, leave it alone if it is already decided
    (idempotent), re-check that it was requested inside the campaign's window, then take a
    place with ``UPDATE slot SET booked = booked + 1 WHERE id = … AND booked < capacity``.
    The window re-check is the person's: a window covering their birth date must have been open
    when they asked. One row updated: ``confirmed`` with a code. None: ``rejected`` (slot
    full). Returns None for a booking that no longer exists.
    """
    now = now or timezone.now()
    # A new code can (very rarely) collide with an existing one: the unique constraint then
    # aborts the whole transaction, which is simply run again with another code. Cheaper on
    # the hot path than a savepoint around every save.
    for attempt in range(5):
        try:
            booking, decided = _decide(booking_id, now=now)
        except IntegrityError:
            if attempt == 4:
                raise
            continue
        break
    if booking is None:
        logger.warning("confirm: booking id %s does not exist", booking_id)
        return None
    if decided:  # a redelivered message finds it decided: nothing happened, nothing to log
        logger.info("booking %s %s", booking.public_id, booking.status)
    return booking


def give_up_booking(
    booking_id: int, *, reason: Booking.RejectReason, now: datetime | None = None
) -> Booking | None:
    """Reject a booking whose confirmation could not be carried out (its task failed for
    good), so that the person is told to choose again instead of waiting for nothing.

    Only a ``pending`` booking changes, under its row lock: a pending booking holds no place,
    so the slot is not touched. A booking already decided (a late success, the sweep, a
    cancellation) is returned as it is, so a second call changes nothing. Returns None for a
    booking that no longer exists.
    """
    now = now or timezone.now()
    with transaction.atomic():
        booking = _locked(booking_id, "campaign", "slot__clinic").first()
        if booking is None:
            return None
        if booking.status != Booking.Status.PENDING:
            return booking
        booking.status = Booking.Status.REJECTED
        booking.reject_reason = reason
        booking.decided_at = now
        booking.save(update_fields=["status", "reject_reason", "decided_at"])
        notifications.booking_decided(booking)
    logger.warning("booking %s %s (%s)", booking.public_id, booking.status, reason)
    return booking


def check_booking_cancellable(booking: Booking, *, now: datetime | None = None) -> None:
    """Raise ``NotCancellable`` if this booking may not be cancelled now: no longer active
    (``not_active``), its person has checked in (``checked_in``: the booking is the record that
    they came, and the place stays taken), or its day is over (``past``). The cancel page asks
    this before it offers the button; ``cancel_booking`` asks it again under the row lock."""
    now = now or timezone.now()
    if not booking.is_active:
        raise NotCancellable(reason="not_active")
    if booking.checked_in_at is not None:
        raise NotCancellable(reason="checked_in")
    if booking.slot.date < timezone.localdate(now):
        raise NotCancellable(reason="past")


def cancel_booking(booking_id: int, *, now: datetime | None = None) -> Booking:
    """Cancel a pending or confirmed booking; a confirmed one gives its place back.

    Refuses what ``check_booking_cancellable`` refuses, checked under the booking's row lock,
    so a check-in and a cancel at the same moment cannot both happen."""
    now = now or timezone.now()
    with transaction.atomic():
        booking = _locked(booking_id, "campaign", "slot__clinic").get()
        check_booking_cancellable(booking, now=now)
        if booking.status == Booking.Status.CONFIRMED:
            Slot.objects.filter(pk=booking.slot_id, booked__gt=0).update(booked=F("booked") - 1)
        booking.status = Booking.Status.CANCELLED
        booking.cancelled_at = now
        booking.save(update_fields=["status", "cancelled_at"])
        notifications.booking_cancelled(booking)
    logger.info("booking %s cancelled", booking.public_id)
    return booking


def check_in_booking(booking_id: int, *, by, now: datetime | None = None) -> Booking:
    """Mark that the person came to the clinic. Only a confirmed booking, only on its day
    (Korea time); checking in twice changes nothing. The caller checks that ``by`` works at
    the booking's clinic."""
    now = now or timezone.now()
    with transaction.atomic():
        booking = _locked(booking_id, "slot").get()
        if booking.checked_in_at is not None:
            return booking
        if booking.status != Booking.Status.CONFIRMED:
            raise CannotCheckIn(reason="not_confirmed")
        if booking.slot.date != timezone.localdate(now):
            raise CannotCheckIn(reason="not_today", day=booking.slot.date)
        booking.checked_in_at = now
        booking.checked_in_by = by
        booking.save(update_fields=["checked_in_at", "checked_in_by"])
    logger.info("booking %s checked in", booking.public_id)
    return booking


def undo_check_in(booking_id: int, *, by, now: datetime | None = None) -> Booking:
    """Take back a check-in made by mistake (the wrong row tapped), on the appointment's day
    only (Korea time): ``CannotCheckIn`` with reason ``not_today`` on any other day, when the
    list of who came is the day's record. A booking not checked in is returned as it is, so a
    second undo changes nothing. Under the booking's row lock, like the check-in, so the two
    cannot interleave. The caller checks that ``by`` works at the booking's clinic; check-ins
    are not audited, so neither is this, beyond the log line naming who undid it."""
    now = now or timezone.now()
    with transaction.atomic():
        booking = _locked(booking_id, "slot").get()
        if booking.checked_in_at is None:
            return booking
        if booking.slot.date != timezone.localdate(now):
            raise CannotCheckIn(reason="not_today", day=booking.slot.date)
        booking.checked_in_at = None
        booking.checked_in_by = None
        booking.save(update_fields=["checked_in_at", "checked_in_by"])
    logger.info("booking %s check-in undone by user %s", booking.public_id, by.pk)
    return booking


def sweep_pending_bookings(*, now: datetime | None = None) -> int:
    """Decide every booking pending for longer than the sweep delay (a lost task message).

    Returns how many were decided. Safe alongside the normal tasks: ``confirm_booking`` is
    idempotent under its row lock.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.VAXBOOK_PENDING_SWEEP_AFTER)
    stale = Booking.objects.filter(status=Booking.Status.PENDING, requested_at__lt=cutoff)
    decided = 0
    for booking_id in stale.values_list("pk", flat=True).iterator():
        try:
            confirm_booking(booking_id, now=now)
        except DatabaseError:
            # One booking that keeps failing must not hold up all the others; the next sweep
            # (or its own task's give-up) deals with it.
            logger.exception("sweep: booking id %s could not be decided", booking_id)
            continue
        decided += 1
    return decided
