"""Twilio Programmable Messaging: one SMS through the account's Messages resource."""

from __future__ import annotations

import pydantic

from fusion_stream.envelope import Job, SendResult
from fusion_stream.errors import ConfigurationError, excerpt
from providers.http import HttpProvider, HttpRequest, HttpResponse, basic_auth
from providers.sms._common import phone, sender, text


class TwilioSettings(pydantic.BaseModel):
    """Credentials and defaults of the Twilio adapter."""

    model_config = pydantic.ConfigDict(frozen=True)

    #: Account SID (``AC…``): in the URL, and the Basic-auth user unless ``api_key_sid`` is set
    account_sid: str
    #: the account's Auth Token, or the secret of ``api_key_sid``
    auth_token: pydantic.SecretStr
    #: API key SID (``SK…``) used as the Basic-auth user instead of the account SID
    api_key_sid: str | None = None
    #: default ``From`` (number, short code or alphanumeric ID) when the event has no senderId
    from_number: str | None = None
    #: Messaging Service (``MG…``); when set it is sent instead of ``From``
    messaging_service_sid: str | None = None
    #: URL Twilio POSTs status changes to (DLR)
    status_callback: str | None = None
    base_url: str = "https://api.twilio.com"


class TwilioSms(HttpProvider[TwilioSettings]):
    """Sends an SMS with ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json``.

    Reference: https://www.twilio.com/docs/messaging/api/message-resource (form fields ``To``
    E.164, ``Body``, ``From`` or ``MessagingServiceSid``, ``StatusCallback``; HTTP Basic
    ``AccountSid:AuthToken``; 201 with ``sid``; errors ``{"code", "message", "status"}``).
    Error classes from https://www.twilio.com/docs/api/errors. Not confirmed (catalog ⚠, not
    used here): the ``ValidityPeriod`` maximum and ``SendAt`` needing a Messaging Service.
    Throughput is per sender (about 1 segment/s for a US long code), not per account, so no
    ``rate_per_second`` is declared.
    """

    name = "twilio_sms"
    channels = ("sms", "sms.otp")
    task = "sendSMS"
    settings_model = TwilioSettings
    max_body_length = 1600
    supports_unicode = True
    error_codes = {
        "20429": "transient",  # too many requests; never processed, always safe to retry
        "21611": "transient",  # From queue over 10 h: slow down
        "30001": "transient",  # queue overflow
        "30008": "transient",  # unknown error
        "20003": "permanent",  # authentication
        "21211": "permanent",  # invalid To
        "21408": "permanent",  # geo permission not enabled
        "21606": "permanent",  # From not SMS-capable
        "21608": "permanent",  # unverified number (trial account)
        "21610": "permanent",  # recipient unsubscribed (STOP)
        "21612": "permanent",  # To unroutable
        "21614": "permanent",  # not a mobile number
        "10001": "permanent",  # account not active
        "30002": "permanent",  # account suspended
        "30003": "permanent",  # unreachable handset (for this message)
        "30004": "permanent",  # blocked
        "30005": "permanent",  # unknown / inactive destination
        "30006": "permanent",  # landline or unreachable carrier
        "30007": "permanent",  # carrier filtering
    }

    error_body_fields = ("code", "message")

    def build_request(self, job: Job) -> HttpRequest:
        settings = self.settings
        form = {"To": phone(job).e164, "Body": text(job, max_length=self.max_body_length)}
        if settings.messaging_service_sid:
            form["MessagingServiceSid"] = settings.messaging_service_sid
        else:
            origin = sender(job, settings.from_number)
            if not origin:
                raise ConfigurationError(
                    f"provider {self.name!r}: set 'from_number' or 'messaging_service_sid'"
                )
            form["From"] = origin
        if settings.status_callback:
            form["StatusCallback"] = settings.status_callback
        user = settings.api_key_sid or settings.account_sid
        account = f"{settings.base_url.rstrip('/')}/2010-04-01/Accounts/{settings.account_sid}"
        return HttpRequest(
            "POST",
            f"{account}/Messages.json",
            data=form,
            headers={
                "Authorization": basic_auth(user, settings.auth_token.get_secret_value()),
                "Accept": "application/json",
            },
        )

    def parse_response(self, job: Job, response: HttpResponse) -> SendResult:
        body = response.json()
        if not isinstance(body, dict) or not body.get("sid") or body.get("error_code"):
            code = (body.get("error_code") or body.get("code")) if isinstance(body, dict) else None
            raise self.code_error(
                code, "answer without a message sid", status=response.status, body=response.text
            )
        return SendResult(
            provider=self.name,
            message_id=str(body["sid"]),
            status=response.status,
            response=excerpt(response.text, self.context.settings.response_excerpt),
            details={"status": body.get("status")},
        )
