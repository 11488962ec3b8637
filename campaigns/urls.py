from django.urls import path

from campaigns import views

app_name = "campaigns"

urlpatterns = [
    path("queue/<slug:campaign>/", views.queue, name="queue"),
    path("queue/<slug:campaign>/join/", views.join, name="queue-join"),
    path("queue/<slug:campaign>/status/", views.queue_status, name="queue-status"),
    path("queue/<slug:campaign>/draw/", views.draw, name="draw"),
    path("window-signup/<slug:campaign>/", views.window_signup, name="window-signup"),
    path(
        "window-signup/<slug:campaign>/code/",
        views.window_signup_code,
        name="window-signup-code",
    ),
]
