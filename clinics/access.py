"""Who may see which clinic's roster: its staff members, and superusers."""

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from clinics.models import Clinic


def clinics_for(user: AbstractBaseUser) -> QuerySet[Clinic]:
    if not user.is_authenticated:
        return Clinic.objects.none()
    if user.is_superuser:
        return Clinic.objects.all()
    return Clinic.objects.filter(memberships__user=user)


def may_export_roster(user: AbstractBaseUser, clinic: Clinic) -> bool:
    return clinics_for(user).filter(pk=clinic.pk).exists()
