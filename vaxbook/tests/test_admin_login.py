"""The officials' login: failed guesses are bounded per address and user name as Django reads
the name (spelled any way that logs in), a stranger elsewhere cannot lock an official out, and
accounts with a second factor need it."""

from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from bookings.tests.clock import start_of_the_limits_windows

pytestmark = pytest.mark.django_db

LOGIN = reverse("admin-login")
RIGHT = "the-right-password-1"
# Each of these logs in as "official" (Django's login form strips spaces and applies NFKC),
# so each must count as a guess at "official".
SPELLINGS = [
    "official",
    " official",
    "official\t",
    "\u00a0official",
    "ｏｆｆｉｃｉａｌ",  # full-width letters
    "official\u3000",  # ideographic space
]


@pytest.fixture
def tight(settings):
    settings.VAXBOOK_ADMIN_LOGIN_FAILURES = 3
    settings.VAXBOOK_THROTTLE_WINDOW_SECONDS = 600
    with start_of_the_limits_windows():  # all of a test's tries in one window
        yield


@pytest.fixture
def official(django_user_model):
    return django_user_model.objects.create_superuser("official", password=RIGHT)


def _login(client: Client, username: str, password: str):
    return client.post(LOGIN, {"username": username, "password": password})


def _logged_in(client: Client) -> bool:
    return client.get(reverse("admin:index")).status_code == 200


def test_every_spelling_that_logs_in_is_the_same_account(official):
    for spelling in SPELLINGS:
        client = Client()
        assert _login(client, spelling, RIGHT).status_code == 302, repr(spelling)
        assert _logged_in(client)


def test_guesses_under_other_spellings_count_against_the_same_limit(tight, official):
    client = Client(REMOTE_ADDR="10.4.4.4")
    codes = [_login(client, spelling, "wrong").status_code for spelling in SPELLINGS[1:4]]
    assert codes == [200, 200, 429], "the third failure, in whatever spelling, locks"
    # more guesses, in any spelling, and even the right password wait
    for spelling in SPELLINGS:
        assert _login(client, spelling, "wrong").status_code == 429
    locked = _login(client, "official", RIGHT)
    assert locked.status_code == 429
    assert 0 < int(locked["Retry-After"]) <= 600
    assert not _logged_in(client)


def test_a_stranger_elsewhere_cannot_lock_an_official_out(tight, official):
    stranger = Client(REMOTE_ADDR="203.0.113.9")
    for _ in range(10):
        _login(stranger, "official", "wrong")
    assert _login(stranger, "official", RIGHT).status_code == 429

    at_the_office = Client(REMOTE_ADDR="10.4.4.4")
    assert _login(at_the_office, "official", RIGHT).status_code == 302
    assert _logged_in(at_the_office)


def test_the_lock_lifts_after_the_window(tight, official):
    client = Client(REMOTE_ADDR="10.4.4.4")
    for _ in range(3):
        _login(client, "official", "wrong")
    assert _login(client, "official", RIGHT).status_code == 429
    with time_machine.travel(timezone.now() + timedelta(seconds=601)):
        assert _login(client, "official", RIGHT).status_code == 302


@pytest.mark.usefixtures("one_limits_window")
def test_one_address_spraying_many_user_names_is_bounded(settings, official):
    settings.VAXBOOK_THROTTLE_PER_ADDRESS = 5
    client = Client(REMOTE_ADDR="10.7.7.7")
    codes = [_login(client, f"user{n}", "wrong").status_code for n in range(6)]
    assert codes == [200] * 5 + [429]
    assert _login(Client(REMOTE_ADDR="10.7.7.8"), "official", RIGHT).status_code == 302


@pytest.mark.django_db(transaction=True)
def test_a_parallel_burst_of_guesses_gets_no_more_tries_than_the_limit(
    tight, official, monkeypatch
):
    """django-axes checks the lock before the slow password hash and counts the failure after
    it, so guesses sent all at once were all checked (and the right one among them logged in,
    under a 429-looking crowd); each try is now counted before its password is."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from django.contrib.auth.base_user import AbstractBaseUser
    from django.db import connection

    checked = []
    real_check = AbstractBaseUser.check_password

    def counted_check(user, raw):  # the real check, counted
        checked.append(raw)
        return real_check(user, raw)

    monkeypatch.setattr(AbstractBaseUser, "check_password", counted_check)
    racers = 30
    barrier = threading.Barrier(racers)

    def guess(n: int) -> int:
        try:
            client = Client(REMOTE_ADDR="203.0.113.66")
            barrier.wait()
            password = RIGHT if n == racers - 1 else f"wrong-{n}"
            return _login(client, "official", password).status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(racers) as pool:
        codes = list(pool.map(guess, range(racers)))
    assert len(checked) <= 3, f"{len(checked)} passwords checked, the limit is 3"
    assert codes.count(429) >= racers - 3
