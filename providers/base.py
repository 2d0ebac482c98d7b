"""The context adapters share and the base class every provider adapter extends."""

from __future__ import annotations

import abc
import asyncio
import functools
import math
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Literal, TypeVar

import aiohttp
import pydantic

from fusion_stream.envelope import Job, SendResult
from fusion_stream.errors import ConfigurationError, DeliveryError, PermanentError, TransientError
from fusion_stream.ratelimit import RateLimiter
from fusion_stream.settings import Settings

#: every channel a provider may declare (topic ``fusion.<channel>``)
CHANNELS: tuple[str, ...] = ("sms", "sms.otp", "email", "push", "webhook", "whatsapp")

ErrorKind = Literal["transient", "permanent"]
T = TypeVar("T")

#: config keys every provider reads outside its settings model (not validated by the model
#: unless it declares them): HTTP timeout in seconds, and the send rate of this worker
RESERVED_KEYS = ("timeout", "rate_per_second")
#: suffix of the rate-limit bucket of OTP-lane sends
OTP_LANE = "@otp"
#: longest in-worker pause a Retry-After causes: sends waiting on a paused bucket hold their
#: in-flight slots, so a provider's "retry in an hour" becomes one probe a minute instead
MAX_PENALTY = 60.0


def _no_config(name: str) -> Mapping[str, str]:
    return {}


@dataclass(frozen=True, slots=True)
class ProviderContext:
    """What every adapter instance shares.

    :param session: the worker's one aiohttp session (connection pool)
    :param config: per-provider settings by provider name (credentials, base URL, ``timeout``)
    :param executor: where blocking SDK calls run (boto3); ``None`` = the loop's default
    :param limiter: the worker's token buckets (``throttle``); ``None`` = no rate limiting
    :param account: the provider-config record (provider_id) this context is bound to
    """

    session: aiohttp.ClientSession
    settings: Settings
    config: Callable[[str], Mapping[str, str]] = _no_config
    executor: Executor | None = None
    limiter: RateLimiter | None = None
    account: str | None = None


class NoSettings(pydantic.BaseModel):
    """Settings of a provider that declares no model: whatever was configured, unchecked."""

    model_config = pydantic.ConfigDict(extra="allow", frozen=True)


SettingsT = TypeVar("SettingsT", bound=pydantic.BaseModel)


class BaseProvider(abc.ABC, Generic[SettingsT]):
    """One provider adapter. Subclasses declare metadata as class attributes and write ``send``.

    A class is registered as a provider when it declares its own ``name`` (see
    ``providers.registry``); intermediate base classes simply leave ``name`` out.
    """

    #: provider name, unique within each of its channels (``config.provider`` of an event)
    name: ClassVar[str]
    #: channels this adapter serves
    channels: ClassVar[tuple[str, ...]]
    #: pydantic model of the provider's settings; ``None`` = no settings needed
    settings_model: ClassVar[type[pydantic.BaseModel] | None] = None
    #: longest message body the provider accepts, ``None`` = no known limit
    max_body_length: ClassVar[int | None] = None
    #: whether non-GSM text can be sent
    supports_unicode: ClassVar[bool] = True
    #: provider's documented send rate, ``None`` = unknown
    rate_per_second: ClassVar[float | None] = None
    #: provider error code -> "transient" / "permanent" (unknown codes are permanent)
    error_codes: ClassVar[Mapping[str, ErrorKind]] = {}
    #: the old worker's task name, reported in outcomes (``sendSMS``, ``POST``, ...)
    task: ClassVar[str] = ""

    def __init__(self, context: ProviderContext) -> None:
        self.context = context
        self._settings: tuple[dict[str, str], SettingsT] | None = None

    @abc.abstractmethod
    async def send(self, job: Job) -> SendResult:
        """Send one message; raise TransientError / PermanentError / ConfigurationError."""

    async def close(self) -> None:
        """Release what the adapter holds (the shared session is not the adapter's)."""

    @property
    def settings(self) -> SettingsT:
        """This provider's settings, validated; re-validated only when the config changes."""
        looked_up = self.context.config(self.name)
        model = self.settings_model or NoSettings
        raw = {
            k: v for k, v in looked_up.items() if k not in RESERVED_KEYS or k in model.model_fields
        }
        if self._settings is not None and self._settings[0] == raw:
            return self._settings[1]
        try:
            parsed: Any = model.model_validate(raw)
        except pydantic.ValidationError as exc:
            # from None: the chained ValidationError would print the (secret) input values
            message = (
                f"provider {self.name!r} ({', '.join(self.channels)}): {describe_invalid(exc)}"
            )
            where = getattr(looked_up, "where", None)  # providers.config.LookedUp
            if callable(where):
                keys = [str(e["loc"][0]) for e in exc.errors(include_input=False) if e["loc"]]
                message += f"; {where(keys, f'defaults of {model.__name__}')}"
            raise ConfigurationError(message) from None
        self._settings = (raw, parsed)
        return parsed

    def rate_limit(self) -> float | None:
        """Sends per second: config key ``rate_per_second`` (``unlimited``), else the class's."""
        configured = self.context.config(self.name).get("rate_per_second")
        if configured is None or not str(configured).strip():
            return self.rate_per_second
        text = str(configured).strip().lower()
        if text in ("unlimited", "none"):
            return None
        try:
            rate = float(text)
        except ValueError:
            rate = math.nan
        if not (math.isfinite(rate) and rate > 0):
            raise ConfigurationError(
                f"provider {self.name!r}: invalid setting 'rate_per_second' "
                "(a positive number, or 'unlimited')"
            )
        return rate

    def rate_key(self, job: Job | None = None) -> str:
        """The token bucket of a send: one per provider account, and the OTP lane its own so
        a bulk backlog never queues login codes behind it."""
        key = self.name if self.context.account is None else f"{self.name}/{self.context.account}"
        return f"{key}{OTP_LANE}" if job is not None and job.channel == "sms.otp" else key

    async def throttle(self, job: Job | None = None, tokens: float = 1.0) -> float:
        """Wait for this provider's rate limit before a send; returns the seconds waited.

        HttpProvider calls it for every message; other adapters call it before their SDK call.
        """
        limiter = self.context.limiter
        if limiter is None:
            return 0.0
        return await limiter.acquire(self.rate_key(job), self.rate_limit(), tokens)

    def penalise(self, seconds: float | None) -> None:
        """The provider said "slow down" (429, a throttling code, Retry-After): no send of this
        account, on any lane, before ``seconds`` (at most MAX_PENALTY) from now.
        HttpProvider calls it itself."""
        limiter = self.context.limiter
        if limiter is not None and seconds and math.isfinite(seconds) and seconds > 0:
            key, pause = self.rate_key(), min(seconds, MAX_PENALTY)
            limiter.penalise(key, pause)
            limiter.penalise(f"{key}{OTP_LANE}", pause)

    def code_error(
        self,
        code: object,
        message: str,
        *,
        status: int | str | None = None,
        body: str | None = None,
        retry_after: float | None = None,
    ) -> DeliveryError:
        """The typed error for a provider error code, looked up in ``error_codes``."""
        text = f"{message} (code {code})"
        if self.error_codes.get(str(code)) == "transient":
            return TransientError(
                text, retry_after=retry_after, provider=self.name, status=status, body=body
            )
        return PermanentError(text, provider=self.name, status=status, body=body)

    async def run_blocking(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking SDK call (boto3) in the context's executor, off the event loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self.context.executor, functools.partial(fn, *args, **kwargs)
        )

    @classmethod
    def capabilities(cls) -> dict[str, Any]:
        """One row of the provider capability table, from the class attributes."""
        model = cls.settings_model
        return {
            "name": cls.name,
            "channels": cls.channels,
            "task": cls.task,
            "settings": sorted(model.model_fields) if model else [],
            "max_body_length": cls.max_body_length,
            "supports_unicode": cls.supports_unicode,
            "rate_per_second": cls.rate_per_second,
        }


def describe_invalid(exc: pydantic.ValidationError) -> str:
    """Name the missing and invalid settings, never their values."""
    missing, invalid = [], []
    for err in exc.errors(include_input=False, include_url=False):
        key = ".".join(str(part) for part in err["loc"]) or "<settings>"
        if err["type"] == "missing":
            missing.append(repr(key))
        else:
            invalid.append(f"{key!r} ({err['msg']})")
    parts = []
    if missing:
        parts.append(f"missing setting(s) {', '.join(missing)}")
    if invalid:
        parts.append(f"invalid setting(s) {', '.join(invalid)}")
    return "; ".join(parts)
