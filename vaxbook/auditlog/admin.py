from django.contrib import admin
from django.http import HttpRequest

from vaxbook.auditlog.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """The audit log, to read: nothing here adds, changes or deletes an event.

    Officials need the ``view_auditevent`` permission. Reading the log is not itself logged.
    """

    list_display = ["at", "actor_name", "action", "object_label", "details"]
    list_filter = ["action", "at"]
    search_fields = ["actor_name", "=object_id"]
    search_help_text = "Who (user name, in part) or the object's id (exactly)."
    fields = ["at", "actor", "actor_name", "action", "object_type", "object_id", "details"]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AuditEvent | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AuditEvent | None = None) -> bool:
        return False

    @admin.display(description="Object", ordering="object_type")
    def object_label(self, event: AuditEvent) -> str:
        return event.object_label
