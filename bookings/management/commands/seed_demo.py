"""Demo data for ``make run``: an open campaign, clinics with slots, and logins to try them.

Idempotent: a second run finds what the first one made (by slug, code and username) and
adds only what is missing, so it can run before every start of the development server.
"""

import secrets
from datetime import date, datetime, time, timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from campaigns.models import Campaign, Vaccine
from campaigns.services import configure_waiting_room
from campaigns.windows import KST, format_kst, window_state
from clinics.models import Clinic, Slot, StaffMembership
from clinics.services import generate_slots
from vaxbook import config
from vaxbook.roles import CLINIC_STAFF, MissingPermission, ensure_roles

DEFAULT_LOGINS_FILE = Path(settings.BASE_DIR) / "var" / "demo-logins.txt"
BASE_URL = "http://127.0.0.1:8000"

# (code, name, district) by region; four public health centres in each.
CLINICS = {
    "Seoul": [
        ("seoul-01", "Jongno-gu Health Center (종로구보건소)", "Jongno-gu"),
        ("seoul-02", "Gangnam-gu Health Center (강남구보건소)", "Gangnam-gu"),
        ("seoul-03", "Mapo-gu Health Center (마포구보건소)", "Mapo-gu"),
        ("seoul-04", "Songpa-gu Health Center (송파구보건소)", "Songpa-gu"),
    ],
    "Busan": [
        ("busan-01", "Haeundae-gu Health Center (해운대구보건소)", "Haeundae-gu"),
        ("busan-02", "Busanjin-gu Health Center (부산진구보건소)", "Busanjin-gu"),
        ("busan-03", "Suyeong-gu Health Center (수영구보건소)", "Suyeong-gu"),
        ("busan-04", "Saha-gu Health Center (사하구보건소)", "Saha-gu"),
    ],
    "Incheon": [
        ("incheon-01", "Namdong-gu Health Center (남동구보건소)", "Namdong-gu"),
        ("incheon-02", "Yeonsu-gu Health Center (연수구보건소)", "Yeonsu-gu"),
        ("incheon-03", "Bupyeong-gu Health Center (부평구보건소)", "Bupyeong-gu"),
        ("incheon-04", "Seo-gu Health Center (서구보건소)", "Seo-gu"),
    ],
    "Daegu": [
        ("daegu-01", "Suseong-gu Health Center (수성구보건소)", "Suseong-gu"),
        ("daegu-02", "Dalseo-gu Health Center (달서구보건소)", "Dalseo-gu"),
        ("daegu-03", "Jung-gu Health Center (중구보건소)", "Jung-gu"),
        ("daegu-04", "Buk-gu Health Center (북구보건소)", "Buk-gu"),
    ],
    "Gyeonggi": [
        ("gyeonggi-01", "Suwon Paldal-gu Health Center (팔달구보건소)", "Suwon"),
        ("gyeonggi-02", "Seongnam Bundang-gu Health Center (분당구보건소)", "Seongnam"),
        ("gyeonggi-03", "Goyang Ilsandong-gu Health Center (일산동구보건소)", "Goyang"),
        ("gyeonggi-04", "Yongin Suji-gu Health Center (수지구보건소)", "Yongin"),
    ],
}
STAFF_CLINIC_CODE = "seoul-01"
SLOT_DAYS = 14


class Command(BaseCommand):
    help = "Create demo campaigns, clinics, slots and logins (idempotent) and print the logins."

    def add_arguments(self, parser):
        parser.add_argument(
            "--logins-file",
            type=Path,
            default=DEFAULT_LOGINS_FILE,
            help=f"Where the demo passwords are kept (default {DEFAULT_LOGINS_FILE}).",
        )

    def handle(self, *args, logins_file: Path, **options):
        # A superuser whose password sits in a text file has no place outside a laptop.
        if config.is_production():
            raise CommandError("seed_demo makes demo logins; it does not run in production.")
        now = timezone.now()
        with transaction.atomic():
            # For officials added in the admin later; the demo admin is a superuser anyway.
            try:
                groups = ensure_roles()
            except MissingPermission as exc:
                raise CommandError(str(exc)) from None
            clinic_staff = groups[CLINIC_STAFF]
            campaigns = _campaigns(now)
            clinics = _clinics()
            today = timezone.localdate(now, KST)
            created = sum(
                generate_slots(
                    clinics=clinics,
                    campaign=campaign,
                    first_day=first_day,
                    last_day=first_day + timedelta(days=SLOT_DAYS - 1),
                    day_starts=time(9, 0),
                    day_ends=time(17, 0),
                    interval_minutes=30,
                    capacity=6,
                )
                for campaign in campaigns
                for first_day in _slot_periods(campaign, today)
            )
            admin, clinic = _users(clinics, clinic_staff=clinic_staff)
            logins = _logins(logins_file, [admin, clinic])
        _write_logins(logins_file, logins)
        self._report(campaigns, clinics, created, logins, logins_file)

    def _report(self, campaigns, clinics, created_slots, logins, logins_file) -> None:
        out = self.stdout.write
        out(
            f"Demo data ready: {len(campaigns)} campaigns, {len(clinics)} clinics, "
            f"{Slot.objects.filter(campaign__in=campaigns).count()} slots "
            f"({created_slots} new)."
        )
        for campaign in campaigns:
            out(
                f"  {campaign.name}: {window_state(campaign).value}, "
                f"{format_kst(campaign.opens_at)} to {format_kst(campaign.closes_at)}"
            )
        out("")
        out(f"  Site:        {BASE_URL}/")
        out(f"  Admin:       {BASE_URL}/admin/")
        out(f"  Book:        {BASE_URL}/book/cohort-55-59/")
        out(f"  With a code: {BASE_URL}/book/cohort-60-64/ (the phone is verified)")
        out(f"  Staff pages: {BASE_URL}/staff/")
        out("")
        out(f"Logins (kept in {logins_file}):")
        roles = {"admin": "official, superuser", "clinic": f"clinic staff at {STAFF_CLINIC_CODE}"}
        for username, password in logins.items():
            out(f"  {username:<8} {password:<14} {roles.get(username, '')}")


# The vaccines Korea gave in 2021, with their schedules (days between doses: shortest,
# recommended, longest). Pfizer and Moderna up to 6 weeks, as Korea stretched them when supply
# ran short; AstraZeneca 8 to 12 weeks, 11 recommended; Janssen one dose.
VACCINES = [
    {
        "name": "Pfizer-BioNTech",
        "manufacturer": "Pfizer / BioNTech",
        "doses": 2,
        "interval_min_days": 21,
        "interval_recommended_days": 21,
        "interval_max_days": 42,
    },
    {
        "name": "Moderna",
        "manufacturer": "Moderna",
        "doses": 2,
        "interval_min_days": 28,
        "interval_recommended_days": 28,
        "interval_max_days": 42,
    },
    {
        "name": "AstraZeneca",
        "manufacturer": "AstraZeneca",
        "doses": 2,
        "interval_min_days": 56,
        "interval_recommended_days": 77,
        "interval_max_days": 84,
    },
    {"name": "Janssen", "manufacturer": "Janssen (Johnson & Johnson)", "doses": 1},
]


def _vaccines() -> dict[str, Vaccine]:
    """The demo vaccines by name; one an official has edited keeps the edit."""
    vaccines = {}
    for values in VACCINES:
        name, defaults = values["name"], {k: v for k, v in values.items() if k != "name"}
        vaccines[name], _ = Vaccine.objects.get_or_create(name=name, defaults=defaults)
    return vaccines


# Whom people call when they cannot book (shown on the booking pages): data, as entered.
DEMO_CONTACT = "질병관리청 콜센터 1339 또는 가까운 보건소"


def _slot_periods(campaign: Campaign, today: date) -> list[date]:
    """The first day of each SLOT_DAYS-long run of slots: from today, and for a vaccine of more
    than one dose, each later dose's period (the recommended interval after the one before),
    so that every first dose of the first run has its later doses' places."""
    starts = [today]
    vaccine = campaign.vaccine
    for _ in range(1, vaccine.doses if vaccine else 1):
        starts.append(starts[-1] + timedelta(days=vaccine.interval_recommended_days))
    return starts


def _campaigns(now: datetime) -> list[Campaign]:
    tomorrow = timezone.localdate(now, KST) + timedelta(days=1)
    second_opens = datetime.combine(tomorrow, time(20, 0), tzinfo=KST)
    vaccines = _vaccines()
    # get_or_create: an existing campaign keeps its window, so a restart does not move it.
    open_now, _ = Campaign.objects.get_or_create(
        slug="cohort-55-59",
        defaults={
            "name": "Cohort 55-59 (born 1962-1966)",
            "vaccine": vaccines["Moderna"],
            "contact": DEMO_CONTACT,
            "born_from": date(1962, 1, 1),
            "born_to": date(1966, 12, 31),
            "opens_at": now - timedelta(hours=1),
            "closes_at": now - timedelta(hours=1) + timedelta(days=7),
        },
    )
    opens_tomorrow, created = Campaign.objects.get_or_create(
        slug="cohort-50-54",
        defaults={
            "name": "Cohort 50-54 (born 1967-1971)",
            "vaccine": vaccines["Pfizer-BioNTech"],
            "contact": DEMO_CONTACT,
            "born_from": date(1967, 1, 1),
            "born_to": date(1971, 12, 31),
            "opens_at": second_opens,
            "closes_at": second_opens + timedelta(days=7),
        },
    )
    if created:  # the opening night: people wait in the waiting room until 20:00 KST
        opens_tomorrow = configure_waiting_room(opens_tomorrow, enabled=True, per_minute=300)
    # Open now, and booking only with a phone confirmed by a one-time code (the code is in
    # the console and on /dev/outbox/ in development).
    verified_phone, _ = Campaign.objects.get_or_create(
        slug="cohort-60-64",
        defaults={
            "name": "Cohort 60-64 (born 1957-1961), phone verified",
            "vaccine": vaccines["AstraZeneca"],
            "contact": DEMO_CONTACT,
            "born_from": date(1957, 1, 1),
            "born_to": date(1961, 12, 31),
            "opens_at": now - timedelta(hours=1),
            "closes_at": now - timedelta(hours=1) + timedelta(days=7),
            "verify_phone": True,
        },
    )
    return [open_now, opens_tomorrow, verified_phone]


def _clinics() -> list[Clinic]:
    clinics = []
    for region, entries in CLINICS.items():
        for code, name, district in entries:
            clinic, _ = Clinic.objects.get_or_create(
                code=code,
                defaults={"name": name, "region": region, "address": f"{district}, {region}"},
            )
            clinics.append(clinic)
    return clinics


def _users(
    clinics: list[Clinic], *, clinic_staff: Group
) -> tuple[AbstractBaseUser, AbstractBaseUser]:
    User = get_user_model()
    admin, _ = User.objects.get_or_create(username="admin")
    admin.is_staff = admin.is_superuser = admin.is_active = True
    admin.save(update_fields=["is_staff", "is_superuser", "is_active"])

    clinic, _ = User.objects.get_or_create(username="clinic")
    # is_staff lets them through the admin's login page, which is the login of /staff/ too.
    clinic.is_staff = clinic.is_active = True
    clinic.save(update_fields=["is_staff", "is_active"])
    clinic.groups.add(clinic_staff)
    staff_clinic = next(c for c in clinics if c.code == STAFF_CLINIC_CODE)
    StaffMembership.objects.get_or_create(user=clinic, clinic=staff_clinic)
    return admin, clinic


def _read_logins(path: Path) -> dict[str, str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return {}
    logins = {}
    for line in lines:
        if line.strip() and not line.startswith("#"):
            username, _, password = line.strip().partition(" ")
            logins[username] = password.strip()
    return logins


def _logins(path: Path, users: list[AbstractBaseUser]) -> dict[str, str]:
    """The password of each user, from the file; a new one where the file's does not work.

    Checking costs a password hash per user per run, but what is printed then always logs in:
    a new user, a lost file or a password changed in the admin all end in a fresh password.
    """
    known = _read_logins(path)
    logins = {}
    for user in users:
        password = known.get(user.get_username())
        if not password or not user.check_password(password):
            password = secrets.token_urlsafe(9)
            user.set_password(password)
            user.save(update_fields=["password"])
        logins[user.get_username()] = password
    return logins


def _write_logins(path: Path, logins: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "# vaxbook demo logins, written by `manage.py seed_demo`. Development only.\n"
    text += "".join(f"{username} {password}\n" for username, password in logins.items())
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
