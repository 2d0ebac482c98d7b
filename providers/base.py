"""The context adapters share and the base class every provider adapter extends."""

from __future__ import annotations

import abc
import asyncio
import functools
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Literal, TypeVar

import aiohttp
import pydantic

from fusion_stream.envelope import Job, SendResult
from fusion_stream.errors import ConfigurationError, DeliveryError, PermanentError, TransientError
from fusion_stream.settings import Settings

#: every channel a provider may declare (topic ``fusion.<channel>``)
CHANNELS: tuple[str, ...] = ("sms", "sms.otp", "email", "push", "webhook", "whatsapp")

ErrorKind = Literal["transient", "permanent"]
T = TypeVar("T")


def _no_config(name: str) -> Mapping[str, str]:
    return {}


@dataclass(frozen=True, slots=True)
class ProviderContext:
    """What every adapter instance shares.

    :param session: the worker's one aiohttp session (connection pool)
    :param config: per-provider settings by provider name (credentials, base URL, ``timeout``)
    :param executor: where blocking SDK calls run (boto3); ``None`` = the loop's default
    """

    session: aiohttp.ClientSession
    settings: Settings
    config: Callable[[str], Mapping[str, str]] = _no_config
    executor: Executor | None = None


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
        raw = dict(self.context.config(self.name))
        if self._settings is not None and self._settings[0] == raw:
            return self._settings[1]
        model = self.settings_model or NoSettings
        try:
            parsed: Any = model.model_validate(raw)
        except pydantic.ValidationError as exc:
            # from None: the chained ValidationError would print the (secret) input values
            raise ConfigurationError(
                f"provider {self.name!r} ({', '.join(self.channels)}): {describe_invalid(exc)}"
            ) from None
        self._settings = (raw, parsed)
        return parsed

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
