from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from campaigns.models import Campaign
from clinics.models import Clinic, Slot, StaffMembership
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


@admin.register(Clinic)
class ClinicAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "region", "address"]
    list_filter = ["region"]
    search_fields = ["name", "code", "region"]
    actions = ["generate_slots_action"]

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
