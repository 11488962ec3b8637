from dataclasses import dataclass
from datetime import date, datetime, time

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import formats
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from vaxbook.dates import format_kst


def format_birth_date(day: date) -> str:
    """A birth date as people write one: "1962. 1. 1." / "1962-01-01" (no weekday)."""
    return formats.date_format(day, "SHORT_DATE_FORMAT")


class Vaccine(models.Model):
    """A vaccine a campaign gives, with its schedule: how many doses and, for more than one,
    the interval between two doses in days (a dose given between the minimum and the maximum
    counts; the recommended one is what booking aims for). For one dose the intervals mean
    nothing and are kept empty."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    manufacturer = models.CharField(_("manufacturer"), max_length=200, blank=True)
    doses = models.PositiveSmallIntegerField(
        _("number of doses"),
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(3)],
        help_text=_("How many doses make the full course (1 to 3)."),
    )
    interval_min_days = models.PositiveSmallIntegerField(
        _("shortest interval (days)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_("The fewest days between two doses."),
    )
    interval_recommended_days = models.PositiveSmallIntegerField(
        _("recommended interval (days)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_("The days between two doses that booking aims for."),
    )
    interval_max_days = models.PositiveSmallIntegerField(
        _("longest interval (days)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_("The most days between two doses."),
    )
    min_age = models.PositiveSmallIntegerField(
        _("youngest age"),
        null=True,
        blank=True,
        help_text=_("Given from this age (years), if it is limited."),
    )
    max_age = models.PositiveSmallIntegerField(
        _("oldest age"),
        null=True,
        blank=True,
        help_text=_("Given up to this age (years, inclusive), if it is limited."),
    )

    INTERVALS = ("interval_min_days", "interval_recommended_days", "interval_max_days")

    class Meta:
        verbose_name = _("vaccine")
        verbose_name_plural = _("vaccines")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(doses__gte=1, doses__lte=3), name="vaccine_doses_1_to_3"
            ),
            # More than one dose needs the whole interval; one dose has none.
            models.CheckConstraint(
                condition=Q(
                    doses=1,
                    interval_min_days__isnull=True,
                    interval_recommended_days__isnull=True,
                    interval_max_days__isnull=True,
                )
                | Q(
                    # isnull=False too: a comparison with NULL is unknown, which a CHECK lets
                    # through.
                    doses__gt=1,
                    interval_min_days__isnull=False,
                    interval_recommended_days__isnull=False,
                    interval_max_days__isnull=False,
                    interval_min_days__gte=1,
                    interval_recommended_days__gte=F("interval_min_days"),
                    interval_max_days__gte=F("interval_recommended_days"),
                ),
                name="vaccine_interval_fits_doses",
            ),
            models.CheckConstraint(
                condition=Q(min_age__isnull=True)
                | Q(max_age__isnull=True)
                | Q(min_age__lte=F("max_age")),
                name="vaccine_ages_not_empty",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.doses == 1:
            # Ignored for one dose: whatever was typed is dropped rather than refused.
            for name in self.INTERVALS:
                setattr(self, name, None)
        errors = self._interval_errors() if self.doses and self.doses > 1 else {}
        if self.min_age is not None and self.max_age is not None and self.min_age > self.max_age:
            errors["max_age"] = gettext("The oldest age must not be below the youngest.")
        if errors:
            raise ValidationError(errors)

    def _interval_errors(self) -> dict[str, str]:
        """What is wrong with the interval of a vaccine of more than one dose: each day count
        given, and shortest ≤ recommended ≤ longest."""
        errors = {
            name: gettext("Needed when the vaccine has more than one dose.")
            for name in self.INTERVALS
            if getattr(self, name) is None
        }
        if errors:
            return errors
        low, mid, high = (getattr(self, name) for name in self.INTERVALS)
        if mid < low:
            errors["interval_recommended_days"] = gettext(
                "The recommended interval must not be shorter than the shortest."
            )
        if high < max(low, mid):
            errors["interval_max_days"] = gettext(
                "The longest interval must not be shorter than the shortest or the recommended."
            )
        return errors


LATEST_REMINDER = time(23, 0)


class Campaign(models.Model):
    """A vaccination campaign for one age cohort, with the window in which booking is open."""

    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(
        _("address name"),
        max_length=80,
        unique=True,
        help_text=_("The campaign's part of its web addresses (letters, digits and hyphens)."),
    )
    vaccine = models.ForeignKey(
        Vaccine,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="campaigns",
        verbose_name=_("vaccine"),
    )
    born_from = models.DateField(
        _("born from"), help_text=_("First birth date of the cohort (inclusive).")
    )
    born_to = models.DateField(
        _("born to"), help_text=_("Last birth date of the cohort (inclusive).")
    )
    opens_at = models.DateTimeField(
        _("booking opens"), help_text=_("When booking opens, in Korea time (KST).")
    )
    closes_at = models.DateTimeField(
        _("booking closes"), help_text=_("When booking closes, in Korea time (KST).")
    )
    contact = models.CharField(
        _("contact"),
        max_length=200,
        blank=True,
        help_text=_(
            "Whom people should call or visit when they cannot book, e.g. a public health "
            "centre and its telephone number. Shown on the booking pages."
        ),
    )
    verify_phone = models.BooleanField(
        _("verify the phone"),
        default=False,
        help_text=_(
            "The identity step sends a one-time code to the phone given and goes on only when "
            "it is typed back, so that the confirmation goes to a phone in the booker's hand."
        ),
    )
    reminder_time = models.TimeField(
        _("reminder time (KST)"),
        default=time(10, 0),
        help_text=_("The day before an appointment, a reminder is sent at this time (Korea time)."),
    )
    # Until when a confirmed appointment can still be moved by the person (bookings.services
    # .move_booking): this time (KST), this many days before the appointment's day.
    change_deadline_days = models.PositiveSmallIntegerField(
        _("changes close (days before)"),
        default=1,
        validators=[MaxValueValidator(14)],
        help_text=_(
            "People can move their appointment until this many days before its day (0: on the "
            "day itself), at the time below."
        ),
    )
    change_deadline_time = models.TimeField(
        _("changes close at (KST)"),
        default=time(18, 0),
        help_text=_("The time (Korea time) on that day after which the appointment stays."),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    # The waiting room in front of the booking steps (campaigns.waiting_room).
    waiting_room_enabled = models.BooleanField(
        _("waiting room on"),
        default=False,
        help_text=_(
            "Queue everyone before the booking steps; arrivals before the opening are put in "
            "random order at the opening."
        ),
    )
    admission_rate_per_minute = models.PositiveIntegerField(
        _("admissions per minute"),
        default=600,
        validators=[MinValueValidator(1)],
        help_text=_(
            "People let from the queue to the booking steps per minute. Can be changed while "
            "the queue runs."
        ),
    )
    admission_pass_minutes = models.PositiveSmallIntegerField(
        _("admission pass minutes"),
        default=20,
        validators=[MinValueValidator(1), MaxValueValidator(240)],
        help_text=_("How long an admission pass is valid, in minutes."),
    )
    # Set when the waiting room is switched on; tickets of an earlier epoch are void.
    waiting_room_epoch = models.DateTimeField(null=True, blank=True, editable=False)
    draw_published = models.BooleanField(
        _("draws published"),
        default=False,
        help_text=_(
            "Show the draws' seeds and orders (one per opening) publicly so anyone can check them."
        ),
    )

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["opens_at", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(admission_rate_per_minute__gte=1),
                name="campaign_admission_rate_positive",
            ),
            models.CheckConstraint(
                condition=Q(admission_pass_minutes__gte=1), name="campaign_pass_minutes_positive"
            ),
            models.CheckConstraint(
                condition=Q(closes_at__gt=F("opens_at")), name="campaign_closes_after_opens"
            ),
            models.CheckConstraint(
                condition=Q(born_from__lte=F("born_to")), name="campaign_cohort_not_empty"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors = {}
        if self.opens_at and self.closes_at and self.closes_at <= self.opens_at:
            errors["closes_at"] = gettext("Booking must close after it opens.")
        if self.born_from and self.born_to and self.born_from > self.born_to:
            errors["born_to"] = gettext("The last birth date must not be before the first.")
        if self.reminder_time and self.reminder_time > LATEST_REMINDER:
            # the reminders' task runs every few minutes: a time too near midnight could fall
            # between two runs, after which the appointment is "today" and no reminder goes
            errors["reminder_time"] = gettext(
                "Reminders go out by %(latest)s at the latest (Korea time)."
            ) % {"latest": LATEST_REMINDER.strftime("%H:%M")}
        if errors:
            raise ValidationError(errors)

    def change_deadline(self, day: date) -> datetime:
        """Until when an appointment on ``day`` may be moved (aware, Korea time)."""
        from datetime import timedelta

        from vaxbook.dates import KST

        before = day - timedelta(days=self.change_deadline_days)
        return datetime.combine(before, self.change_deadline_time, tzinfo=KST)

    def covers_birth_date(self, birth_date: date) -> bool:
        return self.born_from <= birth_date <= self.born_to

    @property
    def cohort_label(self) -> str:
        """Whom the campaign is for, in the active language."""
        return gettext("born %(first)s to %(last)s") % {
            "first": format_birth_date(self.born_from),
            "last": format_birth_date(self.born_to),
        }

    def booking_windows(self) -> list["Window"]:
        """The windows in force: the staggered ones if there are any, else the campaign's own
        for the whole cohort (prefetch ``windows`` to save the query). The rule that uses them
        is ``campaigns.windows``."""
        staggered = list(self.windows.all()) if self.pk else []
        if not staggered:
            return [Window(self.opens_at, self.closes_at)]
        return [
            Window(w.opens_at, w.closes_at, w.birth_day_last_digit, w.born_from, w.born_to, w.label)
            for w in staggered
        ]


@dataclass(frozen=True)
class Window:
    """A period in which the people it covers may book (a ``BookingWindow`` or a campaign's
    own window): open from ``opens_at`` (inclusive) to ``closes_at`` (exclusive)."""

    opens_at: datetime
    closes_at: datetime
    last_digit: int | None = None
    born_from: date | None = None
    born_to: date | None = None
    label: str = ""

    @property
    def whole_cohort(self) -> bool:
        """Whether it covers everyone in the campaign's cohort (no rule narrows it)."""
        return self.last_digit is None and self.born_from is None and self.born_to is None

    def covers(self, birth_date: date) -> bool:
        if self.last_digit is not None and birth_date.day % 10 != self.last_digit:
            return False
        if self.born_from and birth_date < self.born_from:
            return False
        return not (self.born_to and birth_date > self.born_to)

    def is_open(self, now: datetime) -> bool:
        return self.opens_at <= now < self.closes_at


class BookingWindow(models.Model):
    """A period in which part (or all) of a campaign's cohort may book.

    A campaign without windows has one implicit window: its own ``opens_at``–``closes_at`` for
    the whole cohort. With windows, only they count. A window may be limited to the last digit
    of the birth day (Korea's August 2021 rotation: birth dates ending in 9 booked on the 9th)
    and/or a narrower birth-date range.
    """

    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="windows", verbose_name=_("campaign")
    )
    label = models.CharField(_("label"), max_length=100, blank=True)
    opens_at = models.DateTimeField(_("opens"), help_text=_("Korea time (KST)."))
    closes_at = models.DateTimeField(_("closes"), help_text=_("Korea time (KST)."))
    birth_day_last_digit = models.PositiveSmallIntegerField(
        _("last digit of the birth day"),
        null=True,
        blank=True,
        validators=[MaxValueValidator(9)],
        help_text=_("Only people whose day of birth ends in this digit (0-9)."),
    )
    born_from = models.DateField(_("born from"), null=True, blank=True)
    born_to = models.DateField(_("born to"), null=True, blank=True)

    class Meta:
        verbose_name = _("booking window")
        verbose_name_plural = _("booking windows")
        ordering = ["opens_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(closes_at__gt=F("opens_at")), name="window_closes_after_opens"
            ),
            models.CheckConstraint(
                condition=Q(birth_day_last_digit__isnull=True) | Q(birth_day_last_digit__lte=9),
                name="window_digit_0_to_9",
            ),
            models.CheckConstraint(
                condition=Q(born_from__isnull=True)
                | Q(born_to__isnull=True)
                | Q(born_from__lte=F("born_to")),
                name="window_range_not_empty",
            ),
        ]

    def __str__(self) -> str:
        return self.label or gettext("window %(number)s") % {"number": self.pk}

    def clean(self) -> None:
        errors = {}
        if self.opens_at and self.closes_at and self.closes_at <= self.opens_at:
            errors["closes_at"] = gettext("The window must close after it opens.")
        if self.born_from and self.born_to and self.born_from > self.born_to:
            errors["born_to"] = gettext("The last birth date must not be before the first.")
        if errors:
            raise ValidationError(errors)


class AdmissionRate(models.Model):
    """From ``effective_from`` on, the waiting room admits ``per_minute`` people a minute.

    The history of rates makes "how many are admitted by now" a pure function of the clock, so
    every web process computes the same answer without a shared counter.
    """

    campaign = models.ForeignKey(
        Campaign,
        on_delete=models.CASCADE,
        related_name="admission_rates",
        verbose_name=_("campaign"),
    )
    effective_from = models.DateTimeField(_("effective from"))
    per_minute = models.PositiveIntegerField(
        _("people per minute"), validators=[MinValueValidator(1)]
    )

    class Meta:
        verbose_name = _("admission rate")
        verbose_name_plural = _("admission rates")
        ordering = ["effective_from", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(per_minute__gte=1), name="admission_rate_positive")
        ]

    def __str__(self) -> str:
        return gettext("%(per_minute)s a minute from %(moment)s") % {
            "per_minute": self.per_minute,
            "moment": format_kst(self.effective_from),
        }


class QueueDraw(models.Model):
    """The draw at one opening of a campaign (its own, or a staggered window's): everyone who
    was waiting before that opening, put in an order given by a seed drawn at the opening."""

    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="draws", verbose_name=_("campaign")
    )
    opens_at = models.DateTimeField(
        _("opening"), help_text=_("The opening whose early arrivals were drawn.")
    )
    seed = models.CharField(_("seed"), max_length=64)
    drawn_at = models.DateTimeField(_("drawn at"))

    class Meta:
        verbose_name = _("queue draw")
        verbose_name_plural = _("queue draws")
        ordering = ["opens_at"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "opens_at"], name="one_draw_per_opening")
        ]

    def __str__(self) -> str:
        return gettext("draw of %(campaign)s at %(moment)s") % {
            "campaign": self.campaign,
            "moment": format_kst(self.opens_at),
        }


class QueueDrawEntry(models.Model):
    """One ticket that arrived before an opening, and the place the draw gave it."""

    draw = models.ForeignKey(
        QueueDraw, on_delete=models.CASCADE, related_name="entries", verbose_name=_("draw")
    )
    number = models.PositiveIntegerField(
        _("arrival number"), help_text=_("Arrival number before the opening.")
    )
    ticket_id = models.CharField(_("ticket"), max_length=32)
    position = models.PositiveIntegerField(_("place"))

    class Meta:
        verbose_name = _("draw entry")
        verbose_name_plural = _("draw entries")
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["draw", "number"], name="draw_entry_number_unique"),
            models.UniqueConstraint(fields=["draw", "position"], name="draw_entry_position_unique"),
        ]

    def __str__(self) -> str:
        return gettext("ticket %(ticket)s → place %(place)s") % {
            "ticket": self.ticket_id,
            "place": self.position,
        }


class AdmissionPass(models.Model):
    """An admission pass once someone has used it at the identity step: the pass (its
    ticket) books for at most ``VAXBOOK_PEOPLE_PER_PASS`` people, recorded as its holders.

    The row is the lock that makes "at most N" hold under a burst: binding a person locks it.
    """

    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="passes", verbose_name=_("campaign")
    )
    ticket_id = models.CharField(_("ticket"), max_length=32)
    opening = models.DateTimeField(
        _("opening"), help_text=_("The opening whose line the ticket queued in.")
    )
    admitted_at = models.DateTimeField(_("admitted at"))

    class Meta:
        verbose_name = _("admission pass")
        verbose_name_plural = _("admission passes")
        constraints = [
            models.UniqueConstraint(fields=["campaign", "ticket_id"], name="one_pass_per_ticket")
        ]

    def __str__(self) -> str:
        return gettext("pass %(ticket)s") % {"ticket": self.ticket_id}


class PassHolder(models.Model):
    """A person booked (or being booked) through a pass, by the keyed hash of their
    registration number — never the number itself."""

    admission_pass = models.ForeignKey(
        AdmissionPass,
        on_delete=models.CASCADE,
        related_name="holders",
        verbose_name=_("admission pass"),
    )
    person = models.CharField(_("person (keyed hash)"), max_length=64)
    bound_at = models.DateTimeField(_("bound at"))

    class Meta:
        verbose_name = _("pass holder")
        verbose_name_plural = _("pass holders")
        constraints = [
            models.UniqueConstraint(
                fields=["admission_pass", "person"], name="one_holder_per_person"
            )
        ]

    def __str__(self) -> str:
        return gettext("holder of %(pass)s") % {"pass": self.admission_pass}


class WindowSignup(models.Model):
    """Someone who asked to be texted shortly before the booking window for a birth date opens
    (``campaigns.window_signups``). Nothing is sent to the phone before ``confirmed_at``: the
    number is proven by a one-time code typed back. Deleted by the personal-data purge once
    the campaign has closed."""

    campaign = models.ForeignKey(
        Campaign,
        on_delete=models.CASCADE,
        related_name="window_signups",
        verbose_name=_("campaign"),
    )
    phone = models.CharField(_("phone number"), max_length=20)
    birth_date = models.DateField(_("date of birth"))
    language = models.CharField(
        _("language"), max_length=8, choices=settings.LANGUAGES, default="ko"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    confirmed_at = models.DateTimeField(
        _("phone confirmed at"),
        null=True,
        blank=True,
        help_text=_("When the one-time code sent to the phone was typed back."),
    )
    notified_for = models.DateTimeField(
        _("told about the opening"),
        null=True,
        blank=True,
        help_text=_("The opening of the window the last text announced."),
    )

    class Meta:
        verbose_name = _("window sign-up")
        verbose_name_plural = _("window sign-ups")
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "phone", "birth_date"], name="one_signup_per_phone_and_person"
            )
        ]

    def __str__(self) -> str:
        return gettext("sign-up %(number)s") % {"number": self.pk}
