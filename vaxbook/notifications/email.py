"""E-mail, for people who gave an address: through Django's e-mail backend (``EMAIL_*``
settings, read from ``VAXBOOK_EMAIL_*``).

What is guaranteed: at least once, not at most once. SMTP cannot be asked afterwards whether a
server took a message, so ``already_sent`` cannot know, and a worker stopped after the server
accepted a message but before the outbox recorded it sends it again once its lease is over.
The ``Message-ID`` is derived from the outbox key, so the copies are one message to a mail
client that removes duplicates by it, and the same e-mail to the reader in any case.
"""

import hashlib
import smtplib
from urllib.parse import urlparse

from django.conf import settings
from django.core.mail import EmailMessage

from vaxbook.notifications.channels import SendFailed
from vaxbook.notifications.models import Notification


def message_id(key: str) -> str:
    domain = urlparse(settings.VAXBOOK_SITE_URL).hostname or "vaxbook.invalid"
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@{domain}>"


class EmailChannel:
    """Errors: a 4xx answer, no connection or a timeout (``EMAIL_TIMEOUT``) are temporary
    ``SendFailed``; a 5xx answer (an address the server refuses) is permanent."""

    def send(self, notification: Notification) -> str:
        identifier = message_id(notification.key)
        email = EmailMessage(
            subject=notification.subject,
            body=notification.text,
            to=[notification.recipient],
            headers={"Message-ID": identifier},
        )
        try:
            email.send()
        except smtplib.SMTPRecipientsRefused as refused:
            codes = [code for code, _reason in refused.recipients.values()]
            raise SendFailed(
                f"the mail server refused the address ({', '.join(map(str, codes))})",
                temporary=any(code < 500 for code in codes),
            ) from None
        except smtplib.SMTPResponseException as error:
            raise SendFailed(
                f"the mail server answered {error.smtp_code}", temporary=error.smtp_code < 500
            ) from None
        except (smtplib.SMTPException, OSError) as error:
            raise SendFailed(f"the mail server is unreachable: {type(error).__name__}") from None
        return identifier

    def already_sent(self, notification: Notification) -> str | None:
        return None  # SMTP cannot tell: see the module's docstring
