"""Typed errors: one root; transient/permanent delivery, configuration and decode errors."""

from __future__ import annotations


class FusionError(Exception):
    """Root of every error fusion-stream raises on purpose."""

    #: short machine-readable reason, used in outcomes, metrics and DLQ headers
    reason: str = "error"

    def one_line(self) -> str:
        """The whole story on one line (goes into outcomes and dead-letter headers)."""
        return " ".join(f"{type(self).__name__}: {self}".split())


class DeliveryError(FusionError):
    """A provider could not deliver a message.

    :param provider: adapter name
    :param status: HTTP status or provider status code, when there is one
    :param body: excerpt of the provider's response body
    """

    #: a provider's own wording of the failure for the outcome's ``message`` (the old
    #: worker's strings that dashboards match, e.g. "Message Rejected by SES")
    outcome_message: str | None = None
    #: the operator must act (account paused, sender unverified): counts in the alert metric
    alert: bool = False

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        status: int | str | None = None,
        body: str | None = None,
        reason: str | None = None,
    ) -> None:
        self.message = message
        self.provider = provider
        self.status = status
        self.body = excerpt(body) if body else None
        if reason:
            self.reason = reason
        super().__init__(self._describe())

    def _describe(self) -> str:
        parts = []
        if self.provider:
            parts.append(f"provider={self.provider}")
        if self.status is not None:
            parts.append(f"status={self.status}")
        parts.append(self.message)
        if self.body:
            parts.append(f"body={self.body!r}")
        if self.__cause__ is not None:
            parts.append(f"cause={self.__cause__!r}")
        return " ".join(parts)

    def __str__(self) -> str:
        return self._describe()


class TransientError(DeliveryError):
    """May succeed later: timeout, connection error, 5xx, 429, throttling.

    :param retry_after: seconds the provider asked us to wait, if it said
    """

    reason = "transient"

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: object) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kw)  # type: ignore[arg-type]


class PermanentError(DeliveryError):
    """Will never succeed as sent: validation, 4xx, unverified sender, blacklisted address."""

    reason = "permanent"


class RejectedError(PermanentError):
    """The event itself is invalid (bad number, missing field, not whitelisted): never sent."""

    reason = "rejected"


class ConfigurationError(FusionError):
    """Operator must act: unknown provider, missing credential, bad setting.

    Kept outside the DeliveryError branch so no retry path swallows it.
    """

    reason = "configuration"


class DecodeError(FusionError):
    """A record could not be decoded; keeps the raw bytes for the dead letter."""

    reason = "decode"

    def __init__(self, message: str, raw: bytes | None) -> None:
        self.raw = raw
        super().__init__(message)


class TopicsFileError(ConfigurationError):
    """topics.yaml is malformed; the message names the file, line and field."""


def excerpt(text: str | bytes | None, limit: int = 300) -> str:
    """A bounded, single-line excerpt of a response body."""
    if text is None:
        return ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
