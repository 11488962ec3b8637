from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditLogConfig(AppConfig):
    name = "vaxbook.auditlog"
    label = "auditlog"
    verbose_name = _("Audit log")
    default_auto_field = "django.db.models.BigAutoField"
