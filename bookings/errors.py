"""Why a booking request is refused. Each message is safe to show to the person and to log:
none of them repeats a registration number."""

from campaigns.models import Campaign


class BookingRefused(Exception):
    code = "refused"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class WindowClosed(BookingRefused):
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
    code = "slot_unavailable"


class NotCancellable(BookingRefused):
    code = "not_cancellable"
