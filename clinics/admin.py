from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from bookings.services import check_clinic_day_closable, close_clinic_day
from campaigns.models import Campaign
from clinics.models import Clinic, ClinicDayClosure, Slot, StaffMembership
from clinics.selectors import closing_day_counts
from clinics.services import (
    MAX_CAPACITY,
    MAX_INTERVAL_MINUTES,
    SLOT_SCHEDULE_FIELDS,
    MembershipRefused,
    change_slot,
    check_membership_grant,
    generate_slots,
    remove_staff_membership,
    save_staff_membership,
)
from vaxbook.dates import format_day


class GenerateSlotsForm(forms.Form):
    """The parameters of the "Generate slots…" action.

    The rules are the service's; the bounds here repeat its limits on the numbers so that the
    browser says so first and no number too big for the database reaches it.
    """

    campaign = forms.ModelChoiceField(queryset=Campaign.objects.all(), label=_("Campaign"))
    first_day = forms.DateField(
        label=_("First day"), widget=forms.DateInput(attrs={"type": "date"})
    )
    last_day = forms.DateField(
        label=_("Last day"),
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("Included."),
    )
    day_starts = forms.TimeField(
        label=_("First slot starts at"),
        initial="09:00",
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    day_ends = forms.TimeField(
        label=_("Day ends at"),
        initial="17:00",
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        help_text=_("No slot starts at or after this time."),
    )
    interval_minutes = forms.IntegerField(
        initial=30,
        min_value=1,
        max_value=MAX_INTERVAL_MINUTES,
        label=_("Every (minutes)"),
        error_messages={
            "min_value": _("The interval between slots must be at least one minute."),
            "max_value": _(
                "The interval between slots can be at most %(limit_value)s minutes (a day)."
            ),
        },
    )
    capacity = forms.IntegerField(
        label=_("Capacity"),
        initial=6,
        min_value=1,
        max_value=MAX_CAPACITY,
        help_text=_("People per slot."),
        error_messages={
            "min_value": _("Each slot needs a capacity of at least one person."),
            "max_value": _("A slot can hold at most %(limit_value)s people."),
        },
    )


def _campaign_asked(raw: str | None) -> Campaign | None:
    """The campaign of ``?campaign=<pk>``, or None for none, nonsense or one that is gone."""
    if not raw or not raw.isdigit():
        return None
    return Campaign.objects.filter(pk=int(raw)).first()


def may_close_clinic_days(user) -> bool:
    """Closing a clinic's day changes the clinic (its slots take no more bookings, its people
    are moved): those who may change clinics may, that is officials (``vaxbook.roles``);
    clinic staff have no permission in the admin."""
    return user.has_perm("clinics.change_clinic")


class CloseClinicDayForm(forms.Form):
    """The clinic, the day (Korea time) and the reason people are told. The refusals are the
    service's (``bookings.services.close_clinic_day``): checked here too so the official reads
    them before confirming, and mapped from the service's ``ValueError`` when the day changed
    between the confirmation and the click."""

    refusals = {
        "past": _("This day is over: only today or a later day can be closed."),
        "closed": _("This clinic's day is already closed."),
    }

    # A search box rather than a list of every clinic in the country (ClinicAdmin's search).
    clinic = forms.ModelChoiceField(
        queryset=Clinic.objects.all(),
        label=_("Clinic"),
        widget=AutocompleteSelect(ClinicDayClosure._meta.get_field("clinic"), admin.site),
    )
    date = forms.DateField(label=_("Day"), widget=forms.DateInput(attrs={"type": "date"}))
    reason = forms.CharField(
        label=_("Reason"),
        max_length=ClinicDayClosure._meta.get_field("reason").max_length,
        help_text=_("Told to the people whose appointments move, e.g. 'vaccine delivery late'."),
    )

    def refuse(self, reason: str) -> None:
        self.add_error("date", ValidationError(self.refusals[reason], code=reason))

    def clean(self) -> dict[str, Any]:
        cleaned_data = super().clean()
        clinic, day = cleaned_data.get("clinic"), cleaned_data.get("date")
        if clinic is not None and day is not None:
            try:
                check_clinic_day_closable(clinic, day)
            except ValueError as refused:
                self.refuse(str(refused))
        return cleaned_data


@admin.register(Clinic)
class ClinicAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "region", "address"]
    list_filter = ["region"]
    search_fields = ["name", "code", "region"]
    actions = ["generate_slots_action"]

    def get_urls(self):
        close_day = self.admin_site.admin_view(self.close_day_view)
        return [
            path("close-day/", close_day, name="clinics_clinic_close_day"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None) -> HttpResponse:
        extra_context = {
            **(extra_context or {}),
            "may_close_days": may_close_clinic_days(request.user),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def close_day_view(self, request: HttpRequest) -> HttpResponse:
        """GET the form (``?clinic=<pk>`` chooses the clinic); POST it to see how many
        appointments the day holds, then POST again with ``confirm`` to close it."""
        if not may_close_clinic_days(request.user):
            raise PermissionDenied
        clinic = None
        if request.method != "POST" and str(request.GET.get("clinic", "")).isdigit():
            clinic = Clinic.objects.filter(pk=int(request.GET["clinic"])).first()
        form = CloseClinicDayForm(
            request.POST if request.method == "POST" else None, initial={"clinic": clinic}
        )
        confirming, counts = False, None
        if form.is_valid():
            clinic, day = form.cleaned_data["clinic"], form.cleaned_data["date"]
            if "confirm" in request.POST:
                try:
                    closure = close_clinic_day(
                        clinic, day, reason=form.cleaned_data["reason"], actor=request.user
                    )
                except ValueError as refused:
                    if str(refused) not in form.refusals:
                        raise
                    form.refuse(str(refused))
                else:
                    self.message_user(
                        request,
                        gettext(
                            "%(clinic)s is closed on %(day)s. Appointments moved: %(moved)d; "
                            "without a new place (rejected): %(rejected)d. Each person has been "
                            "sent a message."
                        )
                        % {
                            "clinic": clinic.name,
                            "day": format_day(day),
                            "moved": closure.moved,
                            "rejected": closure.rejected,
                        },
                        messages.SUCCESS,
                    )
                    return HttpResponseRedirect(
                        reverse("admin:clinics_clinicdayclosure_change", args=[closure.pk])
                    )
            else:
                confirming, counts = True, closing_day_counts(clinic, day)
        return TemplateResponse(
            request,
            "admin/clinics/clinic/close_day.html",
            {
                **self.admin_site.each_context(request),
                "title": gettext("Close a clinic's day"),
                "opts": self.model._meta,
                "form": form,
                "confirming": confirming,
                "counts": counts,
            },
        )

    def has_generate_slots_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("clinics.add_slot")

    def changelist_view(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        # A campaign's page links here with ?campaign=<pk>: the campaign that "Generate
        # slots…" starts with. It is no filter of this list (the list would refuse it as an
        # unknown one), so it is taken out before the list reads its parameters; the list's
        # form posts back to this same address, so the action finds it again.
        campaign = _campaign_asked(request.GET.get("campaign"))
        if "campaign" in request.GET:
            query = request.GET.copy()
            del query["campaign"]
            request.GET = query
        request.generate_slots_campaign = campaign
        if campaign is not None and request.method == "GET":
            self.message_user(
                request,
                gettext(
                    "Choose the clinics, then the action “Generate slots…”: it starts with "
                    "the campaign %(campaign)s."
                )
                % {"campaign": campaign},
                messages.INFO,
            )
        extra_context = {
            **(extra_context or {}),
            "may_close_days": may_close_clinic_days(request.user),
        }
        return super().changelist_view(request, extra_context)

    @admin.action(permissions=["generate_slots"], description=_("Generate slots…"))
    def generate_slots_action(
        self, request: HttpRequest, queryset: QuerySet[Clinic]
    ) -> HttpResponse | None:
        # The first POST comes from the changelist with only the selection; the form page
        # posts back here with "apply" and the parameters.
        form = GenerateSlotsForm(
            request.POST if "apply" in request.POST else None,
            initial={
                "campaign": getattr(getattr(request, "generate_slots_campaign", None), "pk", None)
            },
        )
        if form.is_valid():
            try:
                created = generate_slots(clinics=queryset, **form.cleaned_data)
            except ValueError as refused:
                form.add_error(None, str(refused))
            else:
                campaign = form.cleaned_data["campaign"]
                clinics = queryset.count()
                self.message_user(
                    request,
                    ngettext(
                        "%(created)d slots created for %(campaign)s at %(clinics)d clinic "
                        "(existing slots were left as they were).",
                        "%(created)d slots created for %(campaign)s at %(clinics)d clinics "
                        "(existing slots were left as they were).",
                        clinics,
                    )
                    % {"created": created, "campaign": campaign, "clinics": clinics},
                    messages.SUCCESS,
                )
                return None
        return TemplateResponse(
            request,
            "admin/clinics/clinic/generate_slots.html",
            {
                **self.admin_site.each_context(request),
                "title": gettext("Generate slots"),
                "opts": self.model._meta,
                "form": form,
                "clinics": queryset,
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
                "action_name": "generate_slots_action",
            },
        )


class SlotForm(forms.ModelForm):
    """The slot page's form: checks a new capacity against the places booked right now."""

    def clean(self) -> dict[str, Any]:
        cleaned_data = super().clean()
        if self.instance.pk is not None:
            # The admin handles a POST in one transaction (ModelAdmin.changeform_view), so this
            # lock is held until the change is saved: a confirmation made before it is counted
            # in the booked that Slot.clean compares the capacity with, one made after it waits
            # and then re-checks against the new capacity. change_slot locks, checks again and
            # records the change.
            with transaction.atomic():
                booked = (
                    Slot.objects.select_for_update()
                    .filter(pk=self.instance.pk)
                    .values_list("booked", flat=True)
                    .first()
                )
            if booked is None:
                raise ValidationError(_("This slot has been deleted meanwhile."))
            self.instance.booked = booked
        return cleaned_data


@admin.register(Slot)
class SlotAdmin(admin.ModelAdmin):
    list_display = [
        "clinic",
        "campaign",
        "date",
        "start_time",
        "capacity",
        "booked",
        "places_left",
    ]
    list_filter = ["campaign", "clinic__region", "date"]
    list_select_related = ["clinic", "campaign"]
    search_fields = ["clinic__code"]
    autocomplete_fields = ["clinic"]
    form = SlotForm
    # booked is editable=False on the model: only the booking services move it.
    readonly_fields = ["booked"]
    fields = ["clinic", "campaign", "date", "start_time", "capacity", "booked"]

    @admin.display(description=_("Places left"))
    def places_left(self, slot: Slot) -> int:
        return slot.places_left

    def get_readonly_fields(self, request: HttpRequest, obj: Slot | None = None) -> list[str]:
        readonly = list(super().get_readonly_fields(request, obj))
        # Any booking row counts, cancelled or rejected ones too: they still name this slot.
        # change_slot refuses the same change under the lock if a booking comes meanwhile.
        if obj is not None and obj.bookings.exists():
            readonly += SLOT_SCHEDULE_FIELDS
        return readonly

    def save_model(self, request: HttpRequest, obj: Slot, form: forms.ModelForm, change: bool):
        if not change:
            super().save_model(request, obj, form, change)
            return
        # Only the fields the official changed: saving the whole row would write back the
        # booked read at the start of the request and lose any confirmation made since.
        changes = {name: form.cleaned_data[name] for name in form.changed_data}
        try:
            change_slot(obj.pk, changes=changes, actor=request.user)
        except ValueError as refused:
            # Read by log_change and response_change, which the admin calls next regardless.
            request.slot_change_refused = True
            self.message_user(
                request,
                gettext("The slot was not changed. %(reason)s") % {"reason": refused},
                messages.ERROR,
            )

    def log_change(self, request: HttpRequest, obj: Slot, message: Any):
        if getattr(request, "slot_change_refused", False):
            return None
        return super().log_change(request, obj, message)

    def response_change(self, request: HttpRequest, obj: Slot) -> HttpResponse:
        if getattr(request, "slot_change_refused", False):
            # Back to the slot's page, which shows the error and the values as they now are.
            return HttpResponseRedirect(request.path)
        return super().response_change(request, obj)


class StaffMembershipForm(forms.ModelForm):
    class Meta:
        model = StaffMembership
        fields = ["user", "clinic"]

    actor = None  # who is saving it: set per request by StaffMembershipAdmin.get_form

    def clean_user(self):
        user = self.cleaned_data["user"]
        try:
            check_membership_grant(user=user, actor=self.actor)
        except MembershipRefused as refused:
            raise forms.ValidationError(str(refused)) from None
        return user


@admin.register(StaffMembership)
class StaffMembershipAdmin(admin.ModelAdmin):
    """Who works at which clinic: that is who reads its roster. Changes go through
    ``clinics.services`` (audited); nobody adds themselves."""

    form = StaffMembershipForm
    list_display = ["user", "clinic"]
    list_select_related = ["user", "clinic"]
    search_fields = ["user__username", "clinic__code", "clinic__name"]
    autocomplete_fields = ["user", "clinic"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        return type(form.__name__, (form,), {"actor": request.user})

    def save_model(self, request, obj, form, change):
        save_staff_membership(obj, actor=request.user)

    def delete_model(self, request, obj):
        remove_staff_membership(obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for membership in queryset.select_related("user", "clinic"):
            remove_staff_membership(membership, actor=request.user)


@admin.register(ClinicDayClosure)
class ClinicDayClosureAdmin(admin.ModelAdmin):
    """The closed clinic days, read-only: a day is closed only through "Close a clinic's
    day" (``ClinicAdmin.close_day_view``), which moves its appointments; a closure is never
    changed or removed here (its people have been moved and told)."""

    list_display = ["clinic", "date", "reason", "moved", "rejected", "closed_at", "closed_by"]
    list_filter = ["date", "clinic__region"]
    list_select_related = ["clinic", "closed_by"]
    search_fields = ["clinic__code", "clinic__name"]
    date_hierarchy = "date"

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.has_perm("clinics.view_clinicdayclosure") or request.user.has_perm(
            "clinics.view_clinic"
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        extra_context = {
            **(extra_context or {}),
            "may_close_days": may_close_clinic_days(request.user),
        }
        return super().changelist_view(request, extra_context)
