"""AWS SNS: one SMS published straight to a phone number (boto3, run off the event loop)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

import boto3
import pydantic
from botocore import exceptions as boto
from botocore.config import Config

from fusion_stream.envelope import Job, SendResult
from fusion_stream.errors import ConfigurationError, DeliveryError, PermanentError, TransientError
from fusion_stream.sms.phone import mask
from providers.base import BaseProvider
from providers.http import USER_AGENT
from providers.sms._common import phone, sender, text

#: digit runs long enough to be a phone number (AWS error messages may echo the destination)
_NUMBER = re.compile(r"\+?\d[\d ]{5,}\d")
#: botocore's retryable codes (``data/_retry.json``, standard mode) that SNS answers
TRANSIENT = """InternalError InternalFailure ServiceUnavailable KMSThrottling Throttling
    ThrottlingException ThrottledException RequestThrottled TooManyRequestsException
    RequestLimitExceeded LimitExceededException RequestTimeout RequestTimeoutException""".split()
PERMANENT = """InvalidParameter ParameterValueInvalid ValidationException AuthorizationError
    InvalidSecurity InvalidClientTokenId SignatureDoesNotMatch NotFound EndpointDisabled
    OptedOutException""".split()


class SnsSettings(pydantic.BaseModel):
    """Region, credentials and SMS attributes of the SNS adapter."""

    model_config = pydantic.ConfigDict(frozen=True)

    #: AWS region of the SNS endpoint (SMS support and the sandbox are per region)
    region: str
    #: static credentials; unset = boto3's default chain (IRSA, instance role, environment)
    aws_access_key_id: str | None = None
    aws_secret_access_key: pydantic.SecretStr | None = None
    aws_session_token: pydantic.SecretStr | None = None
    #: endpoint URL; unset = the real ``https://sns.{region}.amazonaws.com``
    base_url: str | None = None
    #: ``AWS.SNS.SMS.SenderID`` when the event has no senderId; ``AWS.MM.SMS.OriginationNumber``
    sender_id: str | None = None
    origination_number: str | None = None
    sms_type: Literal["Transactional", "Promotional"] = "Transactional"
    #: India DLT (+91 only): ``AWS.MM.SMS.EntityId``, default ``AWS.MM.SMS.TemplateId``
    entity_id: str | None = None
    template_id: str | None = None
    #: connect and read timeout of the call, seconds
    timeout: float = pydantic.Field(default=30.0, gt=0)


class SnsSms(BaseProvider[SnsSettings]):
    """Sends an SMS with SNS ``Publish`` (``PhoneNumber`` E.164, ``Message``, SMS attributes).

    References: https://docs.aws.amazon.com/sns/latest/dg/sms_publish-to-phone.html, botocore
    ``sns/2010-03-31/service-2.json`` and ``_retry.json`` (throttling, 5xx: transient). The id
    is ``MessageId`` (accepted, not delivered). botocore retries are off: the worker's retry
    tiers decide. Digit runs are masked in error text (AWS may echo the number).
    Not confirmed (⚠): the SMS TPS quota (no ``rate_per_second``), and which code opted-out
    and sandbox refusals carry (``InvalidParameter``/``OptedOutException``: both permanent).
    """

    name = "sns"
    channels = ("sms", "sms.otp")
    task = "sendSMS"
    settings_model = SnsSettings
    max_body_length = 1600  # bytes per SMS Publish (characters are counted)
    supports_unicode = True
    error_codes = {**dict.fromkeys(TRANSIENT, "transient"), **dict.fromkeys(PERMANENT, "permanent")}

    _client: tuple[SnsSettings, Any] | None = None  # boto3 client, and the settings it used

    def publish_params(self, job: Job) -> dict[str, Any]:
        """Keyword arguments of ``sns.publish`` for ``job``."""
        settings, number = self.settings, phone(job)
        config = job.payload.get("config")
        config = config if isinstance(config, Mapping) else {}
        attributes = {
            "AWS.SNS.SMS.SMSType": settings.sms_type,
            "AWS.SNS.SMS.SenderID": sender(job, settings.sender_id),
            "AWS.MM.SMS.OriginationNumber": settings.origination_number,
        }
        if number.country_code == "91":  # India DLT: entity and template travel with the SMS
            attributes["AWS.MM.SMS.EntityId"] = settings.entity_id
            attributes["AWS.MM.SMS.TemplateId"] = (
                config.get("dlt_template_id") or settings.template_id
            )
        return {
            "PhoneNumber": number.e164,
            "Message": text(job, max_length=self.max_body_length),
            "MessageAttributes": {
                key: {"DataType": "String", "StringValue": str(value)}
                for key, value in attributes.items()
                if value
            },
        }

    async def send(self, job: Job) -> SendResult:
        params, settings = self.publish_params(job), self.settings
        if self._client is None or self._client[0] is not settings:
            self._client = (settings, await self.run_blocking(self._make_client, settings))
        await self.throttle(job)  # the account's SMS rate (config rate_per_second)
        try:
            answer = await self.run_blocking(self._client[1].publish, **params)
        except boto.ClientError as exc:
            error = self.client_error(exc)
            if isinstance(error, TransientError):
                self.penalise(error.retry_after or 1.0)  # throttled: slow this account down
            raise error from None
        except (boto.NoCredentialsError, boto.PartialCredentialsError, boto.NoRegionError) as exc:
            raise ConfigurationError(f"provider {self.name!r}: {type(exc).__name__}") from None
        except boto.ParamValidationError:  # its text quotes the values: the message, an OTP
            raise PermanentError("Publish: invalid parameters", provider=self.name) from None
        except boto.BotoCoreError as exc:  # connection refused / reset, timeouts
            raise TransientError(f"Publish: {type(exc).__name__}", provider=self.name) from None
        return SendResult(
            provider=self.name,
            message_id=answer.get("MessageId"),
            status=answer.get("ResponseMetadata", {}).get("HTTPStatusCode"),
        )

    def client_error(self, exc: boto.ClientError) -> DeliveryError:
        """The typed error of an AWS error answer: by code, else 429/5xx transient."""
        error = exc.response.get("Error", {})
        code = str(error.get("Code") or "Unknown")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        message = "Publish: " + _NUMBER.sub(lambda m: mask(m[0]), str(error.get("Message") or code))
        busy = isinstance(status, int) and (status == 429 or status >= 500)
        if busy and code not in self.error_codes:
            return TransientError(f"{message} (code {code})", provider=self.name, status=status)
        return self.code_error(code, message, status=status)

    def _make_client(self, settings: SnsSettings) -> Any:
        secret, token = settings.aws_secret_access_key, settings.aws_session_token
        config = Config(
            connect_timeout=settings.timeout,
            read_timeout=settings.timeout,
            retries={"total_max_attempts": 1, "mode": "standard"},
            user_agent_extra=USER_AGENT,
        )
        return boto3.session.Session().client(
            "sns",
            region_name=settings.region,
            endpoint_url=settings.base_url,
            aws_access_key_id=settings.aws_access_key_id,
            aws_secret_access_key=secret.get_secret_value() if secret else None,
            aws_session_token=token.get_secret_value() if token else None,
            config=config,
        )
