from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PlannerConfig(AppConfig):
    """The capacity planner: staggered windows proposed from measured capacity."""

    name = "vaxbook.planner"
    label = "planner"
    verbose_name = _("Capacity planner")
