from django.urls import path

from bookings.api import BookingCreateView, BookingMoveView, BookingStatusView
from campaigns.api import CampaignListView
from campaigns.windows import booking_window_required
from clinics.api import AvailabilityView, CheckInView, RosterView

app_name = "api"

urlpatterns = [
    path("campaigns/", CampaignListView.as_view(), name="campaigns"),
    path(
        "campaigns/<slug:campaign>/availability/",
        AvailabilityView.as_view(),
        name="availability",
    ),
    path(
        "campaigns/<slug:campaign>/bookings/",
        booking_window_required(BookingCreateView.as_view(), json=True),
        name="booking-create",
    ),
    path(
        "campaigns/<slug:campaign>/bookings/<uuid:public_id>/move/",
        booking_window_required(BookingMoveView.as_view(), json=True),
        name="booking-move",
    ),
    path("bookings/<uuid:public_id>/", BookingStatusView.as_view(), name="booking-status"),
    path("clinics/<slug:code>/roster/", RosterView.as_view(), name="roster"),
    path(
        "clinics/<slug:code>/bookings/<str:booking_code>/check-in/",
        CheckInView.as_view(),
        name="check-in",
    ),
]
