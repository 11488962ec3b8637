"""Why a booking request is refused. Each message is safe to show to the person and to log:
none of them repeats a registration number."""

from datetime import datetime

from campaigns.models import Campaign
from campaigns.windows import format_kst


class BookingRefused(Exception):
    """A refusal: ``code`` names the kind (API clients and tests rely on it), ``reason`` the
    particular rule within it (a short identifier, or "" where the kind has only one)."""

    code = "refused"

    def __init__(self, message: str, *, reason: str = ""):
        super().__init__(message)
        self.message = message
        self.reason = reason


class WindowClosed(BookingRefused):
    """Reasons: ``window`` (not the person's open window), ``no_pass`` (the waiting room is on
    and no admission pass came with the request)."""

    code = "window_closed"


class OutOfCohort(BookingRefused):
    code = "out_of_cohort"

    def __init__(self, campaign: Campaign):
        super().__init__(
            f"{campaign.name} is for people {campaign.cohort_label}. "
            "The person you entered is not in the cohort."
        )


class AlreadyBooked(BookingRefused):
    code = "already_booked"

    def __init__(self) -> None:
        super().__init__(
            "This person already has a booking in this campaign. Look it up with its booking "
            "code and the registration number to see or cancel it."
        )


class SlotUnavailable(BookingRefused):
    """Reasons: ``not_offered`` (not this campaign's), ``started``, ``full``."""

    code = "slot_unavailable"


class NotCancellable(BookingRefused):
    """Reasons: ``not_active`` (already cancelled or rejected), ``past`` (its day is over)."""

    code = "not_cancellable"


class CannotRebook(BookingRefused):
    """Only a booking whose slot filled (``rejected``) may ask for another slot."""

    code = "cannot_rebook"


class CannotCheckIn(BookingRefused):
    """Reasons: ``not_confirmed``, ``not_today`` (the appointment is on another day, KST)."""

    code = "cannot_check_in"


class PassFull(BookingRefused):
    """The admission pass already books for as many people as one pass may."""

    code = "pass_full"

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"This admission pass has already been used for {limit} people, the most one pass "
            "may book for (a person and their household). To book for someone else, that "
            "person needs a place in the queue of their own."
        )
        self.limit = limit


class PassBeforeWindow(BookingRefused):
    """The pass comes from the line of an opening before this person's window opened."""

    code = "pass_before_window"

    def __init__(self, window_opened: datetime) -> None:
        super().__init__(
            "This admission pass comes from the queue before this person's booking window "
            f"opened ({format_kst(window_opened)}). Each window's opening has its own queue: "
            "join it to book for this person."
        )
        self.window_opened = window_opened
