"""The audit log: who exported a roster, listed or opened bookings, changed a campaign's windows,
its waiting room, a slot's capacity or a clinic's staff, and when.

Its own app, used by every other one; the table keeps the name it was created with
(``bookings_auditevent``: the model began in ``bookings``, and moved here without a copy).

Append-only. ``auditlog.services.record`` is the only writer; an event, once written, is never
changed or deleted: ``AuditEvent.save`` refuses to update a row and ``delete`` refuses outright,
and on PostgreSQL triggers (migrations ``bookings.0004_auditevent`` and
``bookings.0007_auditevent_no_truncate``) refuse any UPDATE, DELETE or TRUNCATE of the table,
so ``QuerySet.update()``/``delete()`` and raw SQL fail too. In production the application
connects as a role that owns nothing (``manage.py setup_database_role``), so it cannot drop or
disable those triggers either.
The one exception is the trigger's: deleting a user sets ``actor`` to NULL
(``on_delete=SET_NULL``) and nothing else, and ``actor_name``, copied when the event is
written, still says who it was.

Events name the objects they are about by type and id; ``details`` never holds a citizen's
name or registration number, only what officials and staff typed or chose (codes, days,
windows, capacities).
"""

from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# The actor of what is done on the server's command line: no user is logged in there.
COMMAND_LINE = "command-line"


class AuditEventJSONEncoder(DjangoJSONEncoder):
    """Times in Korea time (with their offset), as the officials reading the log think of
    them; otherwise Django's encoder (dates, times, decimals, UUIDs)."""

    def default(self, o: Any) -> Any:
        if isinstance(o, datetime) and timezone.is_aware(o):
            o = timezone.localtime(o)
        return super().default(o)


class AppendOnlyViolation(Exception):
    """An attempt to change or delete an audit event."""


class AuditEvent(models.Model):
    class Action(models.TextChoices):
        ROSTER_EXPORTED = "roster_exported", _("Roster exported")
        BOOKING_VIEWED = "booking_viewed", _("Booking viewed")
        BOOKINGS_LISTED = "bookings_listed", _("Bookings listed or searched")
        CAMPAIGN_WINDOW_CHANGED = "campaign_window_changed", _("Campaign window changed")
        BOOKING_WINDOW_ADDED = "booking_window_added", _("Staggered window added")
        BOOKING_WINDOW_CHANGED = "booking_window_changed", _("Staggered window changed")
        BOOKING_WINDOW_DELETED = "booking_window_deleted", _("Staggered window deleted")
        WAITING_ROOM_CHANGED = "waiting_room_changed", _("Waiting room changed")
        SLOT_CAPACITY_CHANGED = "slot_capacity_changed", _("Slot capacity changed")
        STAFF_MEMBERSHIP_ADDED = "staff_membership_added", _("Clinic staff member added")
        STAFF_MEMBERSHIP_CHANGED = "staff_membership_changed", _("Clinic staff member changed")
        STAFF_MEMBERSHIP_REMOVED = "staff_membership_removed", _("Clinic staff member removed")
        MESSAGE_RESENT = "message_resent", _("Failed message sent again")
        CLINIC_DAY_CLOSED = "clinic_day_closed", _("Clinic day closed")

    at = models.DateTimeField(_("when"), default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("user"),
    )
    actor_name = models.CharField(
        _("who"),
        max_length=150,
        help_text=_("Who it was when the event was written; kept if the user goes."),
    )
    action = models.CharField(_("action"), max_length=40, choices=Action.choices)
    object_type = models.CharField(
        _("object type"), max_length=100, help_text=_("app_label.model, e.g. clinics.slot")
    )
    object_id = models.CharField(_("object id"), max_length=64)
    details = models.JSONField(
        _("details"), default=dict, blank=True, encoder=AuditEventJSONEncoder
    )

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        db_table = "bookings_auditevent"
        ordering = ["-at", "-pk"]
        indexes = [
            models.Index(fields=["object_type", "object_id"], name="bookings_au_object__89e457_idx")
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_name}: {self.action} {self.object_label}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding or kwargs.get("force_update") or kwargs.get("update_fields"):
            raise AppendOnlyViolation("Audit events are written once and never changed.")
        kwargs["force_insert"] = True  # never an UPDATE, even with a pk set by hand
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnlyViolation("Audit events are never deleted.")

    @property
    def object_label(self) -> str:
        return f"{self.object_type} {self.object_id}"
