from django.contrib.admin.apps import AdminConfig as DjangoAdminConfig


class AdminConfig(DjangoAdminConfig):
    """Django's admin with the second factor at its login (vaxbook.second_factor)."""

    default_site = "vaxbook.second_factor.SecondFactorAdminSite"
