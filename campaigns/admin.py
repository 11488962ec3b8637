from django.contrib import admin
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from bookings.models import Booking
from campaigns.models import Campaign
from campaigns.windows import WindowState, format_kst, window_state


class WindowStateFilter(admin.SimpleListFilter):
    title = "booking window"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple]:
        return [(state.value, state.value.capitalize()) for state in WindowState]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        # The same boundaries as campaigns.windows.window_state (opens inclusive, closes
        # exclusive), written as a query so the filter does not load every campaign.
        now = timezone.now()
        conditions = {
            WindowState.SCHEDULED.value: Q(opens_at__gt=now),
            WindowState.OPEN.value: Q(opens_at__lte=now, closes_at__gt=now),
            WindowState.CLOSED.value: Q(closes_at__lte=now),
        }
        condition = conditions.get(self.value())
        return queryset if condition is None else queryset.filter(condition)


def _count_with_status(status: str) -> Count:
    return Count("bookings", filter=Q(bookings__status=status))


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "slug",
        "vaccine",
        "cohort",
        "opens_at_kst",
        "closes_at_kst",
        "state",
        "pending_count",
        "confirmed_count",
        "rejected_count",
        "cancelled_count",
    ]
    list_filter = [WindowStateFilter]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["created_at"]
    fieldsets = [
        (None, {"fields": ["name", "slug", "vaccine"]}),
        ("Cohort", {"fields": ["born_from", "born_to"]}),
        (
            "Booking window",
            {
                "fields": ["opens_at", "closes_at", "created_at"],
                "description": "Times are Korea time (KST, Asia/Seoul), whatever the "
                "clock of the computer you are using. Booking opens at the first time and "
                "closes at the second.",
            },
        ),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        # One query for the whole page: the counts are aggregates over a single join, not a
        # query per row.
        return (
            super()
            .get_queryset(request)
            .annotate(
                pending_count=_count_with_status(Booking.Status.PENDING),
                confirmed_count=_count_with_status(Booking.Status.CONFIRMED),
                rejected_count=_count_with_status(Booking.Status.REJECTED),
                cancelled_count=_count_with_status(Booking.Status.CANCELLED),
            )
        )

    @admin.display(description="Cohort", ordering="born_from")
    def cohort(self, campaign: Campaign) -> str:
        return f"{campaign.born_from:%Y-%m-%d} – {campaign.born_to:%Y-%m-%d}"

    @admin.display(description="Opens (KST)", ordering="opens_at")
    def opens_at_kst(self, campaign: Campaign) -> str:
        return format_kst(campaign.opens_at)

    @admin.display(description="Closes (KST)", ordering="closes_at")
    def closes_at_kst(self, campaign: Campaign) -> str:
        return format_kst(campaign.closes_at)

    @admin.display(description="State")
    def state(self, campaign: Campaign) -> str:
        return window_state(campaign).value

    @admin.display(description="Pending", ordering="pending_count")
    def pending_count(self, campaign: Campaign) -> int:
        return campaign.pending_count

    @admin.display(description="Confirmed", ordering="confirmed_count")
    def confirmed_count(self, campaign: Campaign) -> int:
        return campaign.confirmed_count

    @admin.display(description="Rejected", ordering="rejected_count")
    def rejected_count(self, campaign: Campaign) -> int:
        return campaign.rejected_count

    @admin.display(description="Cancelled", ordering="cancelled_count")
    def cancelled_count(self, campaign: Campaign) -> int:
        return campaign.cancelled_count
