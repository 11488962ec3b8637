"""What the slot admin's page posts."""

from django.urls import reverse

from clinics.models import Slot


def slot_page(slot: Slot) -> str:
    return reverse("admin:clinics_slot_change", args=[slot.pk])


def slot_form(slot: Slot, **overrides) -> dict:
    """The slot as it is, changed only by ``overrides`` (what the official edited)."""
    data = {
        "clinic": slot.clinic_id,
        "campaign": slot.campaign_id,
        "date": slot.date.isoformat(),
        "start_time": slot.start_time.strftime("%H:%M:%S"),
        "capacity": str(slot.capacity),
    }
    data.update(overrides)
    return data
