from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from campaigns.models import Campaign
from clinics.models import Clinic, Slot, StaffMembership
from clinics.services import generate_slots


class GenerateSlotsForm(forms.Form):
    """The parameters of the "Generate slots…" action. The rules are the service's."""

    campaign = forms.ModelChoiceField(queryset=Campaign.objects.all())
    first_day = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    last_day = forms.DateField(
        widget=forms.DateInput(attrs={"type": "date"}), help_text="Included."
    )
    day_starts = forms.TimeField(
        initial="09:00", widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    day_ends = forms.TimeField(
        initial="17:00",
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        help_text="No slot starts at or after this time.",
    )
    interval_minutes = forms.IntegerField(initial=30, label="Every (minutes)")
    capacity = forms.IntegerField(initial=6, help_text="People per slot.")


@admin.register(Clinic)
class ClinicAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "region", "address"]
    list_filter = ["region"]
    search_fields = ["name", "code", "region"]
    actions = ["generate_slots_action"]

    def has_generate_slots_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("clinics.add_slot")

    @admin.action(permissions=["generate_slots"], description="Generate slots…")
    def generate_slots_action(
        self, request: HttpRequest, queryset: QuerySet[Clinic]
    ) -> HttpResponse | None:
        # The first POST comes from the changelist with only the selection; the form page
        # posts back here with "apply" and the parameters.
        form = GenerateSlotsForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            try:
                created = generate_slots(clinics=queryset, **form.cleaned_data)
            except ValueError as refused:
                form.add_error(None, str(refused))
            else:
                campaign = form.cleaned_data["campaign"]
                self.message_user(
                    request,
                    f"{created} slots created for {campaign} at {queryset.count()} clinics "
                    "(existing slots were left as they were).",
                    messages.SUCCESS,
                )
                return None
        return TemplateResponse(
            request,
            "admin/clinics/clinic/generate_slots.html",
            {
                **self.admin_site.each_context(request),
                "title": "Generate slots",
                "opts": self.model._meta,
                "form": form,
                "clinics": queryset,
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
                "action_name": "generate_slots_action",
            },
        )


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
    # booked is editable=False on the model: only the booking services move it.
    readonly_fields = ["booked"]
    fields = ["clinic", "campaign", "date", "start_time", "capacity", "booked"]

    @admin.display(description="Places left")
    def places_left(self, slot: Slot) -> int:
        return slot.places_left


@admin.register(StaffMembership)
class StaffMembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "clinic"]
    list_select_related = ["user", "clinic"]
    search_fields = ["user__username", "clinic__code", "clinic__name"]
    autocomplete_fields = ["user", "clinic"]
