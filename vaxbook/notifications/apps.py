from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotificationsConfig(AppConfig):
    name = "vaxbook.notifications"
    label = "notifications"
    verbose_name = _("Messages")
    default_auto_field = "django.db.models.BigAutoField"
