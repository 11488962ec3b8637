from django.contrib.auth.views import LogoutView
from django.urls import path

from clinics import views

app_name = "clinics"

urlpatterns = [
    path("", views.staff_home, name="staff-home"),
    # The staff header's logout (a POST), back to the login page. Django's own, not the
    # admin's: that one only logs out people the admin lets in.
    path("logout/", LogoutView.as_view(next_page="admin-login"), name="logout"),
    path("clinics/<slug:code>/roster.<slug:file_format>", views.roster, name="roster"),
    # One day of the clinic: today, or ?date=YYYY-MM-DD.
    path("clinics/<slug:code>/today/", views.clinic_day, name="day"),
    path("clinics/<slug:code>/check-in/<str:booking_code>/", views.check_in, name="check-in"),
    path(
        "clinics/<slug:code>/check-in/<str:booking_code>/undo/",
        views.undo_check_in_view,
        name="undo-check-in",
    ),
]
