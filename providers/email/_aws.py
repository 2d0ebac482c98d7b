"""SES plumbing: the boto3 clients, and SES errors mapped onto the old worker's outcome strings."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import boto3
from botocore import exceptions as boto
from botocore.config import Config

from fusion_stream.email.s3 import error_parts
from fusion_stream.errors import ConfigurationError, FusionError, PermanentError, TransientError
from providers.base import ErrorKind
from providers.http import USER_AGENT

if TYPE_CHECKING:
    from providers.email.ses import SesSettings

# The old worker's outcome messages: dashboards match on them, so they stay word for word.
PUBLISHED = "Published"
REJECTED = "Message Rejected by SES"
MAIL_FROM = "Mail From domain is not verified"
CONFIG_SET_PAUSED = "Configuration set sending paused"
ACCOUNT_PAUSED = "Account sending paused exception"
SERVER_ERROR = "Server Error while sending Email"

#: SES error code -> (retry class, old outcome message, alert the operator)
SES_ERRORS: Mapping[str, tuple[ErrorKind, str, bool]] = {
    "MessageRejected": ("permanent", REJECTED, False),
    "MailFromDomainNotVerifiedException": ("permanent", MAIL_FROM, True),
    "ConfigurationSetSendingPausedException": ("permanent", CONFIG_SET_PAUSED, True),
    "AccountSendingPausedException": ("permanent", ACCOUNT_PAUSED, True),
    "SendingPausedException": ("permanent", ACCOUNT_PAUSED, True),  # v2: account or set
    "AccountSuspendedException": ("permanent", ACCOUNT_PAUSED, True),
    "ConfigurationSetDoesNotExist": ("permanent", SERVER_ERROR, True),
    "NotFoundException": ("permanent", SERVER_ERROR, True),  # v2: configuration set
    "AccessDenied": ("permanent", SERVER_ERROR, True),
    "AccessDeniedException": ("permanent", SERVER_ERROR, True),
    "InvalidClientTokenId": ("permanent", SERVER_ERROR, True),
    "UnrecognizedClientException": ("permanent", SERVER_ERROR, True),
    "SignatureDoesNotMatch": ("permanent", SERVER_ERROR, True),
    "Throttling": ("transient", SERVER_ERROR, False),
    "ThrottlingException": ("transient", SERVER_ERROR, False),
    "TooManyRequestsException": ("transient", SERVER_ERROR, False),
    "InternalFailure": ("transient", SERVER_ERROR, False),
    "ServiceUnavailable": ("transient", SERVER_ERROR, False),
}
#: "Daily message quota exceeded" clears only as the 24-hour window moves: wait long
QUOTA_RETRY_AFTER = 3600.0


class SesTransientError(TransientError):
    """Transient SES failure; ``outcome_message`` is the old worker's state string."""

    outcome_message: str = SERVER_ERROR
    alert: bool = False
    #: SES said "slow down" (Throttling, TooManyRequests): the rate limiter backs off
    throttled: bool = False


class SesPermanentError(PermanentError):
    """Permanent SES failure; ``alert`` when the operator must act (paused, unverified)."""

    outcome_message: str = SERVER_ERROR
    alert: bool = False


class AwsClients:
    """The boto3 clients of one settings object: made once, shared by the executor threads."""

    def __init__(self, settings: SesSettings) -> None:
        self.settings = settings
        secret, token = settings.aws_secret_access_key, settings.aws_session_token
        self._session = boto3.session.Session(
            aws_access_key_id=settings.aws_access_key_id,
            aws_secret_access_key=secret.get_secret_value() if secret else None,
            aws_session_token=token.get_secret_value() if token else None,
            region_name=settings.region,
        )
        timeouts: dict[str, Any] = {
            "connect_timeout": settings.timeout,
            "read_timeout": settings.timeout,
            "user_agent_extra": USER_AGENT,
            "max_pool_connections": 32,
        }
        # One SES attempt: a retried send could deliver twice; the retry tiers decide.
        # S3 GET/DELETE are idempotent: botocore's standard retries are fine there.
        self._s3_config = Config(retries={"mode": "standard", "max_attempts": 3}, **timeouts)
        self.ses = self._session.client(
            "sesv2" if settings.api == "v2" else "ses",
            endpoint_url=settings.endpoint_url,
            config=Config(retries={"mode": "standard", "total_max_attempts": 1}, **timeouts),
        )
        self._s3: dict[str, Any] = {}
        self._lock = threading.Lock()  # boto3 sessions do not create clients thread-safely

    def s3(self, region: str | None) -> Any:
        region = region or self.settings.region
        with self._lock:
            if region not in self._s3:
                self._s3[region] = self._session.client(
                    "s3",
                    region_name=region,
                    endpoint_url=self.settings.s3_endpoint_url or self.settings.endpoint_url,
                    config=self._s3_config,
                )
            return self._s3[region]

    def close(self) -> None:
        for client in [self.ses, *self._s3.values()]:
            client.close()


def classify(code: str, status: int | None, text: str) -> tuple[ErrorKind, str, bool]:
    """(retry class, old outcome message, alert) of an SES error answer."""
    lowered = text.lower()
    if code == "MessageRejected" and "sending paused for this account" in lowered:
        return "permanent", ACCOUNT_PAUSED, True  # v1 reports a paused account this way too
    if code == "SendingPausedException" and "configuration set" in lowered:
        return "permanent", CONFIG_SET_PAUSED, True
    if code in SES_ERRORS:
        return SES_ERRORS[code]
    if status is not None and (status == 429 or status >= 500):
        return "transient", SERVER_ERROR, False
    return "permanent", SERVER_ERROR, False


def ses_error(exc: boto.BotoCoreError | boto.ClientError, provider: str = "ses") -> FusionError:
    """The typed error of a failed send, carrying the old outcome message."""
    if isinstance(exc, boto.NoCredentialsError | boto.PartialCredentialsError | boto.NoRegionError):
        return ConfigurationError(f"provider 'ses': {type(exc).__name__}")
    if isinstance(exc, boto.ParamValidationError):
        return SesPermanentError(f"{SERVER_ERROR}: invalid parameters", provider=provider)
    if isinstance(exc, boto.BotoCoreError):  # connection refused / reset, timeouts
        return SesTransientError(f"{SERVER_ERROR}: {type(exc).__name__}", provider=provider)
    code, status, text = error_parts(exc)
    kind, outcome, alert = classify(code, status, text)
    line = f"{outcome}: {code}: {text}".rstrip(": ")
    error: SesTransientError | SesPermanentError
    if kind == "transient":
        retry_after = QUOTA_RETRY_AFTER if "daily message quota" in text.lower() else None
        error = SesTransientError(line, retry_after=retry_after, provider=provider, status=status)
        error.throttled = code.startswith("Throttl") or code == "TooManyRequestsException"
    else:
        error = SesPermanentError(line, provider=provider, status=status)
    error.outcome_message, error.alert = outcome, alert
    return error
