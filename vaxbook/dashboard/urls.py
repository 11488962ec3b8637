from django.urls import path

from vaxbook.dashboard import views

app_name = "dashboard"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("campaigns/<int:campaign_id>/", views.campaign_page, name="campaign"),
    path("campaigns/<int:campaign_id>/data.json", views.campaign_data, name="data"),
    path("campaigns/<int:campaign_id>/series.csv", views.campaign_series_csv, name="series"),
]
