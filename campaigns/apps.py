from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = _("Campaigns")

    def ready(self) -> None:
        # Every save of a campaign, its windows or its vaccine forgets the held copies.
        from campaigns import signals  # noqa: F401
