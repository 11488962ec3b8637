"""Where a message goes out: one small interface, the implementation chosen by settings.

``VAXBOOK_SMS_BACKEND``: ``console`` (development: the log and ``/dev/outbox/``; refused in
production) or ``solapi`` (SOLAPI's SDK: SMS, LMS). E-mail goes through Django's e-mail
backend (``EMAIL_*`` settings).
"""

import logging
from typing import Protocol

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from vaxbook.notifications.models import Notification, mask_phone

logger = logging.getLogger(__name__)


class SendFailed(Exception):
    """The channel did not take the message. ``temporary``: worth trying again later (the
    provider answered 5xx, timed out, was unreachable); otherwise it never will be (a number
    the provider refuses)."""

    def __init__(self, message: str, *, temporary: bool = True):
        super().__init__(message)
        self.temporary = temporary


class Channel(Protocol):
    def send(self, notification: Notification) -> str:
        """Hand the message over; returns the provider's id for it. Raises ``SendFailed``."""

    def already_sent(self, notification: Notification) -> str | None:
        """After a worker stopped in the middle of ``send``: the provider's id if the provider
        has this message (it must not be sent again), None if it has not. Raises
        ``SendFailed`` when the provider cannot tell."""


class ConsoleChannel:
    """Development: the message goes to the log; ``/dev/outbox/`` shows the outbox."""

    def send(self, notification: Notification) -> str:
        logger.info(
            "message %s to %s:\n%s",
            notification.kind,
            mask_phone(notification.recipient),
            notification.text,
        )
        return f"console-{notification.pk}"

    def already_sent(self, notification: Notification) -> str | None:
        return None


SMS_BACKENDS = {
    "console": "vaxbook.notifications.channels.ConsoleChannel",
    "solapi": "vaxbook.notifications.solapi.SolapiChannel",
}


def channel_for(notification: Notification) -> Channel:
    if notification.channel == Notification.Channel.EMAIL:
        return import_string("vaxbook.notifications.email.EmailChannel")()
    backend = settings.VAXBOOK_SMS_BACKEND
    if backend not in SMS_BACKENDS:
        raise ImproperlyConfigured(
            f"VAXBOOK_SMS_BACKEND={backend!r}: use one of {list(SMS_BACKENDS)}"
        )
    return import_string(SMS_BACKENDS[backend])()
