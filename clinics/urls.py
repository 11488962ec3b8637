from django.urls import path

from clinics import views

app_name = "clinics"

urlpatterns = [
    path("", views.staff_home, name="staff-home"),
    path("clinics/<slug:code>/roster.<slug:file_format>", views.roster, name="roster"),
    path("clinics/<slug:code>/today/", views.clinic_day, name="day"),
    path("clinics/<slug:code>/check-in/<str:booking_code>/", views.check_in, name="check-in"),
]
