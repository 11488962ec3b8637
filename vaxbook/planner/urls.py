from django.contrib import admin
from django.urls import path

from vaxbook.planner import views

app_name = "planner"
urlpatterns = [
    path("campaigns/<int:campaign_id>/", admin.site.admin_view(views.plan), name="campaign"),
]
