from typing import Any

from django.contrib import admin, messages
from django.db import transaction
from django.db.models import Count, Prefetch, Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from bookings.audit import AuditEvent, record
from bookings.models import Booking
from campaigns import services, waiting_room
from campaigns.models import BookingWindow, Campaign, QueueDraw
from campaigns.windows import WindowState, describe, format_kst, window_state, windows_of


class WindowStateFilter(admin.SimpleListFilter):
    title = "booking window"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple]:
        return [(state.value, state.value.capitalize()) for state in WindowState]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        # The campaign's own opening and closing, with the boundaries of
        # campaigns.windows.window_state (opens inclusive, closes exclusive), written as a query
        # so that the admin's facet counts work. Between two staggered windows the State column
        # (which asks the window rule) says "scheduled" while this filter says "open".
        now = timezone.now()
        conditions = {
            WindowState.SCHEDULED.value: Q(opens_at__gt=now),
            WindowState.OPEN.value: Q(opens_at__lte=now, closes_at__gt=now),
            WindowState.CLOSED.value: Q(closes_at__lte=now),
        }
        condition = conditions.get(self.value())
        return queryset if condition is None else queryset.filter(condition)


# What the audit log keeps of an official's changes to a campaign: when booking opens and
# closes, the staggered windows, and the waiting room's settings (its epoch and draw are the
# service's doing, not a choice in the form).
AUDITED_WINDOW_FIELDS = ("opens_at", "closes_at")
AUDITED_WAITING_ROOM_FIELDS = (
    "waiting_room_enabled",
    "admission_rate_per_minute",
    "admission_pass_minutes",
    "draw_published",
)
AUDITED_BOOKING_WINDOW_FIELDS = (
    "label",
    "opens_at",
    "closes_at",
    "birth_day_last_digit",
    "born_from",
    "born_to",
)


def _audited_settings(campaign_id: int, *, lock: bool = False) -> dict[str, Any]:
    campaigns = Campaign.objects.filter(pk=campaign_id)
    if lock:
        campaigns = campaigns.select_for_update()
    fields = AUDITED_WINDOW_FIELDS + AUDITED_WAITING_ROOM_FIELDS
    return campaigns.values(*fields).first() or {}


def _booking_windows(campaign: Campaign) -> dict[int, dict[str, Any]]:
    rows = BookingWindow.objects.filter(campaign=campaign).values(
        "pk", *AUDITED_BOOKING_WINDOW_FIELDS
    )
    return {row.pop("pk"): row for row in rows}


def _record_campaign_event(
    request: HttpRequest, campaign: Campaign, action: AuditEvent.Action, details: dict[str, Any]
) -> None:
    record(
        action,
        actor=request.user,
        obj_type="campaigns.campaign",
        obj_id=campaign.pk,
        details={"campaign": campaign.slug, **details},
    )


def _count_with_status(status: str) -> Count:
    return Count("bookings", filter=Q(bookings__status=status))


class BookingWindowInline(admin.TabularInline):
    model = BookingWindow
    extra = 0
    fields = ["label", "opens_at", "closes_at", "birth_day_last_digit", "born_from", "born_to"]
    verbose_name = "staggered window"
    verbose_name_plural = (
        "Staggered windows (optional: without any, the campaign's own window is for the "
        "whole cohort)"
    )


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    inlines = [BookingWindowInline]
    actions = ["publish_draw"]
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
    readonly_fields = ["created_at", "timeline", "draws_done"]
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
        ("Timeline", {"fields": ["timeline"]}),
        (
            "Waiting room",
            {
                "fields": [
                    "waiting_room_enabled",
                    "admission_rate_per_minute",
                    "admission_pass_minutes",
                    "draws_done",
                    "draw_published",
                ],
                "description": "With the waiting room on, everyone queues before the booking "
                "steps and is let through at the admission rate, counted from each opening "
                "(the campaign's own, or each staggered window's). People who arrive before an "
                "opening are put in random order at it. A pass books for a household at most, "
                "and once it expires the person queues again. The rate can be changed while "
                "the queue runs.",
            },
        ),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        # One query for the whole page: the counts are aggregates over a single join, not a
        # query per row.
        return (
            super()
            .get_queryset(request)
            .prefetch_related(
                Prefetch("windows", queryset=BookingWindow.objects.order_by("opens_at"))
            )
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

    @admin.display(description="Draws")
    def draws_done(self, campaign: Campaign) -> str:
        """Each opening's draw so far: when, its seed and how many were waiting."""
        if campaign.pk is None:
            return "-"
        draws = campaign.draws.annotate(tickets=Count("entries")).order_by("opens_at")
        if not draws:
            return "No draw yet (each opening's draw happens just after it)."
        return format_html_join(
            "",
            "<div>{}: {} tickets, seed <code>{}</code></div>",
            ((format_kst(d.opens_at), d.tickets, d.seed) for d in draws),
        )

    @admin.display(description="Windows")
    def timeline(self, campaign: Campaign) -> str:
        """Each window as a bar on a line from the campaign's opening to its closing."""
        if campaign.pk is None:
            return "Save the campaign to see its timeline."
        start, end = campaign.opens_at, campaign.closes_at
        span = max((end - start).total_seconds(), 1)

        def bar(window):
            left = max((window.opens_at - start).total_seconds() / span * 100, 0)
            width = max(
                min((window.closes_at - window.opens_at).total_seconds() / span * 100, 100 - left),
                0.5,
            )
            return (
                f"{left:.2f}",
                f"{width:.2f}",
                f"{window.label or describe(window)}: {format_kst(window.opens_at)} – "
                f"{format_kst(window.closes_at)} ({describe(window)})",
            )

        rows = format_html_join(
            "",
            '<div style="position:relative;height:1.6em;margin:.2em 0;background:#eef2f6">'
            '<div style="position:absolute;left:{}%;width:{}%;top:0;bottom:0;background:#0b5cad">'
            '</div></div><div style="font-size:.85em">{}</div>',
            (bar(w) for w in windows_of(campaign)),
        )
        return format_html(
            '<div style="min-width:30em">{}'
            '<div style="font-size:.8em;color:#666">{} → {}</div></div>',
            rows,
            format_kst(start),
            format_kst(end),
        )

    def save_model(self, request, obj, form, change):
        # What this save replaces, read under a lock that the admin's transaction holds until
        # the end of the request: the old values recorded are the ones overwritten, and another
        # official saving the same campaign (windows included, see save_related) waits.
        if change:
            before = _audited_settings(obj.pk, lock=True)
        else:
            before = {
                name: Campaign._meta.get_field(name).get_default()
                for name in AUDITED_WINDOW_FIELDS + AUDITED_WAITING_ROOM_FIELDS
            }
        super().save_model(request, obj, form, change)
        services.configure_waiting_room(
            obj,
            enabled=form.cleaned_data.get("waiting_room_enabled", False),
            per_minute=form.cleaned_data.get("admission_rate_per_minute") or 1,
        )
        after = _audited_settings(obj.pk)
        for name, new in after.items():
            old = before.get(name)
            if old == new:
                continue
            action = (
                AuditEvent.Action.CAMPAIGN_WINDOW_CHANGED
                if name in AUDITED_WINDOW_FIELDS
                else AuditEvent.Action.WAITING_ROOM_CHANGED
            )
            _record_campaign_event(request, obj, action, {"field": name, "old": old, "new": new})

    def save_related(self, request, form, formsets, change):
        campaign = form.instance
        # Under the campaign's lock taken in save_model, so nobody else changes them meanwhile.
        before = _booking_windows(campaign)
        super().save_related(request, form, formsets, change)
        after = _booking_windows(campaign)
        self._record_booking_window_changes(request, campaign, before, after)
        waiting_room.forget_config(campaign)  # the queue's lines follow the windows
        gaps = services.uncovered_birth_dates(campaign)
        if gaps:
            shown = ", ".join(f"{a:%Y-%m-%d}–{b:%Y-%m-%d}" for a, b in gaps[:5])
            more = f" and {len(gaps) - 5} more stretches" if len(gaps) > 5 else ""
            self.message_user(
                request,
                f"Warning: no booking window covers part of the cohort ({len(gaps)} stretch"
                f"{'es' if len(gaps) != 1 else ''} of birth dates: {shown}{more}). "
                "Those people could never book.",
                level=messages.WARNING,
            )
        outside = [
            w
            for w in campaign.windows.all()
            if w.opens_at < campaign.opens_at or w.closes_at > campaign.closes_at
        ]
        if outside:
            self.message_user(
                request,
                f"Warning: {len(outside)} window(s) reach outside the campaign's own opening "
                "and closing; the windows decide when people can book.",
                level=messages.WARNING,
            )

    def _record_booking_window_changes(
        self,
        request: HttpRequest,
        campaign: Campaign,
        before: dict[int, dict[str, Any]],
        after: dict[int, dict[str, Any]],
    ) -> None:
        for pk in sorted(after.keys() - before.keys()):
            _record_campaign_event(
                request,
                campaign,
                AuditEvent.Action.BOOKING_WINDOW_ADDED,
                {"window": pk, "new": after[pk]},
            )
        for pk in sorted(before.keys() & after.keys()):
            for name in AUDITED_BOOKING_WINDOW_FIELDS:
                old, new = before[pk][name], after[pk][name]
                if old != new:
                    _record_campaign_event(
                        request,
                        campaign,
                        AuditEvent.Action.BOOKING_WINDOW_CHANGED,
                        {"window": pk, "field": name, "old": old, "new": new},
                    )
        for pk in sorted(before.keys() - after.keys()):
            _record_campaign_event(
                request,
                campaign,
                AuditEvent.Action.BOOKING_WINDOW_DELETED,
                {"window": pk, "old": before[pk]},
            )

    @admin.action(description="Publish the queue draws (seeds and orders)", permissions=["change"])
    def publish_draw(self, request: HttpRequest, queryset: QuerySet) -> None:
        selected = [campaign.pk for campaign in queryset]
        drawn = Campaign.objects.filter(
            pk__in=set(
                QueueDraw.objects.filter(campaign__in=selected).values_list("campaign", flat=True)
            )
        )
        with transaction.atomic():
            newly_published = list(
                Campaign.objects.select_for_update()
                .filter(pk__in=list(drawn.values_list("pk", flat=True)), draw_published=False)
                .order_by("pk")
            )
            count = drawn.update(draw_published=True)
            for campaign in newly_published:
                _record_campaign_event(
                    request,
                    campaign,
                    AuditEvent.Action.WAITING_ROOM_CHANGED,
                    {"field": "draw_published", "old": False, "new": True},
                )
        self.message_user(request, f"Published the draw of {count} campaign(s).")
        if drawn.count() < len(selected):
            self.message_user(
                request,
                "Campaigns whose queue has not been drawn yet were skipped.",
                messages.WARNING,
            )
