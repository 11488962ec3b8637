"""The text to a confirmed sign-up shortly before the opening of the window that is for its
birth date: once per sign-up and opening, whatever runs when; and the sign-ups go with the
personal-data purge once the campaign has closed."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from bookings import retention
from campaigns import window_signups
from campaigns.models import BookingWindow, WindowSignup
from campaigns.tests.factories import CampaignFactory
from campaigns.window_signups import send_window_notices
from vaxbook.dates import KST
from vaxbook.notifications.models import Notification

OPENS = datetime(2026, 12, 1, 10, 0, tzinfo=KST)


def campaign_opening_at(opens=OPENS, **fields):
    return CampaignFactory(opens_at=opens, closes_at=opens + timedelta(days=3), **fields)


def signup(campaign, *, born=date(1963, 5, 9), confirmed=OPENS - timedelta(days=1), **fields):
    return WindowSignup.objects.create(
        campaign=campaign,
        phone=fields.pop("phone", f"010-7777-{WindowSignup.objects.count():04d}"),
        birth_date=born,
        confirmed_at=confirmed,
        **fields,
    )


def notices() -> list[Notification]:
    return list(Notification.objects.filter(kind=Notification.Kind.WINDOW_OPENS).order_by("pk"))


def run_at(moment: datetime) -> list[str]:
    with time_machine.travel(moment, tick=False):
        return send_window_notices()


@pytest.mark.django_db
def test_a_confirmed_signup_is_texted_once_shortly_before_its_window_opens():
    campaign = campaign_opening_at()
    person = signup(campaign, language="en")
    assert run_at(OPENS - timedelta(minutes=11)) == []
    [key] = run_at(OPENS - timedelta(minutes=10))
    assert run_at(OPENS - timedelta(minutes=9)) == []
    assert run_at(OPENS + timedelta(minutes=1)) == []
    [notice] = notices()
    assert notice.key == key == (f"signup:{person.pk}:window_opens:2026-12-01T01:00:00+00:00:sms")
    assert notice.recipient == person.phone and notice.booking is None
    assert notice.language == "en"
    queue = settings.VAXBOOK_SITE_URL + reverse(
        "campaigns:queue", kwargs={"campaign": campaign.slug}
    )
    assert queue in notice.text and "KST" in notice.text
    person.refresh_from_db()
    assert person.notified_for == OPENS


@pytest.mark.django_db
def test_the_notice_is_in_the_language_of_the_signup():
    campaign = campaign_opening_at()
    signup(campaign, language="ko")
    signup(campaign, language="en")
    run_at(OPENS - timedelta(minutes=5))
    texts = {n.language: n.text for n in notices()}
    assert texts["ko"] != texts["en"] and "예약" in texts["ko"] and "예약" not in texts["en"]


@pytest.mark.django_db
def test_nothing_is_sent_to_a_phone_that_did_not_confirm_its_code():
    campaign = campaign_opening_at()
    signup(campaign, confirmed=None)
    confirmed = signup(campaign)
    run_at(OPENS - timedelta(minutes=5))
    assert [n.recipient for n in notices()] == [confirmed.phone]


@pytest.mark.django_db
def test_the_notice_goes_the_configured_minutes_before(settings):
    settings.VAXBOOK_WINDOW_NOTICE_MINUTES = 30
    signup(campaign_opening_at())
    assert run_at(OPENS - timedelta(minutes=31)) == []
    assert len(run_at(OPENS - timedelta(minutes=30))) == 1


@pytest.mark.django_db
def test_staggered_windows_each_person_is_told_of_their_own_window():
    campaign = campaign_opening_at()
    for digit, hours in ((9, 0), (1, 24)):
        BookingWindow.objects.create(
            campaign=campaign,
            opens_at=OPENS + timedelta(hours=hours),
            closes_at=OPENS + timedelta(hours=hours + 12),
            birth_day_last_digit=digit,
        )
    nine = signup(campaign, born=date(1963, 5, 19))
    one = signup(campaign, born=date(1964, 2, 11))
    run_at(OPENS - timedelta(minutes=5))
    assert [n.recipient for n in notices()] == [nine.phone]
    run_at(OPENS + timedelta(hours=24, minutes=-5))
    assert [n.recipient for n in notices()] == [nine.phone, one.phone]
    one.refresh_from_db()
    assert one.notified_for == OPENS + timedelta(hours=24)


@pytest.mark.django_db
def test_a_later_window_for_the_same_person_is_announced_too():
    campaign = campaign_opening_at()
    for day in (0, 2):
        BookingWindow.objects.create(
            campaign=campaign,
            opens_at=OPENS + timedelta(days=day),
            closes_at=OPENS + timedelta(days=day, hours=6),
        )
    signup(campaign)
    run_at(OPENS - timedelta(minutes=5))
    run_at(OPENS + timedelta(days=2, minutes=-5))
    assert len(notices()) == 2


@pytest.mark.django_db
def test_a_run_that_comes_late_still_tells_while_the_window_is_open():
    campaign = campaign_opening_at()
    signup(campaign)
    assert len(run_at(OPENS + timedelta(hours=2))) == 1
    assert run_at(campaign.closes_at + timedelta(minutes=1)) == []


@pytest.mark.django_db
def test_a_signup_confirmed_after_the_opening_is_not_texted():
    signup(campaign_opening_at(), confirmed=OPENS + timedelta(minutes=1))
    assert run_at(OPENS + timedelta(minutes=2)) == []


@pytest.mark.django_db
def test_the_queries_do_not_grow_with_the_signups(django_assert_num_queries):
    campaign = campaign_opening_at()
    for n in range(6):
        signup(campaign, born=date(1963, 5, 1 + n))
    # the campaigns with sign-ups, their windows; per due window the sign-ups, then a
    # savepoint, the INSERT of the messages, the UPDATE of notified_for and the release
    with django_assert_num_queries(7):
        assert len(run_at(OPENS - timedelta(minutes=5))) == 6


@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_text_each_signup_once(monkeypatch):
    """Both runs choose the same sign-ups (held by the barrier before their INSERT, neither
    sees the other's rows): the unique key keeps one message each, written and sent by one
    run."""
    campaign = campaign_opening_at()
    people = [signup(campaign, born=date(1963, 5, 1 + n)) for n in range(4)]
    barrier = threading.Barrier(2)
    attempted: list[list[str]] = []
    write = window_signups.notify_batch

    def write_after_both_chose(messages):
        messages = list(messages)
        attempted.append([m.key for m in messages])
        barrier.wait(timeout=10)
        return write(messages)

    monkeypatch.setattr(window_signups, "notify_batch", write_after_both_chose)

    def run(_):
        try:
            return run_at(OPENS - timedelta(minutes=5))
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        first, second = pool.map(run, range(2))
    assert len(attempted) == 2 and sorted(attempted[0]) == sorted(attempted[1])
    assert len(attempted[0]) == len(people)
    assert sorted(first + second) == sorted(attempted[0])
    assert len(notices()) == len(people)


@pytest.mark.django_db
def test_signups_go_with_the_purge_once_their_campaign_has_closed():
    closed = campaign_opening_at(OPENS - timedelta(days=10))
    BookingWindow.objects.create(  # a staggered window closing after the campaign's own date
        campaign=closed, opens_at=OPENS - timedelta(days=8), closes_at=OPENS + timedelta(hours=1)
    )
    running = campaign_opening_at()
    gone, kept = signup(closed), signup(running)
    with time_machine.travel(OPENS, tick=False):
        assert retention.anonymise_closed_campaigns() == 0
        assert WindowSignup.objects.count() == 2  # the staggered window is still open
    with time_machine.travel(OPENS + timedelta(hours=2), tick=False):
        retention.anonymise_closed_campaigns()
    assert list(WindowSignup.objects.all()) == [kept]
    assert not WindowSignup.objects.filter(pk=gone.pk).exists()


@pytest.mark.django_db
def test_the_purge_command_deletes_the_signups_of_closed_campaigns():
    closed = campaign_opening_at(OPENS - timedelta(days=10))
    signup(closed)
    signup(campaign_opening_at())
    with time_machine.travel(OPENS, tick=False):
        out = StringIO()
        call_command("purge_personal_data", "--dry-run", stdout=out)
        assert WindowSignup.objects.count() == 2
        call_command("purge_personal_data", stdout=StringIO())
    assert WindowSignup.objects.count() == 1


def test_beat_sends_the_notices_every_minute():
    [entry] = [
        e
        for e in settings.CELERY_BEAT_SCHEDULE.values()
        if e["task"] == "campaigns.tasks.send_window_notices"
    ]
    assert entry["schedule"] <= 60
