"""Messages: written to the outbox in the transaction of the change they announce
(``notify``), sent after it commits by a task (``deliver``).

What is promised: each message is handed to the provider once, as far as the provider can be
asked. Before a channel is called the row is marked ``sending`` (``sending_since``) and
committed. A row still ``sending`` after ``VAXBOOK_MESSAGE_SENDING_LEASE`` lost its worker; the
sweep (``redeliver_stalled``) publishes it again, and every attempt after the first asks the
channel whether the provider already has it (``already_sent``, by the key the message carries)
before sending it. What remains is a provider that took a request but does not list it by the
time the lease and the backoff have passed, which the channel's docstring states.
"""

import functools
import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import Q
from django.template.loader import get_template, render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from vaxbook.notifications.channels import SendFailed, channel_for
from vaxbook.notifications.models import Notification, mask_phone

logger = logging.getLogger(__name__)

Kind = Notification.Kind


def render(kind: str, channel: str, context: dict, *, language: str) -> str:
    """The text of a message in the language of the person it goes to."""
    with translation.override(language):
        text = render_to_string(f"notifications/{channel}/{kind}.txt", context)
    return _tidy(text)


def _tidy(text: str) -> str:
    """Templates are laid out for reading; a message is its lines, without blank runs."""
    lines = [line.strip() for line in text.strip().splitlines()]
    return "\n".join(line for i, line in enumerate(lines) if line or (i and lines[i - 1]))


def notify(
    *,
    kind: str,
    recipient: str,
    key: str,
    context: dict,
    language: str,
    booking=None,
    channel: str = Notification.Channel.SMS,
    urgent: bool = False,
    subject: str = "",
) -> None:
    """Put a message in the outbox, once per ``key`` (a second call with the same key writes
    nothing), and send it after the surrounding transaction commits. One INSERT … ON CONFLICT
    DO NOTHING: no savepoint on the confirmation's hot path. ``subject`` (e-mail) is
    translated here into ``language``."""
    text = render(kind, channel, context, language=language)
    with translation.override(language):
        subject = str(subject)
    Notification.objects.bulk_create(
        [
            Notification(
                booking=booking,
                kind=kind,
                channel=channel,
                recipient=recipient,
                language=language,
                text=text,
                subject=subject,
                key=key,
                urgent=urgent,
            )
        ],
        ignore_conflicts=True,
    )
    transaction.on_commit(lambda: enqueue(key, urgent=urgent), robust=True)


def enqueue_decoy(key: str) -> None:
    """Publish a send task for a key with no message (it does nothing), where a request must
    cost the same whether or not it wrote a message (find-my-booking)."""
    transaction.on_commit(lambda: enqueue(key, urgent=False), robust=True)


def enqueue(key: str, *, urgent: bool) -> None:
    """Publish the send task of the message under ``key``: the one place that picks the queue."""
    from vaxbook.notifications.tasks import send_notification

    # "urgent" is consumed ahead of the default queue by every worker (settings.py, Celery)
    send_notification.apply_async((key,), queue="urgent" if urgent else None)


def enqueue_many(keys: list[str]) -> None:
    """Publish one task that sends many (not urgent) messages in turn (a batch of decisions
    announces a hundred at once): a hundred tasks would cost the worker more than the
    decisions did. A message it cannot send for now gets a task of its own (the
    ``send_notifications`` task); one lost with the task is published again by the sweep."""
    from vaxbook.notifications.tasks import send_notifications

    send_notifications.delay(keys)


def booking_key(
    booking, kind: str, channel: str = Notification.Channel.SMS, extra: str = ""
) -> str:
    return ":".join(filter(None, ["booking", str(booking.pk), kind, extra, channel]))


def _link_templates() -> tuple[str, str]:
    """The status page's and the start page's addresses with a placeholder for their
    argument: a batch of decisions builds a hundred links, and ``reverse`` is the dearest part
    of a message after its template."""
    from django.urls import reverse

    site = settings.VAXBOOK_SITE_URL.rstrip("/")
    return (
        site + reverse("bookings:status", kwargs={"public_id": _PLACEHOLDER_ID}),
        site + reverse("bookings:start", kwargs={"campaign": _PLACEHOLDER_SLUG}),
    )


_PLACEHOLDER_ID = "00000000-0000-0000-0000-000000000000"
_PLACEHOLDER_SLUG = "placeholder-slug"


def booking_context(booking, *, links: tuple[str, str] | None = None) -> dict:
    """What the texts about ``booking`` read. ``links``: ``_link_templates()``, when the
    caller builds many."""
    from django.utils.functional import SimpleLazyObject

    from bookings.selectors import course_of

    # the link and code people keep are the course's (its first dose's), also in a message
    # about a later dose (its reminder)
    head = booking if booking.first_dose_id is None else booking.first_dose
    status, start = links or _link_templates()
    return {
        "booking": booking,
        # every dose's appointment, first first, for a vaccine of more than one dose (else
        # empty); read only by the texts that list them
        "doses": SimpleLazyObject(lambda: course_of(booking) if _multi_dose(booking) else []),
        "slot": booking.slot,
        "clinic": booking.slot.clinic,
        "campaign": booking.campaign,
        "link": status.replace(_PLACEHOLDER_ID, str(head.public_id)),
        "start_again": start.replace(_PLACEHOLDER_SLUG, booking.campaign.slug),
    }


def _multi_dose(booking) -> bool:
    vaccine = booking.campaign.vaccine
    return vaccine is not None and vaccine.doses > 1


# The subject of each e-mail about a booking (texts have none).
EMAIL_SUBJECTS = {
    Kind.CONFIRMED: _("Your vaccination booking is confirmed"),
    Kind.REJECTED: _("Your vaccination booking did not go through"),
    Kind.CANCELLED: _("Your vaccination booking is cancelled"),
    Kind.CHANGED: _("Your vaccination booking has changed"),
}


def _announce(booking, kind: str, extra: str = "") -> None:
    """A text to the booking's phone and, when one was given, an e-mail to its address: two
    messages with their own keys, each sent (and retried) on its own."""
    context = booking_context(booking)
    notify(
        kind=kind,
        recipient=booking.phone,
        key=booking_key(booking, kind, extra=extra),
        context=context,
        language=booking.language,
        booking=booking,
    )
    if booking.email:
        notify(
            kind=kind,
            recipient=booking.email,
            key=booking_key(booking, kind, Notification.Channel.EMAIL, extra=extra),
            context=context,
            language=booking.language,
            booking=booking,
            channel=Notification.Channel.EMAIL,
            subject=EMAIL_SUBJECTS[kind],
        )


def booking_decided(booking) -> None:
    """Inside the transaction that confirmed or rejected ``booking``."""
    _announce(booking, _decision_kind(booking))


def _decision_kind(booking) -> str:
    return Kind.CONFIRMED if booking.status == booking.Status.CONFIRMED else Kind.REJECTED


class _StandIn:
    """A booking (or clinic) whose per-person fields read as placeholders: a batch renders a
    text once for everyone it decides alike, then writes each person's values into it."""

    def __init__(self, real, **placeholders):
        self._real = real
        self.__dict__.update(placeholders)

    def __getattr__(self, name):
        return getattr(self._real, name)


_CODE, _LINK, _START_AGAIN, _WHEN, _CLINIC, _ADDRESS = (
    f"\x00{name}\x00" for name in ("code", "link", "start", "when", "clinic", "address")
)


@functools.lru_cache(maxsize=4096)
def _when(language: str, day, at) -> str:
    """A slot's appointment as the texts say it (``slot_when``) in ``language`` (the active
    one, passed for the cache's key): a pure function of its arguments, and a date format
    costs more than the rest of a text."""
    from vaxbook.dates import format_slot

    return format_slot(day, at)


def _batch_text(booking, name: str, context: dict, *, language: str, shapes: dict) -> str:
    """The text of template ``name`` for ``booking`` in a batch (the active language is
    ``language``): rendered once per shape with placeholders, kept in ``shapes``, and this
    person's values written in; a course of several doses is rendered whole."""
    if _multi_dose(booking):
        return _tidy(get_template(name).render(context))
    shape = (name, booking.campaign_id, booking.status, booking.reject_reason)
    if shape not in shapes:
        shapes[shape] = get_template(name).render(
            context
            | {
                "booking": _StandIn(booking, code=_CODE),
                "clinic": _StandIn(booking.slot.clinic, name=_CLINIC, address=_ADDRESS),
                "when": _WHEN,
                "link": _LINK,
                "start_again": _START_AGAIN,
            }
        )
    slot, clinic = booking.slot, booking.slot.clinic
    return _tidy(
        shapes[shape]
        .replace(_CODE, str(booking.code))
        .replace(_CLINIC, str(clinic.name))
        .replace(_ADDRESS, str(clinic.address))
        .replace(_WHEN, _when(language, slot.date, slot.start_time))
        .replace(_LINK, context["link"])
        .replace(_START_AGAIN, context["start_again"])
    )


def bookings_decided(bookings) -> None:
    """Inside the transaction that confirmed or rejected each of ``bookings`` (first doses):
    what ``booking_decided`` writes for each, in one INSERT … ON CONFLICT DO NOTHING (a
    decision announced before writes nothing new), published after commit over one broker
    connection. The round trips are per batch.

    Rendering the texts was most of a batch's cost, yet a confirmation or rejection differs
    between people decided alike (same language, kind, channel, campaign, reason) only by
    the code, the clinic, the appointment and the links. So each such text is rendered once,
    under one ``translation.override`` per language, with placeholders, and each person's
    values written into it (the appointment formatted once per process, ``_when``); a course
    of more than one dose (its text lists the person's own doses) is rendered whole. The
    words are the same as ``render`` writes (the tests compare them). A template that reads
    more of the booking than its code, status and reject reason, or more of the slot than
    its clinic's name and address and its time (``when``), must add that to ``shape`` in
    ``_batch_text``."""
    rows = []
    links = _link_templates()
    by_language: dict[str, list] = {}
    for booking in bookings:
        by_language.setdefault(booking.language, []).append(booking)
    for language, group in by_language.items():
        with translation.override(language):
            subjects = {kind: str(subject) for kind, subject in EMAIL_SUBJECTS.items()}
            shapes = {}
            for booking in group:
                kind = _decision_kind(booking)
                context = booking_context(booking, links=links)
                channels = [(Notification.Channel.SMS, booking.phone, "")]
                if booking.email:
                    channels.append((Notification.Channel.EMAIL, booking.email, subjects[kind]))
                for channel, recipient, subject in channels:
                    rows.append(
                        Notification(
                            booking=booking,
                            kind=kind,
                            channel=channel,
                            recipient=recipient,
                            language=language,
                            text=_batch_text(
                                booking,
                                f"notifications/{channel}/{kind}.txt",
                                context,
                                language=language,
                                shapes=shapes,
                            ),
                            subject=subject,
                            key=booking_key(booking, kind, channel),
                            urgent=False,
                        )
                    )
    if not rows:
        return
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    keys = [row.key for row in rows]
    transaction.on_commit(lambda: enqueue_many(keys), robust=True)


def booking_cancelled(booking) -> None:
    """Inside the transaction that cancelled ``booking``."""
    _announce(booking, Kind.CANCELLED)


def booking_changed(booking, *, extra: str) -> None:
    """Inside the transaction that changed the appointments of ``booking``'s course (a move, a
    closed clinic day, a dose freed after a missed first): the message lists every dose as it
    now stands. ``extra`` names the change, so each change is one message (and a redelivery of
    it is not another)."""
    _announce(booking, Kind.CHANGED, extra=extra)


def retry_wait(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th attempt failed for now: 10 s, 20 s, 40 s…
    at most ``VAXBOOK_MESSAGE_RETRY_MAX``."""
    return timedelta(seconds=min(10 * 2 ** (attempts - 1), settings.VAXBOOK_MESSAGE_RETRY_MAX))


SUPERSEDED = "superseded: the booking is no longer confirmed"
# Messages that only make sense while their booking stands: a confirmation or a reminder still
# waiting (a retry's backoff, a slow queue) when the booking is cancelled is not sent.
WHILE_CONFIRMED = {Kind.CONFIRMED, Kind.REMINDER}


def _superseded(notification: Notification) -> bool:
    booking = notification.booking
    return (
        notification.kind in WHILE_CONFIRMED
        and booking is not None
        and booking.status != booking.Status.CONFIRMED
    )


def _forget_code(notification: Notification) -> None:
    """A one-time code's text is not kept once it is out (or never will be): whoever reads the
    outbox, the admin or a backup must not find a live code there. The console channel (only
    in development) keeps it, to be read on /dev/outbox/."""
    if notification.kind == Kind.PHONE_CODE and settings.VAXBOOK_SMS_BACKEND != "console":
        notification.text = ""


def deliver(key: str, *, now: datetime | None = None) -> Notification | None:
    """Send one queued message. Returns it as it stands afterwards: ``sent``; ``queued`` again
    after a temporary failure with attempts left (``next_attempt_at`` says when to try again);
    ``failed``; or ``sending`` when another worker has it in hand (left alone).

    The row is marked ``sending`` (with ``sending_since``) and committed before the channel is
    called, so a worker that stops mid-send leaves a trace. Such a row is taken up again only
    once ``VAXBOOK_MESSAGE_SENDING_LEASE`` has passed (the first worker's request can no longer
    be in flight). Every attempt after the first (after a stop, a timeout, a 5xx, a resend)
    first asks the channel whether the provider already has the message (``already_sent``):
    it is sent again only if the provider says it has not.
    """
    now = now or timezone.now()
    lease = timedelta(seconds=settings.VAXBOOK_MESSAGE_SENDING_LEASE)
    with transaction.atomic():
        notification = (
            Notification.objects.select_for_update(of=("self",))
            .select_related("booking")
            .filter(key=key)
            .first()
        )
        if notification is None or notification.status in (
            Notification.Status.SENT,
            Notification.Status.FAILED,
        ):
            return notification
        if _superseded(notification):
            notification.status = Notification.Status.FAILED
            notification.last_error = SUPERSEDED
            notification.save(update_fields=["status", "last_error"])
            return notification
        if notification.status == Notification.Status.SENDING and (
            notification.sending_since and notification.sending_since > now - lease
        ):
            return notification  # another worker is sending it right now
        if notification.next_attempt_at and notification.next_attempt_at > now:
            return notification  # early: the backoff is not over
        channel = channel_for(notification)
        # An earlier attempt that may have reached the provider (its worker stopped mid-send,
        # or it timed out after the request left): ask before sending again.
        uncertain = notification.attempts > 0 or bool(notification.last_error)
        notification.status = Notification.Status.SENDING
        notification.attempts += 1
        notification.sending_since = now
        notification.next_attempt_at = None
        notification.save(update_fields=["status", "attempts", "sending_since", "next_attempt_at"])
    try:
        provider_id = (channel.already_sent(notification) if uncertain else None) or (
            channel.send(notification)
        )
    except SendFailed as failure:
        return _record_failure(notification, failure, now=now)
    _mark_sent(notification, provider_id, now=now)
    notification.save(update_fields=SENT_FIELDS)
    return notification


SENT_FIELDS = ["text", "status", "provider_id", "sent_at", "sending_since", "message_type"]


def _mark_sent(notification: Notification, provider_id: str, *, now: datetime) -> None:
    notification.status = Notification.Status.SENT
    notification.provider_id = provider_id[:100]
    notification.sent_at = now
    notification.sending_since = None
    _forget_code(notification)


def _record_failure(notification: Notification, failure: SendFailed, *, now: datetime):
    """After the channel refused or failed: ``queued`` again with its next attempt's time, or
    ``failed`` for good (not temporary, or its attempts spent); saved and logged."""
    give_up = not failure.temporary or (
        notification.attempts >= settings.VAXBOOK_MESSAGE_MAX_ATTEMPTS
    )
    notification.status = Notification.Status.FAILED if give_up else Notification.Status.QUEUED
    notification.next_attempt_at = None if give_up else now + retry_wait(notification.attempts)
    notification.last_error = str(failure)[:500]
    notification.sending_since = None
    if give_up:
        _forget_code(notification)
    notification.save(
        update_fields=[
            "text",
            "status",
            "last_error",
            "sending_since",
            "next_attempt_at",
            "message_type",
        ]
    )
    logger.warning(
        "message %s to %s: %s (attempt %s%s)",
        notification.kind,
        mask_phone(notification.recipient),
        failure,
        notification.attempts,
        ", given up" if give_up else "",
    )
    return notification


def _record_sent_together(sent: list[Notification]) -> None:
    """``SENT_FIELDS`` of many sent messages in one UPDATE … FROM (VALUES …) (``bulk_update``
    builds a CASE per field and row: for a hundred rows it cost more than sending them)."""
    table = connection.ops.quote_name(Notification._meta.db_table)
    values = ", ".join(["(%s::bigint, %s::text, %s::varchar, %s::varchar)"] * len(sent))
    params: list = [Notification.Status.SENT, sent[0].sent_at]
    for row in sent:
        params += [row.pk, row.text, row.provider_id, row.message_type]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS n SET status = %s, sent_at = %s, sending_since = NULL, "  # noqa: S608
            "text = v.text, provider_id = v.provider_id, message_type = v.message_type "
            f"FROM (VALUES {values}) AS v(id, text, provider_id, message_type) WHERE n.id = v.id",
            params,
        )


def deliver_many(keys: list[str], *, now: datetime | None = None) -> list[Notification]:
    """``deliver`` for the first attempt of many messages at once (a batch of decisions'
    texts), with the same promise and a few statements instead of a few per message: the
    messages are locked (``SKIP LOCKED``) and marked ``sending`` together and committed before
    any channel is called; each is then handed to its channel, and those sent are recorded
    with one UPDATE. Only messages never tried are taken here; what is left (another worker
    has it, an earlier attempt, a backoff) goes through ``deliver`` one by one, as does a
    failure. Returns the messages as they stand afterwards (None left out)."""
    now = now or timezone.now()
    with transaction.atomic():
        rows = list(
            Notification.objects.select_for_update(of=("self",), skip_locked=True)
            .select_related("booking")
            .filter(
                key__in=keys,
                status=Notification.Status.QUEUED,
                attempts=0,
                last_error="",
                next_attempt_at__isnull=True,
            )
        )
        superseded = [row for row in rows if _superseded(row)]
        fresh = [row for row in rows if not _superseded(row)]
        if superseded:
            Notification.objects.filter(pk__in=[row.pk for row in superseded]).update(
                status=Notification.Status.FAILED, last_error=SUPERSEDED
            )
            for row in superseded:
                row.status, row.last_error = Notification.Status.FAILED, SUPERSEDED
        if fresh:
            Notification.objects.filter(pk__in=[row.pk for row in fresh]).update(
                status=Notification.Status.SENDING, attempts=1, sending_since=now
            )
    outcomes = list(superseded)
    sent = []
    for row in fresh:
        row.status, row.attempts, row.sending_since = Notification.Status.SENDING, 1, now
        try:
            provider_id = channel_for(row).send(row)
        except SendFailed as failure:
            outcomes.append(_record_failure(row, failure, now=now))
            continue
        _mark_sent(row, provider_id, now=now)
        sent.append(row)
    if sent:
        _record_sent_together(sent)
    outcomes += sent
    taken = {row.key for row in rows}
    for key in keys:
        if key not in taken and (notification := deliver(key, now=now)) is not None:
            outcomes.append(notification)
    return outcomes


def stalled_messages(*, now: datetime | None = None) -> list[tuple[str, bool]]:
    """Messages neither sent nor moving: queued for longer than the lease (their task was lost
    with a broker, or waits unacknowledged in a killed worker for Redis's visibility timeout)
    or ``sending`` for longer than the lease (their worker stopped mid-send)."""
    now = now or timezone.now()
    before = now - timedelta(seconds=settings.VAXBOOK_MESSAGE_SENDING_LEASE)
    queued = Q(status=Notification.Status.QUEUED) & (
        Q(next_attempt_at__lte=before) | Q(next_attempt_at__isnull=True, created_at__lte=before)
    )
    # (no sending_since: marked by the code before the lease existed)
    sending = Q(status=Notification.Status.SENDING) & (
        Q(sending_since__lte=before) | Q(sending_since__isnull=True)
    )
    return list(
        Notification.objects.filter(queued | sending)
        .order_by("-urgent", "created_at")
        .values_list("key", "urgent")[:1000]
    )


def redeliver_stalled(*, now: datetime | None = None) -> int:
    """Publish the task again for every stalled message (the sweep); ``deliver``'s lease and
    its question to the provider make a duplicate task harmless. Returns how many."""
    stalled = stalled_messages(now=now)
    for key, urgent in stalled:
        enqueue(key, urgent=urgent)
    return len(stalled)


def resend_notification(notification_id: int, *, actor: AbstractBaseUser) -> Notification:
    """An official sends a ``failed`` message again: back to ``queued`` with its attempts
    reset, audited, and published after commit. Anything not failed is left as it is."""
    from vaxbook.auditlog.models import AuditEvent
    from vaxbook.auditlog.services import record

    with transaction.atomic():
        notification = Notification.objects.select_for_update().get(pk=notification_id)
        # a one-time code sent again would be a stale one (the person asks for a new code)
        if (
            notification.status != Notification.Status.FAILED
            or notification.kind == Kind.PHONE_CODE
        ):
            return notification
        record(
            AuditEvent.Action.MESSAGE_RESENT,
            actor=actor,
            obj_type="notifications.notification",
            obj_id=notification.pk,
            details={
                "kind": notification.kind,
                "channel": notification.channel,
                "attempts": notification.attempts,
                "last_error": notification.last_error,
            },
        )
        # last_error stays: the failed attempt may have reached the provider (a timeout after
        # it took the message), so the next attempt asks it first (deliver's "uncertain")
        notification.status = Notification.Status.QUEUED
        notification.attempts = 0
        notification.next_attempt_at = None
        notification.save(update_fields=["status", "attempts", "next_attempt_at"])
        key, urgent = notification.key, notification.urgent
        transaction.on_commit(lambda: enqueue(key, urgent=urgent), robust=True)
    return notification
