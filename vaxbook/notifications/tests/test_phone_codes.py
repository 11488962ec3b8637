"""One-time codes sent to a phone: the code texted is the one that unlocks, once, within its
lifetime and its tries; sending is limited per phone and per address; and the text goes out
ahead of the other messages waiting."""

import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
import time_machine
from django.db import transaction
from django.utils import translation

from vaxbook.notifications import phone_codes
from vaxbook.notifications.models import Notification
from vaxbook.notifications.phone_codes import Purpose, TooManyCodes, check_code, issue_code
from vaxbook.notifications.services import notify

PHONE = "010-1234-5678"
BOOKING = Purpose.BOOKING


def _issue(phone=PHONE, purpose=BOOKING, *, address="203.0.113.7", language="ko") -> str:
    """Issue a code and return the one the outbox text carries."""
    issue_code(phone, purpose, language=language, address=address)
    message = Notification.objects.filter(kind="phone_code", recipient=phone).first()
    [code] = re.findall(r"\b\d{6}\b", message.text)
    return code


def _other(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


@pytest.mark.django_db
def test_the_code_texted_unlocks_once():
    code = _issue()
    message = Notification.objects.get(kind="phone_code")
    assert message.urgent and message.recipient == PHONE and message.booking is None
    assert message.channel == Notification.Channel.SMS
    assert check_code(PHONE, BOOKING, code)
    assert not check_code(PHONE, BOOKING, code)  # used


@pytest.mark.django_db
def test_the_text_holds_the_code_its_purpose_and_lifetime_only(settings):
    settings.VAXBOOK_PHONE_CODE_TTL = 300
    _issue(language="en")
    text = Notification.objects.get(kind="phone_code").text
    assert re.findall(r"\d+", text) == [re.search(r"\d{6}", text).group(), "5"]
    with translation.override("en"):
        assert str(Purpose.BOOKING.label) in text
    assert "010" not in text and "5678" not in text and "http" not in text


@pytest.mark.django_db
def test_nothing_in_clear_in_the_cache():
    from django.core.cache import cache

    code = _issue()
    client = cache._cache.get_client()
    for key in client.keys("*"):
        stored = key + (client.get(key) or b"")
        assert code.encode() not in stored and b"5678" not in stored


@pytest.mark.django_db
def test_a_code_is_for_its_phone_and_purpose():
    code = _issue()
    assert not check_code("010-1234-5679", BOOKING, code)
    assert not check_code(PHONE, Purpose.WINDOW_OPENS, code)
    assert check_code(PHONE, BOOKING, code)


@pytest.mark.django_db
def test_a_wrong_code_is_refused_and_too_many_void_the_code(settings):
    settings.VAXBOOK_PHONE_CODE_TRIES = 3
    code = _issue()
    assert not check_code(PHONE, BOOKING, _other(code))
    assert not check_code(PHONE, BOOKING, "abc")
    assert not check_code(PHONE, BOOKING, "")
    assert not check_code(PHONE, BOOKING, code)  # three wrong tries: void


@pytest.mark.django_db
def test_fewer_wrong_tries_than_the_limit_leave_the_code_good(settings):
    settings.VAXBOOK_PHONE_CODE_TRIES = 3
    code = _issue()
    assert not check_code(PHONE, BOOKING, _other(code))
    assert not check_code(PHONE, BOOKING, _other(_other(code)))
    assert check_code(PHONE, BOOKING, code)


@pytest.mark.django_db
def test_a_code_expires(settings):
    settings.VAXBOOK_PHONE_CODE_TTL = 300
    with time_machine.travel(time.time(), tick=False) as clock:
        code = _issue()
        clock.shift(299)
        assert not check_code(PHONE, BOOKING, _other(code))  # still alive: counted, refused
        clock.shift(2)
        assert not check_code(PHONE, BOOKING, code)


@pytest.mark.django_db
def test_a_new_code_replaces_the_old_one_and_its_tries(settings):
    settings.VAXBOOK_PHONE_CODE_TRIES = 2
    first = _issue()
    assert not check_code(PHONE, BOOKING, _other(first))
    Notification.objects.all().delete()
    second = _issue()
    if second != first:
        assert not check_code(PHONE, BOOKING, first)  # counts one try against the new code
    assert check_code(PHONE, BOOKING, second)


@pytest.mark.django_db
def test_codes_are_limited_per_phone_and_purpose(settings):
    settings.VAXBOOK_PHONE_CODE_SENDS = 2
    with time_machine.travel(time.time(), tick=False) as clock:
        for n in range(2):
            issue_code(PHONE, Purpose.WINDOW_OPENS, language="ko", address=f"203.0.113.{n}")
        with pytest.raises(TooManyCodes) as refused:
            issue_code(PHONE, Purpose.WINDOW_OPENS, language="ko", address="203.0.113.9")
        assert refused.value.limit == "phone" and 0 < refused.value.retry_after <= 600
        assert Notification.objects.filter(kind="phone_code").count() == 2
        # a stranger's sign-ups for this phone do not use up the codes its owner needs to book
        issue_code(PHONE, BOOKING, language="ko", address="203.0.113.9")
        issue_code("010-9999-0000", Purpose.WINDOW_OPENS, language="ko", address="203.0.113.9")
        clock.shift(settings.VAXBOOK_THROTTLE_WINDOW_SECONDS)
        issue_code(PHONE, Purpose.WINDOW_OPENS, language="ko", address="203.0.113.9")


@pytest.mark.django_db
def test_a_phone_gets_only_so_many_codes_a_day(settings):
    settings.VAXBOOK_PHONE_CODE_SENDS_PER_DAY = 3
    # mid-day (the day's count starts at 00:00 UTC): hours left of the day, whenever this runs
    midday = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    with time_machine.travel(midday, tick=False) as clock:
        for n in range(3):
            issue_code(PHONE, Purpose.WINDOW_OPENS, language="ko", address=f"203.0.113.{n}")
            clock.shift(settings.VAXBOOK_THROTTLE_WINDOW_SECONDS)  # past the short window
        with pytest.raises(TooManyCodes) as refused:
            issue_code(PHONE, Purpose.WINDOW_OPENS, language="ko", address="203.0.113.9")
        assert refused.value.limit == "phone" and refused.value.retry_after > 600
        assert Notification.objects.filter(kind="phone_code").count() == 3


@pytest.mark.usefixtures("one_limits_window")
@pytest.mark.django_db
def test_codes_are_limited_per_address(settings):
    settings.VAXBOOK_PHONE_CODE_SENDS_PER_ADDRESS = 2
    for n in range(2):
        issue_code(f"010-1234-000{n}", BOOKING, language="ko", address="203.0.113.7")
    with pytest.raises(TooManyCodes) as refused:
        issue_code("010-1234-0009", BOOKING, language="ko", address="203.0.113.7")
    assert refused.value.limit == "address" and refused.value.retry_after > 0
    assert not Notification.objects.filter(recipient="010-1234-0009").exists()
    issue_code("010-1234-0009", BOOKING, language="ko", address="198.51.100.1")


def test_settings_have_their_documented_defaults():
    from django.conf import settings

    assert settings.VAXBOOK_PHONE_CODE_TTL == 300
    assert settings.VAXBOOK_PHONE_CODE_TRIES == 5
    assert settings.VAXBOOK_PHONE_CODE_SENDS_PER_DAY == 10
    assert settings.VAXBOOK_PHONE_CODE_SENDS_PER_ADDRESS == 20
    assert [t.limit for t in phone_codes.sends_per_phone("booking")] == [
        settings.VAXBOOK_PHONE_CODE_SENDS,
        settings.VAXBOOK_PHONE_CODE_SENDS_PER_DAY,
    ]


@pytest.mark.django_db(transaction=True)
def test_a_code_is_sent_ahead_of_the_messages_waiting(start_worker):
    # twenty ordinary messages wait in the broker, then a code is asked for
    for n in range(20):
        with transaction.atomic():
            notify(
                kind=Notification.Kind.PHONE_CODE,
                recipient=f"010-5555-{n:04d}",
                key=f"waiting:{n}",
                context={"code": "000000", "purpose": "", "minutes": 5},
                language="ko",
            )
    issue_code(PHONE, BOOKING, language="ko", address="203.0.113.7")
    worker = start_worker()
    deadline = time.monotonic() + 60
    while Notification.objects.exclude(status=Notification.Status.SENT).exists():
        assert worker.poll() is None and time.monotonic() < deadline, "not all sent"
        time.sleep(0.2)
    order = list(Notification.objects.order_by("sent_at").values_list("recipient", flat=True))
    assert order[0] == PHONE


def _check_at_once(code: str, threads: int = 16) -> list[bool]:
    """``threads`` checks of ``code`` released at the same moment, each on its own connection."""
    barrier = threading.Barrier(threads)

    def one(_):
        barrier.wait()
        return check_code(PHONE, BOOKING, code)

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, range(threads)))


@pytest.mark.django_db
@pytest.mark.parametrize("protected", [True, False])
def test_a_code_checked_many_times_at_once_unlocks_once(monkeypatch, protected):
    from django.core.cache import caches

    code = _issue()
    backend = type(caches["default"])
    if not protected:  # the control: a delete that does not say whether it removed the key
        real_delete = backend.delete
        monkeypatch.setattr(backend, "delete", lambda self, key: real_delete(self, key) or True)
    # Every check has read the live code before any goes on to use it up: the race the
    # protection is for, every time (left to the scheduler, a busy machine could run the checks
    # one after the other, and the control then let only one through).
    code_key, all_read = phone_codes._code_key(PHONE, BOOKING), threading.Barrier(16)
    real_get = backend.get

    def get_then_wait_for_the_others(self, key, *args, **kwargs):
        value = real_get(self, key, *args, **kwargs)
        if key == code_key:
            all_read.wait(timeout=30)
        return value

    monkeypatch.setattr(backend, "get", get_then_wait_for_the_others)
    results = _check_at_once(code)
    if protected:
        assert results.count(True) == 1
    else:
        assert results.count(True) > 1, "the control should let more than one through"


@pytest.mark.django_db
def test_wrong_codes_at_once_are_compared_at_most_tries_times(settings, monkeypatch):
    settings.VAXBOOK_PHONE_CODE_TRIES = 3
    code = _issue()
    compared = []
    real = phone_codes.constant_time_compare
    monkeypatch.setattr(
        phone_codes, "constant_time_compare", lambda a, b: compared.append(1) or real(a, b)
    )
    assert _check_at_once(_other(code)) == [False] * 16
    assert len(compared) == 3
    assert not check_code(PHONE, BOOKING, code)  # void
