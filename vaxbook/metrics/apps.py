from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MetricsConfig(AppConfig):
    """What operators' monitoring reads: the Prometheus endpoint and the health check."""

    name = "vaxbook.metrics"
    label = "metrics"
    verbose_name = _("Metrics")
