"""A later dose's reminder leads to the course's booking (the link people keep) and says which
dose it is. (The confirmation listing both doses: bookings/tests/test_doses_services.py.)"""

from datetime import datetime, time, timedelta

import pytest
import time_machine
from django.utils import translation

from bookings.tests.doses import book_course, course_slots, two_dose_campaign
from vaxbook.dates import KST, format_slot
from vaxbook.notifications.models import Notification
from vaxbook.notifications.reminders import send_due_reminders

pytestmark = pytest.mark.django_db


def test_the_second_doses_reminder_links_to_the_booking_and_says_which_dose():
    campaign = two_dose_campaign()
    firsts, seconds = course_slots(campaign)
    booking = book_course(campaign, firsts[0], 1)
    second = booking.later_doses.get()
    day_before = seconds[0].date - timedelta(days=1)
    with time_machine.travel(datetime.combine(day_before, time(12, 0), tzinfo=KST)):
        send_due_reminders()
    reminder = Notification.objects.get(kind="reminder", booking=second)
    assert str(booking.public_id) in reminder.text
    assert str(second.public_id) not in reminder.text
    with translation.override(second.language):
        assert format_slot(seconds[0].date, seconds[0].start_time) in reminder.text
    assert campaign.vaccine.name in reminder.text
