"""SOLAPI (solapi.com), a Korean provider: texts to phones as SMS or LMS.

The payloads, their validation and the request signature are SOLAPI's SDK's (``solapi``: its
``Message``, ``SendMessageRequest``, ``GetMessagesRequest`` and response models, its
``Authenticator``; ``SolapiMessageService.base_url`` is pointed at ``VAXBOOK_SOLAPI_URL``). The
HTTP call is ours, because the SDK's fetcher (5.0.3) cannot be given a timeout (httpx's default
applies) and turns every HTTP error into a bare ``Exception`` without its status, so that a
provider that is down and a number it refuses would look alike; the two must be told apart (the
first is tried again, the second never).

What is guaranteed (``deliver`` relies on it): each message carries our outbox key in its
``customFields``; ``already_sent`` asks SOLAPI for the messages sent from our number to the
recipient since the message was written, and answers with the provider's id of the one that
carries the key. A request that reached SOLAPI is therefore never made a second time by a later
attempt, provided SOLAPI has recorded it by the time that attempt asks, which the sending lease
(``VAXBOOK_MESSAGE_SENDING_LEASE``, well above the timeout) and the retry backoff leave it
minutes to do. If SOLAPI cannot be asked, nothing is sent (a temporary failure).
"""

import hashlib
from datetime import timedelta

import httpx
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from pydantic import ValidationError
from solapi.lib.authenticator import Authenticator
from solapi.model.message_type import MessageType
from solapi.model.request.message import Message
from solapi.model.request.messages.get_messages import GetMessagesRequest
from solapi.model.request.send_message_request import SendMessageRequest
from solapi.model.response.messages.get_messages import GetMessagesResponse
from solapi.model.response.send_message_response import SendMessageResponse
from solapi.services.message_service import SolapiMessageService

from vaxbook.notifications.channels import SendFailed
from vaxbook.notifications.models import Notification

SMS_MAX_BYTES = 90  # one SMS: 90 bytes of EUC-KR (a Hangul syllable is two)
KEY_FIELD = "vaxbook_key"  # the customFields entry that carries our outbox key
KEY_FIELD_MAX = 100  # SOLAPI keeps custom field values short; longer keys go as a digest
# Statuses that mean "not now", not "never".
TEMPORARY_STATUSES = {408, 425, 429}
# How far back to look for a message the provider may have: the provider's clock is not ours.
CLOCK_MARGIN = timedelta(minutes=10)
MAX_PAGES = 20


def message_type_for(text: str) -> MessageType:
    """SMS when the text fits one (90 bytes in EUC-KR, the carriers' encoding), else LMS.

    Decided here, not left to the provider's guess (``autoTypeDetect`` is off), so the outbox
    records what was paid for. A character EUC-KR cannot write (an emoji, a rare Hangul
    syllable) cannot go in an SMS: LMS."""
    try:
        size = len(text.encode("euc-kr"))
    except UnicodeEncodeError:
        return MessageType.LMS
    return MessageType.SMS if size <= SMS_MAX_BYTES else MessageType.LMS


def key_field(key: str) -> str:
    if len(key) <= KEY_FIELD_MAX:
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


class SolapiChannel:
    """Texts through SOLAPI. Errors: 5xx, 408/429, a timeout (``VAXBOOK_SOLAPI_TIMEOUT``) or no
    connection are temporary ``SendFailed``; any other 4xx, or a message SOLAPI did not accept
    (a number it refuses), is permanent."""

    def __init__(self) -> None:
        for name in (
            "VAXBOOK_SOLAPI_API_KEY",
            "VAXBOOK_SOLAPI_API_SECRET",
            "VAXBOOK_SOLAPI_SENDER",
        ):
            if not getattr(settings, name):
                raise ImproperlyConfigured(f"{name} must be set for VAXBOOK_SMS_BACKEND=solapi.")
        self.service = SolapiMessageService(
            settings.VAXBOOK_SOLAPI_API_KEY, settings.VAXBOOK_SOLAPI_API_SECRET
        )
        self.service.base_url = settings.VAXBOOK_SOLAPI_URL.rstrip("/")
        self.sender = settings.VAXBOOK_SOLAPI_SENDER
        self.timeout = settings.VAXBOOK_SOLAPI_TIMEOUT

    def send(self, notification: Notification) -> str:
        message_type = message_type_for(notification.text)
        notification.message_type = message_type.value
        request = SendMessageRequest(
            messages=[
                Message(
                    from_=self.sender,
                    to=notification.recipient,
                    text=notification.text,
                    type=message_type,
                    auto_type_detect=False,
                    custom_fields={KEY_FIELD: key_field(notification.key)},
                )
            ],
            show_message_list=True,
        )
        answer = self._parse(
            SendMessageResponse,
            self._call(
                "POST",
                "/messages/v4/send-many/detail",
                json=request.model_dump(exclude_none=True, by_alias=True),
            ),
        )
        if answer.failed_message_list:
            refused = answer.failed_message_list[0]
            raise SendFailed(
                f"SOLAPI did not accept it: {refused.status_code} {refused.status_message}",
                temporary=False,
            )
        if not answer.message_list:
            raise SendFailed("SOLAPI accepted no message and refused none")
        return answer.message_list[0].message_id

    def already_sent(self, notification: Notification) -> str | None:
        wanted = key_field(notification.key)
        query = GetMessagesRequest(
            from_=self.sender.replace("-", ""),
            to=notification.recipient.replace("-", ""),
            start_date=(notification.created_at - CLOCK_MARGIN).isoformat(),
            limit=100,
        )
        params = query.model_dump(exclude_none=True, by_alias=True)
        for _page in range(MAX_PAGES):
            answer = self._parse(
                GetMessagesResponse, self._call("GET", "/messages/v4/list-old", params=params)
            )
            for message_id, message in answer.message_list.items():
                if (message.custom_fields or {}).get(KEY_FIELD) == wanted:
                    return message.message_id or message_id
            if not answer.next_key:
                return None
            params = {**params, "startKey": answer.next_key}
        raise SendFailed(f"SOLAPI listed more than {MAX_PAGES} pages of messages to this number")

    def _call(self, method: str, path: str, *, json=None, params=None) -> dict:
        auth = self.service.auth_info
        headers = {
            "Authorization": Authenticator(auth["api_key"], auth["api_secret"]).get_auth_info(),
            "Content-Type": "application/json",
        }
        try:
            with httpx.Client(timeout=self.timeout) as client:
                response = client.request(
                    method, self.service.base_url + path, headers=headers, json=json, params=params
                )
        except httpx.TimeoutException:
            raise SendFailed(f"SOLAPI did not answer within {self.timeout:g} s") from None
        except httpx.HTTPError as error:
            raise SendFailed(f"SOLAPI unreachable: {type(error).__name__}") from None
        if response.status_code >= 500 or response.status_code in TEMPORARY_STATUSES:
            raise SendFailed(f"SOLAPI answered {response.status_code}")
        if response.status_code >= 400:
            raise SendFailed(
                f"SOLAPI refused it: {response.status_code} {_error_of(response)}",
                temporary=False,
            )
        try:
            return response.json()
        except ValueError:
            raise SendFailed(f"SOLAPI answered {response.status_code} without JSON") from None

    @staticmethod
    def _parse(model, data: dict):
        try:
            return model.model_validate(data)
        except ValidationError as error:
            raise SendFailed(
                f"SOLAPI's answer was not understood ({error.error_count()} errors)"
            ) from None


def _error_of(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    return f"{body.get('errorCode', '')} {body.get('errorMessage', '')}".strip()
