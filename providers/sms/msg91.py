"""MSG91 (India): Flow API for DLT templates, SendOTP v5 for Indian OTPs, v2 send otherwise."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import pydantic

from fusion_stream.envelope import Job, SendResult
from fusion_stream.errors import ConfigurationError, FusionError, excerpt
from fusion_stream.sms.segments import analyse
from providers.http import HttpProvider, HttpRequest, HttpResponse
from providers.sms._common import phone, sender, text

Api = Literal["otp", "flow", "v2"]


class Msg91Settings(pydantic.BaseModel):
    """Credentials and defaults of the MSG91 adapter."""

    model_config = pydantic.ConfigDict(frozen=True)

    #: the account's authkey (sent as the ``authkey`` header)
    authkey: pydantic.SecretStr
    #: default DLT header / sender ID when the event has no senderId
    sender: str | None = None
    #: v2 route when the event's ``config.route`` is empty: 4 transactional, 1 promotional
    route: str = "4"
    #: SendOTP template used for OTP events that name no template of their own
    otp_template_id: str | None = None
    #: SendOTP ``otp_expiry`` in minutes (MSG91's default when unset)
    otp_expiry: int | None = pydantic.Field(default=None, gt=0)
    #: serves Flow, SendOTP and v2 (Flow and SendOTP are also on control.msg91.com)
    base_url: str = "https://api.msg91.com"


class Msg91(HttpProvider[Msg91Settings]):
    """Sends through one of three MSG91 APIs, chosen per event (``api_for``).

    - SendOTP v5, ``POST /api/v5/otp?template_id&mobile[&otp][&otp_expiry]`` (template
      variables as JSON body): OTP events (``isOTP`` or channel ``sms.otp``) to +91 numbers
      that carry their ``otp`` (sent as MSG91's ``otp``) when an OTP template is known (event
      ``config.template_id`` / ``flowAuth`` or setting ``otp_template_id``).
    - Flow, ``POST /api/v5/flow/`` with ``template_id``, ``sender``, ``short_url`` and
      ``recipients: [{mobiles, <variables>}]``: events with ``config.template_id`` or a
      ``flowAuth`` ``template_id``/``flow_id`` (older name); ``variables`` fill the template.
    - v2, ``POST /api/v2/sendsms`` with ``sender``, ``route``, ``country``, ``unicode``,
      ``sms: [{message, to}]`` and ``DLT_TE_ID`` (``config.dlt_template_id``): the rest.

    Auth: ``authkey`` header. Numbers are international digits without ``+``. Success is
    ``{"type": "success", "message": <request id>}``; errors usually come as HTTP 200
    ``{"type": "error", "message", "code"}``. References:
    https://control.msg91.com/apidoc/textsms/send-sms-flow.php,
    https://api.msg91.com/apidoc/textsms/send-sms-v1.php, tesark/msg91-php ``ERRORCODE.md``.
    Not confirmed (⚠): that SendOTP v5 answers ``request_id`` (public client code reads it;
    MSG91's older OTP API answers ``message``, so both are read) and that v2/SendOTP keep
    working on control.msg91.com (api.msg91.com is used for all three). ``311`` (same text to
    the same number within 10 s) is a duplicate: permanent, never resent.
    """

    name = "msg91"
    channels = ("sms", "sms.otp")
    task = "sendSMS"
    settings_model = Msg91Settings
    supports_unicode = True
    error_codes = {
        "306": "transient",  # route unavailable in this time window: retry later
        "101": "permanent",  # missing mobile
        "102": "permanent",  # missing message
        "103": "permanent",  # missing sender
        "106": "permanent",  # missing authkey
        "107": "permanent",  # missing route
        "202": "permanent",  # invalid mobile
        "203": "permanent",  # invalid sender ID / DLT entity missing
        "207": "permanent",  # invalid authkey
        "208": "permanent",  # IP blacklisted
        "301": "permanent",  # insufficient balance (until top-up)
        "302": "permanent",  # expired account
        "303": "permanent",  # banned account
        "310": "permanent",  # SMS too long
        "311": "permanent",  # duplicate within 10 s: do not resend
        "418": "permanent",  # IP not whitelisted
    }

    def api_for(self, job: Job) -> tuple[Api, str | None]:
        """Which API sends ``job``, with the template it uses."""
        config, flow = _mapping(job.payload.get("config")), _mapping(job.payload.get("flowAuth"))
        template = config.get("template_id") or flow.get("template_id") or flow.get("flow_id")
        otp = job.channel == "sms.otp" or _flag(job.payload.get("isOTP"))
        otp_template = template or self.settings.otp_template_id
        # without the event's own code MSG91 would make up another one than the app expects
        if otp and job.payload.get("otp") and otp_template and phone(job).country_code == "91":
            return "otp", str(otp_template)
        if template:
            return "flow", str(template)
        return "v2", None

    error_body_fields = ("code", "message")

    def build_request(self, job: Job) -> HttpRequest:
        settings = self.settings
        api, template = self.api_for(job)
        number = phone(job).intl_digits
        variables = {
            str(k): str(v)
            for k, v in _mapping(job.payload.get("variables")).items()
            if v is not None
        }
        headers = {"authkey": settings.authkey.get_secret_value(), "Accept": "application/json"}
        base = settings.base_url.rstrip("/")
        if api == "otp":
            params = {
                "template_id": str(template),
                "mobile": number,
                "otp": str(job.payload["otp"]),
            }
            if settings.otp_expiry:
                params["otp_expiry"] = str(settings.otp_expiry)
            return HttpRequest(
                "POST", f"{base}/api/v5/otp", params=params, json=variables, headers=headers
            )
        origin = sender(job, settings.sender)
        if api == "flow":
            flow: dict[str, Any] = {
                "template_id": template,
                "short_url": "0",
                "recipients": [{"mobiles": number, **variables}],
            }
            if origin:
                flow["sender"] = origin
            return HttpRequest("POST", f"{base}/api/v5/flow/", json=flow, headers=headers)
        if not origin:
            raise ConfigurationError(f"provider {self.name!r}: no senderId and no 'sender' set")
        message = text(job)
        config = _mapping(job.payload.get("config"))
        code = phone(job).country_code
        legacy: dict[str, Any] = {
            "sender": origin,
            "route": str(config.get("route") or settings.route),
            "country": code if code in ("91", "1") else "0",  # 0 = international
            "unicode": 1 if analyse(message).encoding == "UCS-2" else 0,
            "sms": [{"message": message, "to": [number]}],
        }
        if config.get("dlt_template_id"):
            legacy["DLT_TE_ID"] = str(config["dlt_template_id"])
        return HttpRequest("POST", f"{base}/api/v2/sendsms", json=legacy, headers=headers)

    def parse_response(self, job: Job, response: HttpResponse) -> SendResult:
        body = response.json()
        if not isinstance(body, dict) or str(body.get("type")).lower() != "success":
            fields = body if isinstance(body, dict) else {}
            raise self.code_error(
                fields.get("code", "none"),
                f"{response.endpoint}: {fields.get('message') or 'no success in answer'}",
                status=response.status,
                body=response.text,
            )
        request_id = body.get("request_id") or body.get("message")
        try:
            api: str | None = self.api_for(job)[0]
        except FusionError:  # settings changed mid-call: the message is sent all the same
            api = None
        return SendResult(
            provider=self.name,
            message_id=str(request_id) if request_id else None,
            status=response.status,
            response=excerpt(response.text, self.context.settings.response_excerpt),
            details={"api": api},
        )


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _flag(value: Any) -> bool:
    """The old payloads' booleans: true, 1, "1", "true", "yes"."""
    return str(value).strip().lower() in {"1", "true", "yes"}
