from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from vaxbook.notifications import services
from vaxbook.notifications.models import Notification, mask_phone


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    """The messages sent and to send, to read: nothing here adds or changes one. Officials see
    each with its recipient masked and its text as stored (which never holds a registration
    number), and send failed ones again (``resend_notification``, audited). Clinic staff have
    no access (``vaxbook.roles``)."""

    list_display = [
        "created_at",
        "kind",
        "channel",
        "recipient_masked",
        "status",
        "attempts",
        "last_error",
        "sent_at",
        "booking_code",
    ]
    list_filter = ["status", "kind", "channel"]
    list_select_related = ["booking"]
    search_fields = ["=booking__code"]
    search_help_text = _("The booking code (exactly).")
    fields = [
        "kind",
        "channel",
        "recipient_masked",
        "language",
        "booking_code",
        "status",
        "attempts",
        "last_error",
        "message_type",
        "provider_id",
        "created_at",
        "sent_at",
        "subject",
        "text_shown",
    ]
    readonly_fields = fields
    actions = ["resend"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Notification | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Notification | None = None) -> bool:
        return False

    def has_resend_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("notifications.resend_notification")

    @admin.display(description=_("recipient"))
    def recipient_masked(self, notification: Notification) -> str:
        return mask_phone(notification.recipient)

    @admin.display(description=_("text"))
    def text_shown(self, notification: Notification) -> str:
        """The text as stored; never a one-time code, even one not yet sent (it would let
        whoever reads the admin pass someone else's phone check)."""
        if notification.kind == Notification.Kind.PHONE_CODE:
            return gettext("A one-time code: its text is not shown.")
        return notification.text

    @admin.display(description=_("booking code"), ordering="booking__code")
    def booking_code(self, notification: Notification) -> str:
        return notification.booking.code if notification.booking else "–"

    @admin.action(description=_("Send the failed messages again"), permissions=["resend"])
    def resend(self, request: HttpRequest, queryset: QuerySet[Notification]) -> None:
        failed = list(
            queryset.filter(status=Notification.Status.FAILED).values_list("pk", flat=True)
        )
        for pk in failed:
            services.resend_notification(pk, actor=request.user)
        skipped = queryset.count() - len(failed)
        self.message_user(
            request,
            ngettext(
                "%(count)d message queued to be sent again.",
                "%(count)d messages queued to be sent again.",
                len(failed),
            )
            % {"count": len(failed)},
            messages.SUCCESS if failed else messages.WARNING,
        )
        if skipped:
            self.message_user(
                request,
                ngettext(
                    "%(count)d message was not failed and was left as it is.",
                    "%(count)d messages were not failed and were left as they are.",
                    skipped,
                )
                % {"count": skipped},
                messages.WARNING,
            )
