import re
from itertools import islice

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.translation import gettext_lazy as _

from bookings.models import Booking
from bookings.selectors import suspicious_bookings
from bookings.services import CODE_ALPHABET, CODE_LENGTH
from vaxbook.auditlog.models import AuditEvent
from vaxbook.auditlog.services import record
from vaxbook.dates import format_slot
from vaxbook.notifications.models import mask_phone

INTEGRITY_REPORT_LIMIT = 500
# What a booking code looks like, exactly: a search for anything else (a phone number, a birth
# date, a name) is not written into the audit log.
CODE_LIKE = re.compile(f"[{CODE_ALPHABET}]{{{CODE_LENGTH}}}")


@admin.register(Booking)
class BookingAdmin(admin.ModelAdmin):
    """Bookings are watched here, never edited: every change goes through bookings.services.

    The registration number is shown masked only; its HMAC and ciphertext are not among the
    fields, so they never reach a page.
    """

    list_display = [
        "code",
        "campaign",
        "dose",
        "status",
        "name",
        "rrn_masked",
        "clinic",
        "slot_time",
        "requested_at",
    ]
    list_filter = ["status", "dose", "campaign"]
    list_select_related = ["campaign", "slot__clinic"]
    search_fields = ["=code"]
    search_help_text = _("Booking code, exactly (for example K7M2QX9P).")
    fields = [
        "code",
        "public_id",
        "campaign",
        "dose",
        "first_dose",
        "status",
        "reject_reason",
        "cancel_reason",
        "name",
        "rrn_masked",
        "phone_masked",
        "email_masked",
        "slot",
        "requested_at",
        "decided_at",
        "cancelled_at",
        "moved_at",
        "checked_in_at",
        "admission_pass",
        "waiting_room_required",
    ]
    readonly_fields = fields
    change_list_template = "admin/bookings/booking/change_list.html"

    def get_urls(self):
        report = self.admin_site.admin_view(self.integrity_report)
        return [
            path("integrity/", report, name="bookings_booking_integrity"),
            *super().get_urls(),
        ]

    def integrity_report(self, request: HttpRequest) -> HttpResponse:
        """Bookings requested outside the person's window, or without an admission pass while
        the waiting room was on. It should always be empty."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        rows = list(islice(suspicious_bookings(), INTEGRITY_REPORT_LIMIT))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Booking integrity report"),
            "opts": self.model._meta,
            "rows": rows,
            "limit": INTEGRITY_REPORT_LIMIT,
        }
        return TemplateResponse(request, "admin/bookings/booking/integrity.html", context)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Booking], search_term: str
    ) -> tuple[QuerySet[Booking], bool]:
        # Codes are stored upper-case. An exact match on the upper-cased term uses the unique
        # index on code, where the admin's default "=" (iexact) would compare UPPER() of
        # every row.
        term = search_term.strip().upper()
        if not term:
            return queryset, False
        return queryset.filter(code=term), False

    def changelist_view(
        self, request: HttpRequest, extra_context: dict | None = None
    ) -> HttpResponse:
        # The list shows names and masked numbers: who listed or searched which bookings is
        # recorded like opening one. A refused list raises, and a redirect (a bad filter) shows
        # nothing, so neither is recorded.
        response = super().changelist_view(request, extra_context)
        changelist = (getattr(response, "context_data", None) or {}).get("cl")
        if response.status_code == 200 and changelist is not None:
            record(
                AuditEvent.Action.BOOKINGS_LISTED,
                actor=request.user,
                obj_type="bookings.booking",
                obj_id="list",
                details={
                    "search": self._recorded_search(changelist.query),
                    "filters": changelist.get_filters_params(),
                    "rows": changelist.result_count,
                    "shown": len(changelist.result_list),
                },
            )
        return response

    @staticmethod
    def _recorded_search(term: str) -> str | dict[str, int]:
        """The search as typed, when it is a booking code (what the search looks for); for
        anything else only its length: an official who types a name or a registration number
        into the box must not put it in the audit log."""
        term = term.strip().upper()
        if not term or CODE_LIKE.fullmatch(term):
            return term
        return {"not_a_code": len(term)}

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict | None = None,
    ) -> HttpResponse:
        # The page is read-only (no change permission), so opening it is all it does: a page
        # actually shown to someone is a booking viewed. A missing booking redirects and a
        # refused one raises, so neither is recorded.
        response = super().change_view(request, object_id, form_url, extra_context)
        booking = (getattr(response, "context_data", None) or {}).get("original")
        if response.status_code == 200 and booking is not None:
            record(
                AuditEvent.Action.BOOKING_VIEWED,
                actor=request.user,
                obj_type="bookings.booking",
                obj_id=booking.pk,
                details={"campaign": booking.campaign.slug},
            )
        return response

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Booking | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Booking | None = None) -> bool:
        return False

    @admin.display(description=_("phone number"))
    def phone_masked(self, booking: Booking) -> str:
        """Masked as in the logs (010-****-5678): the person is reached through the messages,
        not by an official reading their number."""
        return mask_phone(booking.phone)

    @admin.display(description=_("e-mail address"))
    def email_masked(self, booking: Booking) -> str:
        return mask_phone(booking.email) if booking.email else "–"

    @admin.display(description=_("Registration no."))
    def rrn_masked(self, booking: Booking) -> str:
        return booking.rrn_masked

    @admin.display(description=_("Clinic"), ordering="slot__clinic__name")
    def clinic(self, booking: Booking) -> str:
        return str(booking.slot.clinic)

    @admin.display(description=_("Time"), ordering="slot__date")
    def slot_time(self, booking: Booking) -> str:
        return format_slot(booking.slot.date, booking.slot.start_time)
