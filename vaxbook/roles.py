"""The staff roles and what each may do in the admin.

- **Officials**: campaigns, their windows and waiting rooms, the vaccines, clinics, slots and
  staff membership; bookings and the audit log read-only; the messages sent, read-only, with a
  resend for the failed ones.
- **Clinic staff**: nothing in the admin (it would show every clinic's bookings). They read and
  check in their own clinics' rosters through ``/staff/`` and the API, which check their
  ``StaffMembership``.
- **Citizens** have no accounts: a booking is reached with its code plus the registration
  number, never with the code alone.
"""

from django.apps import apps
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType

OFFICIALS = "Officials"
CLINIC_STAFF = "Clinic staff"

ROLES: dict[str, list[tuple[str, list[str]]]] = {
    OFFICIALS: [
        ("campaigns.Campaign", ["add", "change", "view"]),
        ("campaigns.BookingWindow", ["add", "change", "delete", "view"]),
        ("campaigns.Vaccine", ["add", "change", "view"]),
        ("clinics.Clinic", ["add", "change", "view"]),
        ("clinics.Slot", ["add", "change", "view"]),
        ("clinics.StaffMembership", ["add", "change", "delete", "view"]),
        ("bookings.Booking", ["view"]),
        ("auditlog.AuditEvent", ["view"]),
        ("notifications.Notification", ["view", "resend"]),
    ],
    CLINIC_STAFF: [],
}


class MissingPermission(Exception):
    pass


def ensure_roles() -> dict[str, Group]:
    """Create or update the groups with exactly these permissions (run after ``migrate``)."""
    groups = {}
    for name, grants in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        permissions = []
        for label, actions in grants:
            model = apps.get_model(label)
            content_type = ContentType.objects.get_for_model(model)
            for action in actions:
                codename = f"{action}_{model._meta.model_name}"
                permission = Permission.objects.filter(
                    content_type=content_type, codename=codename
                ).first()
                if permission is None:
                    raise MissingPermission(f"Permission {codename} is missing; run migrate.")
                permissions.append(permission)
        group.permissions.set(permissions)
        groups[name] = group
    return groups
