"""E-mail, for people who give an address on the identity step: the confirmation, a rejection
and a cancellation go there too, through a real SMTP server the test starts (aiosmtpd), in the
booking's language; an address the server refuses fails at once, a server that is down is
tried again."""

import socket
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller
from django.test import Client

from bookings import services
from bookings.models import Booking
from bookings.tests.factories import BookingFactory
from bookings.tests.flow import token_of
from clinics.tests.factories import SlotFactory, UserFactory
from vaxbook.notifications.models import Notification
from vaxbook.notifications.services import deliver
from vaxbook.roles import OFFICIALS, ensure_roles

RRN = "620714-1234567"


class Mailbox:
    """aiosmtpd's handler: keeps what it received; refuses the addresses in ``refuse``."""

    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], object]] = []
        self.refuse: set[str] = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address in self.refuse:
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def mailbox(settings):
    handler = Mailbox()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_TIMEOUT = 2
    settings.DEFAULT_FROM_EMAIL = "vaxbook <noreply@vaxbook.example>"
    yield handler
    controller.stop()


def _book_through_the_pages(slot, *, email: str, language: str = "ko") -> Booking:
    client = Client(headers={"accept-language": language})
    start = client.get(f"/book/{slot.campaign.slug}/")
    assert start.status_code == 200 and "email" in start.context["form"].fields
    response = client.post(
        start.wsgi_request.path,
        {"name": "Kim Minsu", "rrn": RRN, "phone": "010-1234-5678", "email": email},
    )
    assert response.status_code == 302, response.context["form"].errors
    choose = response["Location"]
    response = client.post(choose, {"slot": slot.pk, "token": token_of(choose)})
    assert response.status_code == 302
    review = response["Location"]
    assert email in client.get(review).content.decode()
    assert client.post(review, {"token": token_of(review)}).status_code == 302
    return Booking.objects.get()


@pytest.mark.django_db
def test_the_confirmation_goes_by_email_too_when_an_address_is_given(mailbox):
    booking = _book_through_the_pages(SlotFactory(capacity=2), email="kim@example.org")
    assert booking.email == "kim@example.org"
    services.confirm_booking(booking.pk)
    booking.refresh_from_db()

    email = Notification.objects.get(booking=booking, channel=Notification.Channel.EMAIL)
    assert email.key == f"booking:{booking.pk}:confirmed:email"
    assert Notification.objects.filter(booking=booking, channel="sms", kind="confirmed").exists()
    sent = deliver(email.key)
    assert sent.status == Notification.Status.SENT

    [(sender, recipients, message)] = mailbox.received
    assert sender == "noreply@vaxbook.example" and recipients == ["kim@example.org"]
    assert message["Subject"].strip() == "예방접종 예약이 확정되었습니다"  # Korean by default
    assert message["Message-ID"] == sent.provider_id
    body = message.get_content()
    assert booking.code in body and "1234567" not in body


@pytest.mark.django_db
def test_a_cancellation_and_a_rejection_are_emailed_in_the_language_of_the_booking(mailbox):
    slot = SlotFactory(capacity=1)
    first = BookingFactory(slot=slot, email="first@example.org", language="en")
    second = BookingFactory(slot=slot, email="second@example.org", language="en")
    services.confirm_booking(first.pk)
    [confirmed] = Notification.objects.filter(channel="email")
    assert deliver(confirmed.key).status == Notification.Status.SENT
    services.confirm_booking(second.pk)  # full: rejected
    services.cancel_booking(first.pk)
    for email in Notification.objects.filter(channel="email").exclude(pk=confirmed.pk):
        assert deliver(email.key).status == Notification.Status.SENT
    subjects = sorted((to[0], m["Subject"]) for _, to, m in mailbox.received)
    assert subjects == [
        ("first@example.org", "Your vaccination booking is cancelled"),
        ("first@example.org", "Your vaccination booking is confirmed"),
        ("second@example.org", "Your vaccination booking did not go through"),
    ]


@pytest.mark.django_db
def test_no_email_without_an_address(mailbox):
    booking = BookingFactory(slot=SlotFactory(capacity=1), email="")
    services.confirm_booking(booking.pk)
    assert not Notification.objects.filter(channel="email").exists()


@pytest.mark.django_db
def test_an_address_the_server_refuses_fails_at_once(mailbox):
    mailbox.refuse.add("nobody@example.org")
    booking = BookingFactory(slot=SlotFactory(capacity=1), email="nobody@example.org")
    services.confirm_booking(booking.pk)
    failed = deliver(Notification.objects.get(channel="email").key)
    assert failed.status == Notification.Status.FAILED and "550" in failed.last_error
    assert not mailbox.received


@pytest.mark.django_db
def test_a_mail_server_that_is_down_is_tried_again(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", _free_port()  # nobody listens
    settings.EMAIL_USE_TLS = False
    booking = BookingFactory(slot=SlotFactory(capacity=1), email="kim@example.org")
    services.confirm_booking(booking.pk)
    later = deliver(Notification.objects.get(channel="email").key)
    assert later.status == Notification.Status.QUEUED and later.next_attempt_at
    assert Booking.objects.get(pk=booking.pk).status == Booking.Status.CONFIRMED


@pytest.mark.django_db
def test_officials_see_that_there_is_an_address_masked_as_phones_are(client):
    booking = BookingFactory(email="kim@example.org")
    official = UserFactory(is_staff=True)
    official.groups.add(ensure_roles()[OFFICIALS])
    client.force_login(official)
    page = client.get(f"/admin/bookings/booking/{booking.pk}/change/")
    assert page.status_code == 200
    assert "k***@example.org" in page.content.decode()
    assert "kim@example.org" not in page.content.decode()
