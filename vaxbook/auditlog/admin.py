from django.contrib import admin
from django.http import HttpRequest
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from vaxbook.auditlog import details
from vaxbook.auditlog.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """The audit log, to read: nothing here adds, changes or deletes an event.

    Officials need the ``view_auditevent`` permission. Reading the log is not itself logged.
    """

    class Media:
        css = {"all": ["vaxbook/admin.css"]}

    list_display = ["at", "actor_name", "action", "object_label", "details_shown"]
    list_filter = ["action", "at"]
    search_fields = ["actor_name", "=object_id"]
    search_help_text = _("Who (user name, in part) or the object's id (exactly).")
    fields = ["at", "actor", "actor_name", "action", "object_type", "object_id", "details_shown"]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AuditEvent | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AuditEvent | None = None) -> bool:
        return False

    @admin.display(description=_("Object"), ordering="object_type")
    def object_label(self, event: AuditEvent) -> str:
        return event.object_label

    @admin.display(description=_("Details"))
    def details_shown(self, event: AuditEvent) -> SafeString:
        """Each fact, and each change as before → after (escaped), not the stored JSON."""
        return details.as_html(event.object_type, event.details)
