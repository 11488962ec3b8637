"""Who may see which clinic's day, roster and check-in: its staff members, and superusers.

``access_clinic`` is the one path to a clinic for the staff pages and the staff API: it fetches
the clinic and checks the person may work on it, or refuses.
"""

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404

from clinics.models import Clinic


class NotYourClinic(PermissionDenied):
    """The clinic exists, and the person does not work there."""


def clinics_for(user: AbstractBaseUser) -> QuerySet[Clinic]:
    if not user.is_authenticated:
        return Clinic.objects.none()
    if user.is_superuser:
        return Clinic.objects.all()
    return Clinic.objects.filter(memberships__user=user)


def access_clinic(user: AbstractBaseUser, code: str) -> Clinic:
    """The clinic with this code if ``user`` works there; ``Http404`` if there is none,
    ``NotYourClinic`` (a ``PermissionDenied``: 403) if it is someone else's."""
    clinic = Clinic.objects.filter(code=code).first()
    if clinic is None:
        raise Http404("No such clinic.")
    if not clinics_for(user).filter(pk=clinic.pk).exists():
        raise NotYourClinic("You can only work on your own clinic's bookings.")
    return clinic
