from django.urls import path

from clinics import views

app_name = "clinics"

urlpatterns = [
    path("", views.staff_home, name="staff-home"),
    path("clinics/<slug:code>/roster.csv", views.roster_csv, name="roster-csv"),
]
