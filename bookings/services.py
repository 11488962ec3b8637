"""Every state change of a booking goes through a function here."""

import logging
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, IntegrityError, OperationalError, connection, transaction
from django.db.models import Count, F, OuterRef, Q, Subquery, prefetch_related_objects
from django.db.models.functions import Coalesce
from django.utils import timezone
from psycopg2.errors import LockNotAvailable

from bookings import doses
from bookings.errors import (
    AlreadyBooked,
    CannotCheckIn,
    CannotRebook,
    NotCancellable,
    NotMovable,
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


# Coalesced confirmations. A booking just committed joins the waiting set (a Redis sorted set
# of booking ids, in the order they were committed) and then sets the queued mark (SET NX): the
# one that sets it publishes a confirmation task, the others publish nothing. That task takes
# the mark off first, then takes up to a batch of ids from the set (ZPOPMIN) and decides them
# with its own booking. A booking that found the mark set joined the set before the task that
# set the mark takes it off, so that task (or an earlier one) takes it; a batch that comes back
# full publishes the next (``_enqueue_more_confirmations``). The mark lapses by itself after a
# few seconds. What Redis loses (a restart, a worker killed after taking ids) leaves bookings
# pending with no task: the sweep decides them, as it does for every lost message.
CONFIRMATIONS_WAITING_KEY = "vaxbook:confirmations-waiting"
CONFIRMATION_QUEUED_KEY = "vaxbook:confirmation-queued"
CONFIRMATION_QUEUED_SECONDS = 2
# Confirmations go to the queue every worker takes first (settings.py, CELERY_TASK_QUEUES), the
# one of the one-time codes: each is a person watching a page for an answer, and a batch costs
# a worker less than the texts it announces, which wait in the default queue behind it.
CONFIRMATION_QUEUE = "urgent"

_confirmations_client = None


def _confirmations_redis():
    """One client (and connection pool) per process, on the Redis of ``REDIS_URL``."""
    global _confirmations_client  # noqa: PLW0603 - a lazily made, process-wide client
    if _confirmations_client is None:
        import redis

        _confirmations_client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5)
    return _confirmations_client


def _coalescing() -> bool:
    return bool(settings.VAXBOOK_CONFIRM_BATCH and settings.REDIS_URL)


def _enqueue_confirmation(booking_id: int) -> None:
    """Announce a booking just committed to the workers: a confirmation task, unless one is
    already queued that will take this booking in its batch (see above): under a surge a
    burst of bookings costs the broker and the workers a handful of messages, not one each."""
    # Imported here: the task module imports this one.
    from bookings import tasks

    if _coalescing():
        try:
            with _confirmations_redis().pipeline(transaction=False) as pipe:
                pipe.zadd(CONFIRMATIONS_WAITING_KEY, {str(booking_id): booking_id})
                pipe.set(
                    CONFIRMATION_QUEUED_KEY, booking_id, nx=True, ex=CONFIRMATION_QUEUED_SECONDS
                )
                _, marked = pipe.execute()
        except Exception:  # noqa: BLE001 - that Redis is down: publish, as without it
            logger.warning("confirm: the waiting set could not be reached; publishing")
            marked = True
        if not marked:
            return
    tasks.confirm_booking.apply_async((booking_id,), queue=CONFIRMATION_QUEUE)


def _take_waiting(limit: int) -> list[int]:
    """Take the queued mark off, then up to ``limit`` ids from the waiting set, the earliest
    committed first (the confirmation task's first step; see above)."""
    if not _coalescing():
        return []
    client = _confirmations_redis()
    try:
        client.delete(CONFIRMATION_QUEUED_KEY)
        return [int(member) for member, _ in client.zpopmin(CONFIRMATIONS_WAITING_KEY, limit)]
    except Exception:  # noqa: BLE001 - Redis is away: the task's own booking is still decided
        # (what waits in the set is decided by a later batch, or by the sweep)
        logger.warning("confirm: the waiting set could not be read")
        return []


def _put_back_waiting(booking_ids: list[int]) -> None:
    """Ids taken by a batch that did not commit go back, for the next batch (or the sweep)."""
    if booking_ids and _coalescing():
        try:
            _confirmations_redis().zadd(
                CONFIRMATIONS_WAITING_KEY, {str(pk): pk for pk in booking_ids}
            )
        except Exception:  # noqa: BLE001 - the sweep decides them
            logger.warning("confirm: %d ids could not go back to the waiting set", len(booking_ids))


def _enqueue_more_confirmations() -> None:
    """A batch came back full: more may be waiting with no task of their own, so another batch
    is published. With a broker it is published at once, while this batch still works (the next
    one takes the following ids: two workers decide in parallel); run eagerly (no broker) it
    would run inside this transaction, so it waits for the commit."""
    from bookings import tasks

    publish = tasks.confirm_pending_bookings.si().set(queue=CONFIRMATION_QUEUE).delay
    if tasks.confirm_pending_bookings.app.conf.task_always_eager:
        transaction.on_commit(publish, robust=True)
        return
    try:
        publish()
    except Exception:  # noqa: BLE001 - the broker is away: this batch goes on; the sweep
        # decides what waits in the set if no later task takes it
        logger.warning("confirm: the next batch could not be published")


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
    later_slot_ids: list[int] | None = None,
    admission: Pass | None = None,
    now: datetime | None = None,
    language: str | None = None,
    verified_phone: str | None = None,
) -> Booking:
    """Create a ``pending`` booking (with a pending row for every later dose of the campaign's
    vaccine) and enqueue its confirmation once the rows are committed. Returns the first dose's
    row: the booking.

    ``later_slot_ids`` are the slots shown for the later doses (``bookings.doses``); they must
    still fit the schedule and have places, or ``SlotUnavailable`` (``later_changed``) says that
    the offer changed. Without them they are chosen here (the API). No slot for a later dose:
    ``SlotUnavailable`` (``no_later_dose``).

    Refuses (``BookingRefused``) a campaign that wants a verified phone when ``verified_phone``
    (the phone a one-time code proved, ``vaxbook.notifications.phone_codes``) is not the
    identity's phone; what ``check_booking_allowed`` refuses; and a slot that is not this
    campaign's, is past or is visibly full. When it refuses, no booking is written (the
    person's place on the pass may stay: see ``check_booking_allowed``). Whether the places are
    really taken is decided by ``confirm_booking``, not here.
    """
    now = now or timezone.now()
    check_phone_verified(campaign, phone=identity.phone, verified_phone=verified_phone)
    check_booking_allowed(campaign, rrn=identity.rrn, admission=admission, now=now)
    person = rrn_hmac(identity.rrn)
    slot = _offered(campaign, slot_id, now=now)
    later = _later_slots(campaign, first=slot, later_slot_ids=later_slot_ids, now=now)
    fields = {
        "campaign": campaign,
        "name": identity.name,
        "phone": identity.phone,
        "email": identity.email,
        "birth_date": identity.rrn.birth_date,
        "rrn_gender_digit": identity.rrn.gender_digit,
        "rrn_hmac": person,
        "rrn_encrypted": encrypt_rrn(identity.rrn),
        "requested_at": now,
        "admission_pass": admission.ticket_id if admission else "",
        "waiting_room_required": campaign.waiting_room_enabled,
        "language": language or settings.LANGUAGE_CODE,
    }
    try:
        with transaction.atomic():
            booking = Booking.objects.create(slot=slot, **fields)
            if later:
                Booking.objects.bulk_create(
                    Booking(slot=later_slot, dose=dose, first_dose=booking, **fields)
                    for dose, later_slot in enumerate(later, start=2)
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


def _offered(campaign: Campaign, slot_id: int, *, now: datetime) -> Slot:
    """The slot, if this campaign offers it, it has not started and it visibly has a place."""
    slot = Slot.objects.filter(pk=slot_id, campaign=campaign).first()
    if slot is None:
        raise SlotUnavailable(reason="not_offered")
    if slot.starts_at <= now:
        raise SlotUnavailable(reason="started")
    if slot.booked >= slot.capacity:
        raise SlotUnavailable(reason="full")
    return slot


def _later_slots(
    campaign: Campaign,
    *,
    first: Slot,
    later_slot_ids: list[int] | None,
    now: datetime,
    leaving: tuple[int, ...] = (),
) -> list[Slot]:
    """The slots of the later doses for a first dose at ``first``: those given, checked, or
    those ``bookings.doses`` offers. ``leaving``: slots the course gives up in the same change
    (a move), whose places count as free for it."""
    if not doses.later_doses(campaign):
        if later_slot_ids:  # times for doses this vaccine does not have
            raise SlotUnavailable(reason="not_offered")
        return []
    if later_slot_ids is None:
        found = doses.later_dose_slots(campaign, first=first, now=now)
        if found is None:
            raise SlotUnavailable(reason="no_later_dose")
        return found
    if len(later_slot_ids) != doses.later_doses(campaign):
        raise SlotUnavailable(reason="later_changed")
    return _checked_chain(campaign, first, later_slot_ids, now=now, leaving=leaving)


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


def _shift_places(deltas: dict[int, int]) -> int | None:
    """Take (+n) and give back (-n) places on slots, in one order (slot id) so that two
    transactions never wait for each other's slots in a circle. A take is the conditional
    ``UPDATE … SET booked = booked + n WHERE booked + n <= capacity``. When one cannot be
    taken, what this call already did is undone (the caller holds those rows' locks until its
    transaction ends, so nobody saw it) and that slot's id is returned; None when all applied.
    """
    done: list[tuple[int, int]] = []
    for slot_id, delta in sorted(deltas.items()):
        if delta == 0:
            continue
        if delta > 0:
            changed = Slot.objects.filter(pk=slot_id, booked__lte=F("capacity") - delta).update(
                booked=F("booked") + delta
            )
        else:
            changed = Slot.objects.filter(pk=slot_id, booked__gte=-delta).update(
                booked=F("booked") + delta
            )
        if changed != 1:
            for undo_id, undo_delta in reversed(done):
                Slot.objects.filter(pk=undo_id).update(booked=F("booked") - undo_delta)
            return slot_id
        done.append((slot_id, delta))
    return None


def _places(rows, sign: int = 1) -> dict[int, int]:
    deltas: dict[int, int] = {}
    for row in rows:
        deltas[row.slot_id] = deltas.get(row.slot_id, 0) + sign
    return deltas


def _locked_course(booking_id: int, *related: str) -> list[Booking]:
    """Every row of the course of ``booking_id`` (any of its doses), first dose first, locked
    until the end of the transaction; empty when there is no such booking."""
    rows = list(
        Booking.objects.select_for_update(of=("self",))
        .select_related(*related)
        .filter(Q(pk=booking_id) | Q(first_dose_id=booking_id))
        .order_by("dose")
    )
    if rows and rows[0].first_dose_id is not None:  # a later dose's id: lock its course
        return _locked_course(rows[0].first_dose_id, *related)
    return rows


# How a booking is decided: in batches. A confirmation task decides its own booking and, in the
# same transaction, up to VAXBOOK_CONFIRM_BATCH bookings of the waiting set (see
# _enqueue_confirmation); a duplicate message finds its booking decided with one read. The
# batch locks its courses first (SKIP LOCKED: one another worker holds is left to it), then
# the slots they need in id order, and allocates the places in request order: the same
# locking order as a move, a cancellation or a closed day (courses, then slots by id), so none
# of them waits for another in a circle.

# The first-dose rows a batch takes, with what deciding and announcing them read.
_COURSE_RELATED = ("campaign__vaccine", "slot__clinic")


def _take_pending_courses(
    which: Q, *, limit: int | None, skip_locked: bool
) -> tuple[list[list], int]:
    """Lock the pending courses whose first doses ``which`` selects (at most ``limit``, oldest
    request first) with every later dose; returns them, first dose first in each, and how many
    first doses were locked (a course left out below still counts).

    With ``skip_locked`` a course any of whose rows another transaction holds is left out
    (its first dose may stay locked here until the end of the transaction, unchanged), so a
    batch never waits for another's bookings. Without it, this waits for them: only ever as a
    transaction's first lock, so it cannot close a circle.
    """
    later_count = (
        Booking.objects.filter(first_dose=OuterRef("pk"))
        .order_by()
        .values("first_dose")
        .annotate(n=Count("pk"))
        .values("n")
    )
    heads = (
        Booking.objects.select_for_update(of=("self",), skip_locked=skip_locked)
        .select_related(*_COURSE_RELATED)
        .filter(which, status=Booking.Status.PENDING, first_dose__isnull=True)
        .annotate(later_count=Coalesce(Subquery(later_count), 0))
        .order_by("requested_at", "pk")
    )
    firsts = list(heads[:limit] if limit is not None else heads)
    courses = {first.pk: [first] for first in firsts}
    with_later = [first.pk for first in firsts if first.later_count]
    if with_later:
        later = (
            Booking.objects.select_for_update(of=("self",), skip_locked=skip_locked)
            .filter(first_dose_id__in=with_later)
            .order_by("first_dose_id", "dose")
        )
        for row in later:
            head = courses[row.first_dose_id][0]
            row.campaign = head.campaign
            courses[row.first_dose_id].append(row)
    complete = [rows for rows in courses.values() if len(rows) == 1 + rows[0].later_count]
    return complete, len(firsts)


def _allocate(courses: list[list]) -> dict[int, str]:
    """Which courses are refused and why (first-dose id -> reject reason); the others get their
    places. Needs the courses locked; locks their slots (id order) and takes the places with
    one conditional UPDATE, in request order: the last places go to the earliest requests."""
    reasons: dict[int, str] = {}
    for course in courses:
        head = course[0]
        # the person's rule: a window covering them was open when they asked
        if not windows.is_open(head.campaign, at=head.requested_at, birth_date=head.birth_date):
            reasons[head.pk] = Booking.RejectReason.OUTSIDE_WINDOW
    wanted = sorted({row.slot_id for c in courses if c[0].pk not in reasons for row in c})
    free = {
        pk: capacity - booked
        for pk, booked, capacity in Slot.objects.select_for_update()
        .filter(pk__in=wanted)
        .order_by("pk")
        .values_list("pk", "booked", "capacity")
    }
    taken: dict[int, int] = {}
    for course in courses:
        head = course[0]
        if head.pk in reasons:
            continue
        need = _places(course)
        # the first slot (in id order) without room names the reason, as _shift_places does
        full = next((pk for pk in sorted(need) if need[pk] > free.get(pk, 0)), None)
        if full is not None:
            reasons[head.pk] = (
                Booking.RejectReason.SLOT_FULL
                if full == head.slot_id
                else Booking.RejectReason.LATER_DOSE_FULL
            )
            continue
        for pk, n in need.items():
            free[pk] -= n
            taken[pk] = taken.get(pk, 0) + n
    if taken:
        _take_places(taken)
    return reasons


def _take_places(taken: dict[int, int]) -> None:
    """``booked = booked + n`` on every slot of ``taken`` in one statement, still conditional
    (``booked + n <= capacity``): under the slots' locks every row must change, and if one did
    not the whole transaction is undone rather than a place given twice."""
    table = connection.ops.quote_name(Slot._meta.db_table)
    values = ", ".join(["(%s, %s)"] * len(taken))
    params = [x for pk in sorted(taken) for x in (pk, taken[pk])]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS s SET booked = s.booked + v.n "  # noqa: S608 - names only
            f"FROM (VALUES {values}) AS v(id, n) "
            "WHERE s.id = v.id AND s.booked + v.n <= s.capacity",
            params,
        )
        if cursor.rowcount != len(taken):
            raise DatabaseError("a slot changed under its lock while places were taken")


def _write_decisions(rows: list[Booking], *, now: datetime) -> None:
    """Every decided row's status, code and reason in one UPDATE (a code already taken raises
    ``IntegrityError`` for the whole statement: the caller runs the batch again)."""
    table = connection.ops.quote_name(Booking._meta.db_table)
    values = ", ".join(["(%s::bigint, %s::varchar, %s::varchar, %s::varchar)"] * len(rows))
    params: list = [now]
    for row in rows:
        reason = row.reject_reason if row.status == Booking.Status.REJECTED else None
        params += [row.pk, row.status, row.code, reason]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS b SET status = v.status, decided_at = %s, "  # noqa: S608
            "code = COALESCE(v.code, b.code), reject_reason = COALESCE(v.reason, b.reject_reason) "
            f"FROM (VALUES {values}) AS v(id, status, code, reason) WHERE b.id = v.id",
            params,
        )


def _decide_batch(head_ids: list[int], *, now: datetime, skip_locked: bool) -> list[Booking]:
    """In one transaction: decide the pending courses of ``head_ids`` (first-dose ids), the
    earliest requests first. Returns the first doses decided here; a course someone else holds
    (with ``skip_locked``) or already decided is not among them."""
    with transaction.atomic():
        courses, _ = _take_pending_courses(Q(pk__in=head_ids), limit=None, skip_locked=skip_locked)
        if not courses:
            return []
        courses.sort(key=lambda course: (course[0].requested_at, course[0].pk))
        # one query for every campaign's windows (windows.is_open reads them per booking)
        prefetch_related_objects([course[0].campaign for course in courses], "windows")
        reasons = _allocate(courses)
        rows = []
        for course in courses:
            reason = reasons.get(course[0].pk)
            code = new_booking_code() if reason is None else None
            for row in course:
                row.decided_at = now
                if reason is None:
                    row.status = Booking.Status.CONFIRMED
                    row.code = code if row.dose == 1 else f"{code}-{row.dose}"
                else:
                    row.status = Booking.Status.REJECTED
                    row.reject_reason = reason
                rows.append(row)
        _write_decisions(rows, now=now)
        heads = [course[0] for course in courses]
        notifications.bookings_decided(heads)
    for head in heads:
        logger.info("booking %s %s", head.public_id, head.status)
    return heads


def _decide_retrying(head_ids: list[int], **kwargs) -> list[Booking]:
    # A new code can (very rarely) collide with an existing one: the unique constraint then
    # aborts the whole transaction, which is simply run again with other codes. Cheaper on
    # the hot path than a savepoint around every row.
    for attempt in range(5):
        try:
            return _decide_batch(head_ids, **kwargs)
        except IntegrityError:
            if attempt == 4:
                raise
    raise AssertionError("unreachable")


def confirm_booking(
    booking_id: int, *, now: datetime | None = None, others: int = 0
) -> Booking | None:
    """Decide a pending booking: take a place in its slot (and every later dose's), or reject
    it. Returns its first dose's row as decided; None for a booking that no longer exists.

    In one transaction: lock the course's rows, leave it alone if it is already decided
    (idempotent), re-check that it was requested inside a window covering the person (at the
    request, not now), then lock the slots in id order and take the places with the
    conditional ``UPDATE … SET booked = booked + n WHERE booked + n <= capacity``. All places
    taken: ``confirmed`` with a code. One missing: ``rejected`` (``slot_full``, or
    ``later_dose_full`` when a later dose's slot is the full one), no place taken.

    ``others`` (the confirmation task; ``VAXBOOK_CONFIRM_BATCH``): in the same transaction,
    decide up to that many bookings of the waiting set too (they published no task of their
    own: see ``_enqueue_confirmation``), every place going in request order.
    """
    now = now or timezone.now()
    waiting = _take_waiting(others) if others else []
    try:
        decided = _decide_waiting(
            waiting, full=bool(waiting) and len(waiting) == others, now=now, including=booking_id
        )
    except OperationalError as error:
        if not (waiting and isinstance(error.__cause__, LockNotAvailable)):
            raise
        # A lock that never comes free (a stuck session on one slot) must not fail every
        # booking batched with the one that needs it: this booking is decided alone, and
        # only its own failure counts against its task's retries; the others wait again.
        logger.warning("confirm: a batch waited too long for a lock; deciding alone")
        _put_back_waiting(waiting)
        decided = []
    mine = next((head for head in decided if booking_id in (head.pk, head.course_id)), None)
    if mine is not None:
        return mine
    # A look without a lock: a decision is final, so a booking found decided (by a batch, or
    # a duplicate message) costs one read.
    booking = Booking.objects.filter(pk=booking_id).select_related(*_COURSE_RELATED).first()
    if booking is None:
        logger.warning("confirm: booking id %s does not exist", booking_id)
        return None
    head_id = booking.first_dose_id or booking.pk
    if booking.status == Booking.Status.PENDING:
        # Someone else may hold it (a batch, a cancellation): then wait for them, and decide
        # it if it is still pending.
        for skip_locked in (True, False):
            decided = _decide_retrying([head_id], now=now, skip_locked=skip_locked)
            if decided:
                return decided[0]
    elif booking.first_dose_id is None:
        return booking
    return Booking.objects.select_related(*_COURSE_RELATED).filter(pk=head_id).first()


def _decide_waiting(
    waiting: list[int], *, full: bool, now: datetime, including: int | None = None
) -> list[Booking]:
    """Decide the bookings taken from the waiting set (and ``including``, a task's own, when it
    is a first dose still pending) in one batch; a ``full`` take (as many as asked: more may
    wait) publishes the next batch at once. Ids of a batch that fails go back to the set."""
    if not waiting and including is None:
        return []
    if full:
        _enqueue_more_confirmations()
    head_ids = list(dict.fromkeys([*waiting, *([including] if including is not None else [])]))
    try:
        return _decide_retrying(head_ids, now=now, skip_locked=True)
    except Exception:
        _put_back_waiting(waiting)
        raise


def confirm_pending_bookings(*, limit: int, now: datetime | None = None) -> int:
    """Decide up to ``limit`` bookings of the waiting set (the batch published when the one
    before came back full) in one transaction. Returns how many it decided."""
    waiting = _take_waiting(limit)
    return len(_decide_waiting(waiting, full=len(waiting) == limit, now=now or timezone.now()))


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
        course = _locked_course(booking_id, "campaign__vaccine", "slot__clinic")
        if not course:
            return None
        booking = course[0]
        if booking.status != Booking.Status.PENDING:
            return booking
        for row in course:
            row.status = Booking.Status.REJECTED
            row.reject_reason = reason
            row.decided_at = now
            row.save(update_fields=["status", "reject_reason", "decided_at"])
        notifications.booking_decided(booking)
    logger.warning("booking %s %s (%s)", booking.public_id, booking.status, reason)
    return booking


def _cancellable_rows(course: list[Booking], *, now: datetime) -> list[Booking]:
    """The appointments of a course that cancelling would cancel, or ``NotCancellable``:
    every active one not given yet whose day has not passed."""
    today = timezone.localdate(now)
    if not any(row.is_active for row in course):
        raise NotCancellable(reason="not_active")
    rows = [
        row
        for row in course
        if row.is_active and row.checked_in_at is None and row.slot.date >= today
    ]
    if not rows:
        given = any(row.checked_in_at is not None for row in course)
        raise NotCancellable(reason="checked_in" if given else "past")
    return rows


def check_booking_cancellable(
    booking: Booking, *, now: datetime | None = None, course: list[Booking] | None = None
) -> list[Booking]:
    """Raise ``NotCancellable`` if this booking has nothing to cancel now: no longer active
    (``not_active``), every dose left given (``checked_in``: the booking is the record that
    they came, and the place stays taken), or the days over (``past``); else the appointments
    cancelling would cancel (every dose not given yet). ``course``: the booking's course when
    the caller has read it (``selectors.course_of``). The cancel page asks this before it offers
    the button; ``cancel_booking`` asks it again under the row locks."""
    from bookings.selectors import course_of

    return _cancellable_rows(course or course_of(booking), now=now or timezone.now())


def cancel_booking(booking_id: int, *, now: datetime | None = None) -> Booking:
    """Cancel every appointment of a booking's course not given yet (pending or confirmed); a
    confirmed one gives its place back. Returns the course's first-dose row.

    Refuses what ``check_booking_cancellable`` refuses, checked under the course's row locks,
    so a check-in and a cancel at the same moment cannot both happen."""
    now = now or timezone.now()
    with transaction.atomic():
        course = _locked_course(booking_id, "campaign__vaccine", "slot__clinic")
        if not course:
            raise Booking.DoesNotExist(booking_id)
        rows = _cancellable_rows(course, now=now)
        confirmed = [row for row in rows if row.status == Booking.Status.CONFIRMED]
        _shift_places(_places(confirmed, -1))
        for row in rows:
            row.status = Booking.Status.CANCELLED
            row.cancel_reason = Booking.CancelReason.BY_PERSON
            row.cancelled_at = now
            row.save(update_fields=["status", "cancel_reason", "cancelled_at"])
        booking = course[0]
        notifications.booking_cancelled(booking)
    logger.info("booking %s cancelled (%d appointments)", booking.public_id, len(rows))
    return booking


def _movable_rows(course: list[Booking], *, now: datetime) -> list[Booking]:
    """The appointments a move changes (the first not given, and the later doses with it), or
    ``NotMovable``."""
    if course[0].status != Booking.Status.CONFIRMED:
        raise NotMovable(reason="not_confirmed")
    rows = [
        row
        for row in course
        if (row.status == Booking.Status.CONFIRMED and row.checked_in_at is None)
        or _replaceable(row, course)
    ]
    if not rows:
        raise NotMovable(reason="checked_in")
    if rows[0].status == Booking.Status.CONFIRMED:
        deadline = course[0].campaign.change_deadline(rows[0].slot.date)
        if now >= deadline:
            raise NotMovable(reason="deadline", deadline=deadline)
    return rows


def _replaceable(row: Booking, course: list[Booking]) -> bool:
    """A later dose that lost its place when its clinic closed the day after the first dose
    was given: a move books it again (a new course cannot: the first dose is the person's)."""
    return (
        row.dose > 1
        and course[0].checked_in_at is not None
        and row.status == Booking.Status.REJECTED
        and row.reject_reason == Booking.RejectReason.CLINIC_CLOSED
    )


def check_booking_movable(
    booking: Booking, *, now: datetime | None = None, course: list[Booking] | None = None
) -> list[Booking]:
    """The appointments moving this booking would change, first first, or ``NotMovable``:
    not confirmed, every dose given, or past the change deadline of the first one to move
    (``Campaign.change_deadline``). ``course``: as for ``check_booking_cancellable``."""
    from bookings.selectors import course_of

    return _movable_rows(course or course_of(booking), now=now or timezone.now())


def plan_move(
    booking: Booking,
    *,
    slot_id: int,
    later_slot_ids: list[int] | None = None,
    now: datetime | None = None,
) -> list[tuple[Booking, Slot]]:
    """Where each moving appointment of ``booking`` would go if its first moves to
    ``slot_id``: [(appointment, new slot)], or the refusal. A later dose keeps its time where
    that still fits the vaccine's interval after the new one before it; otherwise it goes to
    the time ``bookings.doses`` offers. With ``later_slot_ids`` (the times shown to the person),
    exactly those, checked. All doses of a course are at one clinic. Reads only: the move page
    shows it and ``move_booking`` takes it."""
    from bookings.selectors import course_of

    now = now or timezone.now()
    course = course_of(booking)
    rows = _movable_rows(course, now=now)
    campaign = booking.campaign
    leaving = tuple(row.slot_id for row in rows if row.status == Booking.Status.CONFIRMED)
    new_first = _check_new_first(campaign, course, rows, slot_id=slot_id, leaving=leaving, now=now)
    plan = [(rows[0], new_first)]
    if later_slot_ids is not None:
        if len(later_slot_ids) != len(rows) - 1:
            raise SlotUnavailable(reason="later_changed")
        later = _checked_chain(campaign, new_first, later_slot_ids, now=now, leaving=leaving)
        return plan + list(zip(rows[1:], later, strict=True))
    previous = new_first
    for row in rows[1:]:
        keep = row.slot
        if (
            row.status == Booking.Status.CONFIRMED
            and keep.clinic_id == previous.clinic_id
            and doses.within_interval(campaign.vaccine, previous=previous.date, day=keep.date)
        ):
            slot = keep
        else:
            slot = doses.next_dose_slot(campaign, after=previous, now=now)
            if slot is None:
                raise SlotUnavailable(reason="no_later_dose")
        plan.append((row, slot))
        previous = slot
    return plan


def _check_new_first(
    campaign: Campaign,
    course: list[Booking],
    rows: list[Booking],
    *,
    slot_id: int,
    leaving: tuple,
    now: datetime,
) -> Slot:
    """The slot the first moving appointment would go to, or the refusal."""
    new_first = Slot.objects.select_related("clinic").filter(pk=slot_id, campaign=campaign).first()
    if new_first is None:
        raise SlotUnavailable(reason="not_offered")
    if new_first.pk == rows[0].slot_id:
        raise SlotUnavailable(reason="same")
    if new_first.starts_at <= now:
        raise SlotUnavailable(reason="started")
    if campaign.change_deadline(new_first.date) <= now:
        raise SlotUnavailable(reason="too_late")
    if new_first.booked >= new_first.capacity and new_first.pk not in leaving:
        raise SlotUnavailable(reason="full")
    given = [row for row in course if row.dose < rows[0].dose]
    if given:  # a later dose moves alone: after the dose before it, at its clinic
        before = given[-1].slot
        if new_first.clinic_id != before.clinic_id or not doses.within_interval(
            campaign.vaccine, previous=before.date, day=new_first.date
        ):
            raise SlotUnavailable(reason="not_offered")
    return new_first


def _checked_chain(
    campaign: Campaign, first: Slot, slot_ids: list[int], *, now: datetime, leaving: tuple
) -> list[Slot]:
    """The slots ``slot_ids`` (the later doses shown to the person, in order) if each is this
    campaign's, at the first dose's clinic, still to come, inside the vaccine's interval after
    the one before, with a place (or one the course leaves); else ``later_changed``."""
    by_id = Slot.objects.in_bulk(slot_ids)
    chain = [by_id.get(slot_id) for slot_id in slot_ids]
    previous = first
    for slot in chain:
        if (
            slot is None
            or slot.campaign_id != campaign.pk
            or slot.clinic_id != first.clinic_id
            or slot.starts_at <= now
            or not doses.within_interval(campaign.vaccine, previous=previous.date, day=slot.date)
            or (slot.booked >= slot.capacity and slot.pk not in leaving)
        ):
            raise SlotUnavailable(reason="later_changed")
        previous = slot
    return chain


def move_booking(
    booking_id: int,
    *,
    slot_id: int,
    later_slot_ids: list[int] | None = None,
    admission: Pass | None = None,
    now: datetime | None = None,
) -> Booking:
    """Move a confirmed booking's first appointment not given yet to ``slot_id``, and its
    later doses with it (``plan_move``). Returns the course's first-dose row.

    The same rules as a new booking: the person's window must be open now and, with the
    waiting room on, the admission pass must be able to book for them (a move is no way in
    before the opening). In one transaction under the course's row locks: the new places are
    taken (conditionally, as the confirmation takes them) and the old ones given back; if one
    new place is gone, ``SlotUnavailable`` (``full``) and nothing changed — the booking stands
    as it was. The person is sent a ``changed`` message."""
    now = now or timezone.now()
    booking = Booking.objects.select_related("campaign__vaccine", "slot__clinic").get(pk=booking_id)
    head = booking if booking.is_first_dose else booking.first_dose
    campaign = head.campaign
    _check_window_for_change(campaign, head, admission=admission, now=now)
    with transaction.atomic():
        course = _locked_course(head.pk, "campaign__vaccine", "slot__clinic")
        plan = plan_move(course[0], slot_id=slot_id, later_slot_ids=later_slot_ids, now=now)
        deltas = _places([row for row, _ in plan if row.status == Booking.Status.CONFIRMED], -1)
        for _, slot in plan:
            deltas[slot.pk] = deltas.get(slot.pk, 0) + 1
        if _shift_places(deltas) is not None:
            raise SlotUnavailable(reason="full")
        for row, slot in plan:
            if row.slot_id != slot.pk or row.status != Booking.Status.CONFIRMED:
                row.slot = slot
                row.moved_at = now
                row.status = Booking.Status.CONFIRMED  # a dose booked again (_replaceable)
                row.reject_reason = ""
                row.save(update_fields=["slot", "moved_at", "status", "reject_reason"])
        head = course[0]
        # one text per move: the moment and where to (two moves in one second are two texts)
        where = "-".join(str(slot.pk) for _, slot in plan)
        notifications.booking_changed(head, extra=f"moved-{now.timestamp():.6f}-{where}")
    logger.info("booking %s moved", head.public_id)
    return head


def _check_window_for_change(
    campaign: Campaign, booking: Booking, *, admission: Pass | None, now: datetime
) -> None:
    born = booking.birth_date
    state = windows.window_state(campaign, now=now, birth_date=born)
    if not windows.covers(campaign, born) or state is not windows.WindowState.OPEN:
        raise WindowClosed(
            reason="window", campaign=campaign, state=state, now=now, birth_date=born
        )
    if campaign.waiting_room_enabled:
        if admission is None:
            raise WindowClosed(reason="no_pass")
        bind_pass_to_person(
            campaign, admission=admission, rrn=decrypt_rrn(booking.rrn_encrypted), now=now
        )


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
    """Decide every booking pending for longer than the sweep delay (a lost task message), in
    batches of ``VAXBOOK_CONFIRM_BATCH`` + 1, the oldest requests first.

    Returns how many this sweep decided. Safe alongside the normal tasks: a course one of them
    holds is skipped (it is being decided), and a decided one is left alone.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.VAXBOOK_PENDING_SWEEP_AFTER)
    # a course is decided through its first dose, with every later one
    stale = list(
        Booking.objects.filter(
            status=Booking.Status.PENDING, requested_at__lt=cutoff, first_dose__isnull=True
        )
        .order_by("requested_at", "pk")
        .values_list("pk", flat=True)
    )
    size = settings.VAXBOOK_CONFIRM_BATCH + 1
    decided = 0
    for start in range(0, len(stale), size):
        batch = stale[start : start + size]
        try:
            decided += len(_decide_retrying(batch, now=now, skip_locked=True))
        except DatabaseError:
            # One booking that keeps failing must not hold up all the others: its batch is
            # tried one by one; the next sweep (or its own task's give-up) deals with it.
            logger.exception("sweep: a batch of %d bookings could not be decided", len(batch))
            for booking_id in batch:
                try:
                    decided += len(_decide_retrying([booking_id], now=now, skip_locked=True))
                except DatabaseError:
                    logger.exception("sweep: booking id %s could not be decided", booking_id)
    return decided


def mark_no_shows(*, now: datetime | None = None) -> int:
    """After a day ends (Korea time), every confirmed appointment of it not checked in becomes
    ``no_show`` and gives its place back (``booked`` counts confirmed appointments). When that
    is a first dose, the course's later doses are useless: they are cancelled
    (``first_dose_missed``), their places freed, and the person told. Returns how many
    appointments became no-shows. Idempotent: a second run finds nothing left to mark."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    missed = (
        Booking.objects.filter(
            status=Booking.Status.CONFIRMED, checked_in_at__isnull=True, slot__date__lt=today
        )
        .order_by("pk")
        .values_list("pk", "first_dose_id")
    )
    heads = sorted({first or pk for pk, first in missed.iterator(chunk_size=2000)})
    marked = 0
    for head in heads:
        with transaction.atomic():
            course = _locked_course(head, "campaign", "slot__clinic")
            no_shows = [
                row
                for row in course
                if row.status == Booking.Status.CONFIRMED
                and row.checked_in_at is None
                and row.slot.date < today
            ]
            if not no_shows:
                continue
            freed = []
            if course[0] in no_shows:
                freed = [row for row in course[1:] if row.is_active and row not in no_shows]
            _shift_places(_places(no_shows + [r for r in freed if r.status == "confirmed"], -1))
            for row in no_shows:
                row.status = Booking.Status.NO_SHOW
                row.save(update_fields=["status"])
            for row in freed:
                row.status = Booking.Status.CANCELLED
                row.cancel_reason = Booking.CancelReason.FIRST_DOSE_MISSED
                row.cancelled_at = now
                row.save(update_fields=["status", "cancel_reason", "cancelled_at"])
            if freed:
                notifications.booking_changed(course[0], extra="first-dose-missed")
            marked += len(no_shows)
    if marked:
        logger.info("%d appointments marked no-show", marked)
    return marked


def _free_slots_near(row: Booking, course: list[Booking], *, closed_day, now: datetime):
    """The slots ``row`` could move to when its day closes, nearest to its time first: the
    same clinic and campaign, another day, not started, a place left, and inside the vaccine's
    interval from the dose before and to the dose after."""
    from clinics.selectors import upcoming

    slot = row.slot
    candidates = (
        Slot.objects.filter(upcoming(now), campaign_id=slot.campaign_id, clinic_id=slot.clinic_id)
        .exclude(date=closed_day)
        .filter(booked__lt=F("capacity"))
    )
    vaccine = row.campaign.vaccine
    neighbours = {other.dose: other for other in course if other.is_active or other.checked_in_at}
    before, after = neighbours.get(row.dose - 1), neighbours.get(row.dose + 1)
    if before is not None:
        shortest, _, longest = doses.interval(vaccine)
        candidates = candidates.filter(
            date__gte=before.slot.date + timedelta(days=shortest),
            date__lte=before.slot.date + timedelta(days=longest),
        )
    if after is not None and after.slot.date != closed_day:
        shortest, _, longest = doses.interval(vaccine)
        candidates = candidates.filter(
            date__gte=after.slot.date - timedelta(days=longest),
            date__lte=after.slot.date - timedelta(days=shortest),
        )
    origin = datetime.combine(slot.date, slot.start_time)
    return sorted(
        candidates,
        key=lambda s: (
            abs((datetime.combine(s.date, s.start_time) - origin).total_seconds()),
            s.date,
            s.start_time,
        ),
    )


def check_clinic_day_closable(clinic, day, *, now: datetime | None = None) -> None:
    """``ValueError("past")`` for a day before today (KST), ``ValueError("closed")`` for a day
    already closed; the admin's form asks before it confirms, ``close_clinic_day`` again under
    the clinic's lock."""
    from clinics.models import ClinicDayClosure

    if day < timezone.localdate(now or timezone.now()):
        raise ValueError("past")
    if ClinicDayClosure.objects.filter(clinic=clinic, date=day).exists():
        raise ValueError("closed")


def close_clinic_day(clinic, day, *, reason: str, actor, now: datetime | None = None):
    """Close ``clinic`` on ``day`` (Korea time) for every campaign: each appointment of the day
    not given yet is moved to the nearest free place at the same clinic that keeps its course
    inside the vaccine's interval, or, where there is none, rejected (``clinic_closed``) with
    the course's later doses; the day's slots then take no more bookings (capacity = what is
    left booked: the people already checked in). One transaction, one audit event, each person
    told (a ``changed`` message). Returns the ``ClinicDayClosure``.

    Refuses a day already past or already closed (``ValueError`` with the reason)."""
    from clinics.models import ClinicDayClosure
    from vaxbook.auditlog.models import AuditEvent
    from vaxbook.auditlog.services import record

    now = now or timezone.now()
    with transaction.atomic():
        # one closing of a clinic at a time: a double submit finds the day closed
        type(clinic).objects.select_for_update().filter(pk=clinic.pk).first()
        check_clinic_day_closable(clinic, day, now=now)
        on_day = Booking.objects.filter(
            slot__clinic=clinic,
            slot__date=day,
            status__in=Booking.ACTIVE_STATUSES,
            checked_in_at__isnull=True,
        )
        # Locks, in the order every other writer takes them: the courses first, then the slots
        # in id order — here every slot of the clinic still to come, since any may receive a
        # moved appointment (taking them one by one as the moves go would wait in a circle
        # with a person's move). Locking the slots waits for a confirmation that took a place
        # on the day just before; the second look finds it. A confirmation still waiting for
        # the day's slot holds its booking: skipped (it will find the day full and reject).
        heads = {first or pk for pk, first in on_day.values_list("pk", "first_dose_id")}
        _lock_courses(heads)
        list(
            Slot.objects.select_for_update()
            .filter(clinic=clinic, date__gte=timezone.localdate(now))
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        Slot.objects.filter(clinic=clinic, date=day).update(capacity=F("booked"))
        late = {first or pk for pk, first in on_day.values_list("pk", "first_dose_id")} - heads
        heads |= _lock_courses(late, skip_locked=True)
        moved = rejected = 0
        for head in sorted(heads):
            course = list(
                Booking.objects.select_related("campaign__vaccine", "slot__clinic")
                .filter(Q(pk=head) | Q(first_dose_id=head))
                .order_by("dose")
            )
            outcome = _move_off_closed_day(course, closed_day=day, clinic=clinic, now=now)
            if outcome == "moved":
                moved += 1
            elif outcome == "rejected":
                rejected += 1
            if outcome:
                notifications.booking_changed(course[0], extra=f"closed-{clinic.pk}-{day}")
        Slot.objects.filter(clinic=clinic, date=day).update(capacity=F("booked"))
        closure = ClinicDayClosure.objects.create(
            clinic=clinic,
            date=day,
            reason=reason,
            closed_at=now,
            closed_by=actor,
            moved=moved,
            rejected=rejected,
        )
        record(
            AuditEvent.Action.CLINIC_DAY_CLOSED,
            actor=actor,
            obj_type="clinics.clinicdayclosure",
            obj_id=closure.pk,
            details={
                "clinic": clinic.code,
                "date": day.isoformat(),
                "reason": reason,
                "moved": moved,
                "rejected": rejected,
            },
        )
    logger.info("clinic %s closed on %s: %d moved, %d rejected", clinic.code, day, moved, rejected)
    return closure


def _lock_courses(heads, *, skip_locked: bool = False) -> set[int]:
    """Lock every row of these courses (by first-dose id); returns the courses locked (with
    ``skip_locked``, those whose rows nobody else holds now)."""
    if not heads:
        return set()
    rows = (
        Booking.objects.select_for_update(skip_locked=skip_locked)
        .filter(Q(pk__in=heads) | Q(first_dose_id__in=heads))
        .order_by("pk")
        .values_list("pk", "first_dose_id")
    )
    return {first or pk for pk, first in rows}


def _move_off_closed_day(course: list[Booking], *, closed_day, clinic, now: datetime) -> str:
    """Move (or reject) the appointments of one course that fall on the closed day; returns
    "moved", "rejected" or "" (nothing of this course was on that day after all)."""
    for index, row in enumerate(course):
        if not (
            row.is_active
            and row.checked_in_at is None
            and row.slot.clinic_id == clinic.pk
            and row.slot.date == closed_day
        ):
            continue
        if row.status == Booking.Status.PENDING:
            # its confirmation will find the day's slot full and reject it, and say so
            return ""
        for slot in _free_slots_near(row, course, closed_day=closed_day, now=now):
            if _shift_places({slot.pk: 1, row.slot_id: -1}) is None:
                row.slot = slot
                row.moved_at = now
                row.save(update_fields=["slot", "moved_at"])
                break
        else:
            # no first dose without its second: with the first still to give, the whole
            # course goes; with it given, the doses from this one on (the person books them
            # again through a move: ``_movable_rows``)
            start = index if course[0].checked_in_at is not None else 0
            dropped = [r for r in course[start:] if r.is_active and r.checked_in_at is None]
            _shift_places(_places([r for r in dropped if r.status == Booking.Status.CONFIRMED], -1))
            for r in dropped:
                # decided_at stays the confirmation's moment (the closure keeps its own): the
                # officials' series and the operators' counters count it in its minute
                r.status = Booking.Status.REJECTED
                r.reject_reason = Booking.RejectReason.CLINIC_CLOSED
                r.save(update_fields=["status", "reject_reason"])
            return "rejected"
        return "moved"
    return ""
