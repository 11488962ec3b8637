"""Who may see which clinic's day, roster and check-in: its staff members, and superusers.

``access_clinic`` is the one path to a clinic for the staff pages and the staff API: it fetches
the clinic and checks the person may work on it, or refuses.
"""

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

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
        raise Http404(_("No such clinic."))
    if not clinics_for(user).filter(pk=clinic.pk).exists():
        raise NotYourClinic(_("You can only work on your own clinic's bookings."))
    return clinic


def staff_landing(user: AbstractBaseUser) -> str | None:
    """Where someone who works at clinics starts after logging in: their clinic's day if they
    work at one, the list of their clinics otherwise (which says so when there is none yet).

    None for superusers and anyone with a permission in the admin (officials): the admin is
    where their work is. Clinic staff have no permission there (``vaxbook.roles``), so the
    admin's index would only tell them they may do nothing.
    """
    if not user.is_authenticated or user.is_superuser or user.get_all_permissions():
        return None
    codes = list(clinics_for(user).values_list("code", flat=True)[:2])
    if len(codes) == 1:
        return reverse("clinics:day", kwargs={"code": codes[0]})
    return reverse("clinics:staff-home")
