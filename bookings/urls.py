from django.urls import path

from bookings import views

app_name = "bookings"

urlpatterns = [
    path("book/<slug:campaign>/", views.start, name="start"),
    path("book/<slug:campaign>/phone/", views.verify_phone, name="verify-phone"),
    path("book/<slug:campaign>/choose/", views.choose, name="choose"),
    path("book/<slug:campaign>/review/", views.review, name="review"),
    path("book/<slug:campaign>/rebook/<uuid:public_id>/", views.rebook, name="rebook"),
    path("book/<slug:campaign>/move/<uuid:public_id>/", views.move, name="move"),
    path(
        "book/<slug:campaign>/move/<uuid:public_id>/review/",
        views.move_review,
        name="move-review",
    ),
    path("booking/lookup/", views.lookup, name="lookup"),
    path("booking/<uuid:public_id>/", views.status, name="status"),
    path("booking/<uuid:public_id>/cancel/", views.cancel, name="cancel"),
    path("booking/<uuid:public_id>/calendar.ics", views.calendar_file, name="calendar"),
]
