from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from campaigns import views as campaign_views
from vaxbook import second_factor
from vaxbook import views as vaxbook_views
from vaxbook.notifications import views as notification_views

urlpatterns = [
    path("", campaign_views.home, name="home"),
    path("", include("bookings.urls")),
    path("", include("campaigns.urls")),
    path("staff/", include("clinics.urls")),
    path("api/", include("vaxbook.api_urls")),
    path("admin/login/", vaxbook_views.admin_login, name="admin-login"),
    path("account/second-factor/", second_factor.setup, name="second-factor-setup"),
    # officials' pages beside the admin (their views check the admin login and permissions)
    path("admin/dashboard/", include("vaxbook.dashboard.urls")),
    path("admin/planner/", include("vaxbook.planner.urls")),
    path("admin/", admin.site.urls),
    # operators: /metrics (Prometheus, behind a token) and /healthz (load balancers)
    path("", include("vaxbook.metrics.urls")),
    # POST language=ko|en: the switch on every page (Django's set_language, remembered in a cookie).
    path("i18n/", include("django.conf.urls.i18n")),
]

if not settings.PRODUCTION:
    # The console channel's messages, to read in development (never routed in production).
    urlpatterns.append(path("dev/outbox/", notification_views.dev_outbox, name="dev-outbox"))
