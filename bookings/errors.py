"""Why a booking request is refused.

A refusal carries its reason as data: ``code`` (the kind), ``reason`` (the rule within it) and
the parameters the text needs. The text a person reads (``message``) is made when it is read,
in the language active then, so the same refusal reads in Korean on a Korean page and in
English in an English API answer. None of the texts repeats a registration number.
"""

from datetime import date, datetime

from django.utils.translation import gettext, gettext_lazy

from campaigns.models import Campaign
from vaxbook.dates import format_day, format_kst


class BookingRefused(Exception):
    """A refusal: ``code`` names the kind (API clients and tests rely on it), ``reason`` the
    particular rule within it (a short identifier, or "" where the kind has only one).

    A subclass with several reasons lists their texts in ``texts`` (reason → lazy text with
    named placeholders filled from ``params``), or overrides ``message``.
    """

    code = "refused"
    texts: dict[str, str] = {}

    def __init__(self, *, reason: str = "", **params) -> None:
        super().__init__(self.code, reason)
        self.reason = reason
        self.params = params

    @property
    def message(self) -> str:
        """What a person reads, in the active language."""
        return str(self.texts[self.reason]) % self.params

    def __str__(self) -> str:
        return self.message


class WindowClosed(BookingRefused):
    """Reasons: ``window`` (not the person's open window), ``not_covered`` (no window of the
    campaign is for this birth date at all: the message says whom to contact), ``no_pass``
    (the waiting room is on and no admission pass came with the request)."""

    code = "window_closed"

    def __init__(
        self,
        *,
        reason: str,
        campaign: Campaign | None = None,
        state=None,
        now: datetime | None = None,
        birth_date: date | None = None,
    ) -> None:
        super().__init__(reason=reason)
        self.campaign, self.state, self.now, self.birth_date = campaign, state, now, birth_date

    @property
    def message(self) -> str:
        if self.reason == "no_pass":
            return gettext("Join the waiting room first: booking needs an admission pass.")
        # Imported here: campaigns.windows is the one place that words a closed window.
        from campaigns.windows import closed_message

        return str(
            closed_message(self.campaign, self.state, now=self.now, birth_date=self.birth_date)
        )


class OutOfCohort(BookingRefused):
    """``other_campaign``: the open or coming campaign whose cohort has this birth date, if
    there is one (the page links to it)."""

    code = "out_of_cohort"

    def __init__(self, campaign: Campaign, *, other_campaign: Campaign | None = None):
        super().__init__()
        self.campaign = campaign
        self.other_campaign = other_campaign

    @property
    def message(self) -> str:
        said = gettext(
            "%(campaign)s is for people %(cohort)s. The person you entered is not in this "
            "campaign's group."
        ) % {"campaign": self.campaign.name, "cohort": self.campaign.cohort_label}
        if self.other_campaign is None:
            return said
        # Translators: the first sentence says whom the campaign is for; the second names
        # the campaign that is for this person's birth date.
        return gettext("%(refusal)s This birth date books in %(other)s.") % {
            "refusal": said,
            "other": self.other_campaign.name,
        }


class AlreadyBooked(BookingRefused):
    code = "already_booked"
    texts = {
        "": gettext_lazy(
            "This person already has a booking in this campaign. Look it up with its booking "
            "code and the registration number to see or cancel it; without the code, have it "
            "texted to the phone given when booking."
        )
    }


class PhoneNotVerified(BookingRefused):
    """The campaign books only with a phone proven by a one-time code (``verify_phone``), and
    this request's phone was not: the booking pages prove it at the identity step; the API
    cannot, and is refused."""

    code = "phone_not_verified"
    texts = {
        "": gettext_lazy(
            "This campaign books only with a phone number confirmed by a code sent to it. "
            "Book on the booking pages, which send the code."
        )
    }


class SlotUnavailable(BookingRefused):
    """Reasons: ``not_offered`` (not this campaign's), ``started``, ``full``, ``no_later_dose``
    (the clinic has no place for a later dose within the vaccine's interval),
    ``later_changed`` (the time shown for a later dose is no longer free), ``too_late`` (a move
    into a time whose changes have closed), ``same`` (a move to the time already booked)."""

    code = "slot_unavailable"
    texts = {
        "not_offered": gettext_lazy("That time is not offered in this campaign."),
        "started": gettext_lazy("That time has already passed. Choose another one."),
        "full": gettext_lazy("That time is full. Choose another one."),
        "no_later_dose": gettext_lazy(
            "This clinic has no free time for the next dose within the vaccine's interval "
            "after that day. Choose another day or clinic."
        ),
        "later_changed": gettext_lazy(
            "The time offered for the next dose has just been taken. Check the new one and "
            "submit again."
        ),
        "too_late": gettext_lazy(
            "That time is too soon: appointments can no longer be changed into it. Choose a "
            "later one."
        ),
        "same": gettext_lazy("That is the time already booked. Choose another one."),
    }


class NotMovable(BookingRefused):
    """Reasons: ``not_confirmed`` (only a confirmed booking moves), ``checked_in`` (every dose
    left has been given), ``deadline`` (changes closed: parameter ``deadline``)."""

    code = "not_movable"

    @property
    def message(self) -> str:
        if self.reason == "deadline":
            return gettext(
                "This appointment can no longer be changed: changes closed at %(deadline)s. "
                "To cancel it, use the cancel button."
            ) % {"deadline": format_kst(self.params["deadline"])}
        if self.reason == "checked_in":
            return gettext("Every dose of this booking has been given: there is nothing to move.")
        return gettext("Only a confirmed booking can be moved.")


class NotCancellable(BookingRefused):
    """Reasons: ``not_active`` (already cancelled or rejected), ``past`` (its day is over),
    ``checked_in`` (the person has come to the clinic: the booking is the record of it)."""

    code = "not_cancellable"
    texts = {
        "not_active": gettext_lazy(
            "This booking is no longer active, so there is nothing to cancel."
        ),
        "past": gettext_lazy("This appointment has already taken place."),
        "checked_in": gettext_lazy(
            "This booking can no longer be cancelled: the person has already checked in at the "
            "clinic."
        ),
    }


class CannotRebook(BookingRefused):
    """Only a booking whose slot filled (``rejected``) may ask for another slot."""

    code = "cannot_rebook"
    texts = {"": gettext_lazy("Only a booking whose time filled up can be moved to another time.")}


class CannotCheckIn(BookingRefused):
    """Reasons: ``not_confirmed``, ``not_today`` (the appointment is on another day, KST; the
    parameter ``day`` is that day)."""

    code = "cannot_check_in"

    @property
    def message(self) -> str:
        if self.reason == "not_today":
            return gettext("This booking is for %(day)s, not today.") % {
                "day": format_day(self.params["day"])
            }
        return gettext("Only a confirmed booking can be checked in.")


class PassFull(BookingRefused):
    """The admission pass already books for as many people as one pass may."""

    code = "pass_full"

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    @property
    def message(self) -> str:
        return gettext(
            "This admission pass has already been used for %(limit)d people, the most one pass "
            "may book for (a person and their household). To book for someone else, that "
            "person needs a place in the queue of their own."
        ) % {"limit": self.limit}


class PassBeforeWindow(BookingRefused):
    """The pass comes from the line of an opening before this person's window opened."""

    code = "pass_before_window"

    def __init__(self, window_opened: datetime) -> None:
        super().__init__()
        self.window_opened = window_opened

    @property
    def message(self) -> str:
        return gettext(
            "This admission pass comes from the queue before this person's booking window "
            "opened (%(opened)s). Each window's opening has its own queue: join it to book for "
            "this person."
        ) % {"opened": format_kst(self.window_opened)}
