from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DashboardConfig(AppConfig):
    """Officials watch an opening as it happens: the live dashboard of a campaign."""

    name = "vaxbook.dashboard"
    label = "dashboard"
    verbose_name = _("Dashboard")
