from django.urls import path

from vaxbook.metrics import views

app_name = "metrics"
urlpatterns = [
    path("metrics", views.metrics, name="metrics"),
    path("healthz", views.healthz, name="healthz"),
    path("ping", views.ping, name="ping"),
]
