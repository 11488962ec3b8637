from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Prefetch, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from bookings.models import Booking
from campaigns import services
from campaigns.models import BookingWindow, Campaign, Vaccine, format_birth_date
from campaigns.selectors import second_dose_shortfall
from campaigns.windows import WindowState, describe, format_kst, window_state, windows_of

# What each state of the window rule is called where officials read it.
STATE_NAMES = {
    WindowState.SCHEDULED: _("Scheduled"),
    WindowState.OPEN: _("Open"),
    WindowState.CLOSED: _("Closed"),
}


class WindowStateFilter(admin.SimpleListFilter):
    title = _("booking window")
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple]:
        return [(state.value, STATE_NAMES[state]) for state in WindowState]

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


def _count_with_status(status: str) -> Count:
    return Count("bookings", filter=Q(bookings__status=status))


class BookingWindowInline(admin.TabularInline):
    model = BookingWindow
    extra = 0
    fields = ["label", "opens_at", "closes_at", "birth_day_last_digit", "born_from", "born_to"]
    verbose_name = _("staggered window")
    verbose_name_plural = _(
        "Staggered windows (optional: without any, the campaign's own window is for the whole "
        "cohort)"
    )


@admin.register(Vaccine)
class VaccineAdmin(admin.ModelAdmin):
    list_display = ["name", "manufacturer", "doses", "interval", "ages"]
    list_filter = ["doses"]
    search_fields = ["name", "manufacturer"]
    fieldsets = [
        (None, {"fields": ["name", "manufacturer"]}),
        (
            _("Doses"),
            {
                "fields": [
                    "doses",
                    "interval_min_days",
                    "interval_recommended_days",
                    "interval_max_days",
                ],
                "description": _(
                    "For more than one dose, the days between two doses: the shortest, the "
                    "recommended and the longest. For one dose they are left empty."
                ),
            },
        ),
        (_("Ages"), {"fields": ["min_age", "max_age"]}),
    ]

    def save_model(self, request, obj, form, change):
        services.save_vaccine(obj)

    @admin.display(description=_("Interval (days)"))
    def interval(self, vaccine: Vaccine) -> str:
        if vaccine.doses == 1 or vaccine.interval_recommended_days is None:
            return "-"
        return gettext("%(recommended)s (%(shortest)s–%(longest)s)") % {
            "recommended": vaccine.interval_recommended_days,
            "shortest": vaccine.interval_min_days,
            "longest": vaccine.interval_max_days,
        }

    @admin.display(description=_("Ages"))
    def ages(self, vaccine: Vaccine) -> str:
        if vaccine.min_age is None and vaccine.max_age is None:
            return "-"
        return gettext("%(youngest)s–%(oldest)s") % {
            "youngest": "" if vaccine.min_age is None else vaccine.min_age,
            "oldest": "" if vaccine.max_age is None else vaccine.max_age,
        }


class CampaignForm(forms.ModelForm):
    """The campaign's page. The change deadline may be left empty: the model's default (a day
    before, at 18:00) is kept."""

    DEFAULTED = ("change_deadline_days", "change_deadline_time")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for name in self.DEFAULTED:
            if name in self.fields:
                self.fields[name].required = False

    def _defaulted(self, name: str):
        value = self.cleaned_data.get(name)
        return Campaign._meta.get_field(name).get_default() if value is None else value

    def clean_change_deadline_days(self):
        return self._defaulted("change_deadline_days")

    def clean_change_deadline_time(self):
        return self._defaulted("change_deadline_time")


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    class Media:
        css = {"all": ["vaxbook/admin.css"]}

    form = CampaignForm
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
        "no_show_count",
    ]
    list_filter = [WindowStateFilter, "vaccine"]
    list_select_related = ["vaccine"]
    search_fields = ["name", "slug", "vaccine__name"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["created_at", "timeline", "draws_done"]
    fieldsets = [
        (None, {"fields": ["name", "slug", "vaccine", "contact"]}),
        (_("Cohort"), {"fields": ["born_from", "born_to"]}),
        (
            _("Booking window"),
            {
                "fields": ["opens_at", "closes_at", "created_at"],
                "description": _(
                    "Times are Korea time (KST, Asia/Seoul), whatever the clock of the computer "
                    "you are using. Booking opens at the first time and closes at the second."
                ),
            },
        ),
        (
            _("Moving an appointment"),
            {
                "fields": ["change_deadline_days", "change_deadline_time"],
                "description": _(
                    "Until when people may move their appointment themselves: this many days "
                    "before its day, at this time (Korea time)."
                ),
            },
        ),
        (_("Timeline"), {"fields": ["timeline"]}),
        (_("Messages"), {"fields": ["verify_phone"]}),
        (
            _("Waiting room"),
            {
                "fields": [
                    "waiting_room_enabled",
                    "admission_rate_per_minute",
                    "admission_pass_minutes",
                    "draws_done",
                    "draw_published",
                ],
                "description": _(
                    "With the waiting room on, everyone queues before the booking steps and is "
                    "let through at the admission rate, counted from each opening (the "
                    "campaign's own, or each staggered window's). People who arrive before an "
                    "opening are put in random order at it. A pass books for a household at "
                    "most, and once it expires the person queues again. The rate can be changed "
                    "while the queue runs."
                ),
            },
        ),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        # One query for the whole page: the counts are aggregates over a single join, not a
        # query per row.
        return (
            super()
            .get_queryset(request)
            .select_related("vaccine")
            .prefetch_related(
                Prefetch("windows", queryset=BookingWindow.objects.order_by("opens_at"))
            )
            .annotate(
                pending_count=_count_with_status(Booking.Status.PENDING),
                confirmed_count=_count_with_status(Booking.Status.CONFIRMED),
                rejected_count=_count_with_status(Booking.Status.REJECTED),
                cancelled_count=_count_with_status(Booking.Status.CANCELLED),
                no_show_count=_count_with_status(Booking.Status.NO_SHOW),
            )
        )

    @admin.display(description=_("Cohort"), ordering="born_from")
    def cohort(self, campaign: Campaign) -> str:
        return campaign.cohort_label

    @admin.display(description=_("Opens (KST)"), ordering="opens_at")
    def opens_at_kst(self, campaign: Campaign) -> str:
        return format_kst(campaign.opens_at)

    @admin.display(description=_("Closes (KST)"), ordering="closes_at")
    def closes_at_kst(self, campaign: Campaign) -> str:
        return format_kst(campaign.closes_at)

    @admin.display(description=_("State"))
    def state(self, campaign: Campaign) -> str:
        state = window_state(campaign)
        return format_html(
            '<span class="window-state" data-state="{}">{}</span>', state.value, STATE_NAMES[state]
        )

    @admin.display(description=_("Pending"), ordering="pending_count")
    def pending_count(self, campaign: Campaign) -> int:
        return campaign.pending_count

    @admin.display(description=_("Confirmed"), ordering="confirmed_count")
    def confirmed_count(self, campaign: Campaign) -> int:
        return campaign.confirmed_count

    @admin.display(description=_("Rejected"), ordering="rejected_count")
    def rejected_count(self, campaign: Campaign) -> int:
        return campaign.rejected_count

    @admin.display(description=_("Cancelled"), ordering="cancelled_count")
    def cancelled_count(self, campaign: Campaign) -> int:
        return campaign.cancelled_count

    @admin.display(description=_("Did not come"), ordering="no_show_count")
    def no_show_count(self, campaign: Campaign) -> int:
        return campaign.no_show_count

    @admin.display(description=_("Draws"))
    def draws_done(self, campaign: Campaign) -> str:
        """Each opening's draw so far: when, its seed and how many were waiting."""
        if campaign.pk is None:
            return "-"
        draws = campaign.draws.annotate(tickets=Count("entries")).order_by("opens_at")
        if not draws:
            return gettext("No draw yet (each opening's draw happens just after it).")
        return format_html_join(
            "",
            "<div>{}</div>",
            (
                (
                    format_html(
                        ngettext(
                            "{opening}: {tickets} ticket, seed {seed}",
                            "{opening}: {tickets} tickets, seed {seed}",
                            d.tickets,
                        ),
                        opening=format_kst(d.opens_at),
                        tickets=d.tickets,
                        seed=format_html("<code>{}</code>", d.seed),
                    ),
                )
                for d in draws
            ),
        )

    @admin.display(description=_("Windows"))
    def timeline(self, campaign: Campaign) -> str:
        """Each window as a bar on a line from the campaign's opening to its closing."""
        if campaign.pk is None:
            return gettext("Save the campaign to see its timeline.")
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
                gettext("%(window)s: %(opens)s – %(closes)s (%(whom)s)")
                % {
                    "window": window.label or describe(window),
                    "opens": format_kst(window.opens_at),
                    "closes": format_kst(window.closes_at),
                    "whom": describe(window),
                },
            )

        # SVG presentation attributes, not style attributes: the page's Content Security
        # Policy allows no inline style.
        rows = format_html_join(
            "",
            '<svg class="timeline-bar" viewBox="0 0 100 4" preserveAspectRatio="none" '
            'aria-hidden="true"><rect width="100" height="4" fill="#eef2f6"></rect>'
            '<rect x="{}" width="{}" height="4" fill="#0b5cad"></rect></svg>'
            '<div class="timeline-label">{}</div>',
            (bar(w) for w in windows_of(campaign)),
        )
        return format_html(
            '<div class="timeline">{}<div class="timeline-span">{} → {}</div></div>',
            rows,
            format_kst(start),
            format_kst(end),
        )

    def save_model(self, request, obj, form, change):
        services.save_campaign(
            obj,
            actor=request.user,
            waiting_room_enabled=form.cleaned_data.get("waiting_room_enabled", False),
            per_minute=form.cleaned_data.get("admission_rate_per_minute") or 1,
        )

    def delete_model(self, request, obj):
        services.delete_campaigns([obj])

    def delete_queryset(self, request, queryset):
        services.delete_campaigns(list(queryset))

    def save_related(self, request, form, formsets, change):
        campaign = form.instance
        # Under the campaign's lock taken by save_campaign, so nobody else changes them meanwhile.
        with services.booking_window_changes_recorded(campaign, actor=request.user):
            super().save_related(request, form, formsets, change)
        gaps = services.uncovered_birth_dates(campaign)
        if gaps:
            shown = ", ".join(
                gettext("%(first)s–%(last)s")
                % {"first": format_birth_date(a), "last": format_birth_date(b)}
                for a, b in gaps[:5]
            )
            if len(gaps) > 5:
                shown = ngettext(
                    "%(shown)s and %(more)d more stretch",
                    "%(shown)s and %(more)d more stretches",
                    len(gaps) - 5,
                ) % {"shown": shown, "more": len(gaps) - 5}
            self.message_user(
                request,
                ngettext(
                    "Warning: no booking window covers part of the cohort (%(count)d stretch of "
                    "birth dates: %(shown)s). Those people could never book; they are told whom "
                    "to contact.",
                    "Warning: no booking window covers part of the cohort (%(count)d stretches "
                    "of birth dates: %(shown)s). Those people could never book; they are told "
                    "whom to contact.",
                    len(gaps),
                )
                % {"count": len(gaps), "shown": shown},
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
                ngettext(
                    "Warning: %(count)d window reaches outside the campaign's own opening and "
                    "closing; the windows decide when people can book.",
                    "Warning: %(count)d windows reach outside the campaign's own opening and "
                    "closing; the windows decide when people can book.",
                    len(outside),
                )
                % {"count": len(outside)},
                level=messages.WARNING,
            )

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict | None = None,
    ) -> HttpResponse:
        # "Generate slots…" is an action on the clinics' list; from a campaign it starts with
        # that campaign chosen (clinics.admin reads ?campaign=<pk>). Only for those who may.
        extra_context = dict(extra_context or {})
        if request.user.has_perm("clinics.add_slot"):
            extra_context["generate_slots_url"] = (
                reverse("admin:clinics_clinic_changelist") + f"?campaign={int(object_id)}"
                if str(object_id).isdigit()
                else ""
            )
        if str(object_id).isdigit() and self.has_view_permission(request):
            extra_context["second_doses_url"] = reverse(
                "admin:campaigns_campaign_second_doses", args=[int(object_id)]
            )
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        second_doses = self.admin_site.admin_view(self.second_doses_view)
        return [
            path(
                "<path:object_id>/second-doses/",
                second_doses,
                name="campaigns_campaign_second_doses",
            ),
            *super().get_urls(),
        ]

    def second_doses_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Where the second doses will run out before the first: per clinic and day, the
        first-dose places still free against the second-dose places still free for them
        (``campaigns.selectors.second_dose_shortfall``); ``?short=1`` lists only the days
        short of second doses. Officials only (who may see campaigns)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        object_id = unquote(object_id)
        campaign = (
            Campaign.objects.select_related("vaccine").filter(pk=int(object_id)).first()
            if object_id.isdigit()
            else None
        )
        if campaign is None:
            raise Http404(gettext("No such campaign."))
        found = second_dose_shortfall(campaign)
        rows = found or []
        only_short = request.GET.get("short") == "1"
        return TemplateResponse(
            request,
            "admin/campaigns/campaign/second_doses.html",
            {
                **self.admin_site.each_context(request),
                "title": gettext("Second doses: where they run short"),
                "opts": self.model._meta,
                "original": campaign,
                "campaign": campaign,
                "one_dose": found is None,
                "rows": [row for row in rows if row.short] if only_short else rows,
                "short_days": sum(1 for row in rows if row.short),
                "only_short": only_short,
                "interval": (
                    campaign.vaccine.interval_min_days,
                    campaign.vaccine.interval_recommended_days,
                    campaign.vaccine.interval_max_days,
                )
                if found is not None
                else None,
            },
        )

    @admin.action(
        description=_("Publish the queue draws (seeds and orders)"), permissions=["change"]
    )
    def publish_draw(self, request: HttpRequest, queryset: QuerySet) -> None:
        published, skipped = services.publish_draws(
            [campaign.pk for campaign in queryset], actor=request.user
        )
        self.message_user(
            request,
            ngettext(
                "Published the draws of %(count)d campaign.",
                "Published the draws of %(count)d campaigns.",
                published,
            )
            % {"count": published},
        )
        if skipped:
            self.message_user(
                request,
                gettext("Campaigns whose queue has not been drawn yet were skipped."),
                messages.WARNING,
            )
