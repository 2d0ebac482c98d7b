"""Finds provider adapters (package folders and entry points) and hands out their instances."""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import inspect
import logging
import pkgutil
from collections.abc import Iterator
from importlib.metadata import entry_points
from types import ModuleType
from typing import Any

from fusion_stream.errors import ConfigurationError
from providers.base import CHANNELS, BaseProvider, ProviderContext

log = logging.getLogger(__name__)

#: entry-point group of adapters kept outside the repository (a class or a module)
ENTRY_POINT_GROUP = "fusion_stream.providers"

ProviderClass = type[BaseProvider[Any]]


def _qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


class ProviderRegistry:
    """Provider classes by (channel, name); a name is unique within a channel."""

    def __init__(self) -> None:
        self._classes: dict[tuple[str, str], ProviderClass] = {}

    def register(self, cls: ProviderClass) -> ProviderClass:
        name = cls.__dict__.get("name")
        if not isinstance(name, str) or not name:
            raise ConfigurationError(f"provider class {_qualname(cls)} declares no name")
        if inspect.isabstract(cls):
            missing = ", ".join(sorted(cls.__abstractmethods__))
            raise ConfigurationError(f"provider {name!r} ({_qualname(cls)}) lacks {missing}")
        channels = getattr(cls, "channels", ())
        unknown = [c for c in channels if c not in CHANNELS] or ([] if channels else ["<none>"])
        if unknown:
            raise ConfigurationError(
                f"provider {name!r} ({_qualname(cls)}) declares unknown channel(s) "
                f"{', '.join(unknown)}; known: {', '.join(CHANNELS)}"
            )
        for channel in channels:
            other = self._classes.get((channel, name))
            if other is not None and other is not cls:
                raise ConfigurationError(
                    f"duplicate provider {name!r} for channel {channel!r}: "
                    f"{_qualname(other)} and {_qualname(cls)}"
                )
        for channel in channels:
            self._classes[(channel, name)] = cls
        return cls

    def register_module(self, module: ModuleType) -> None:
        """Register every provider class defined in ``module`` (not merely imported there)."""
        for obj in vars(module).values():
            if (
                isinstance(obj, type)
                and issubclass(obj, BaseProvider)
                and obj.__module__ == module.__name__
                and "name" in obj.__dict__
            ):
                self.register(obj)

    def get(self, channel: str, name: str) -> ProviderClass:
        try:
            return self._classes[(channel, name)]
        except KeyError:
            known = ", ".join(self.names(channel)) or "none"
            raise ConfigurationError(
                f"unknown provider {name!r} for channel {channel!r}; known: {known}"
            ) from None

    def names(self, channel: str) -> tuple[str, ...]:
        return tuple(sorted(n for c, n in self._classes if c == channel))

    def all(self) -> dict[tuple[str, str], ProviderClass]:
        return dict(sorted(self._classes.items()))

    def classes(self) -> tuple[ProviderClass, ...]:
        """Each registered class once (a class serving several channels appears once)."""
        return tuple(dict.fromkeys(self.all().values()))

    def only(self, channel: str) -> ProviderRegistry:
        """A registry holding just the providers of ``channel``."""
        subset = ProviderRegistry()
        subset._classes = {key: cls for key, cls in self._classes.items() if key[0] == channel}
        return subset

    def __contains__(self, key: object) -> bool:
        return key in self._classes

    def __len__(self) -> int:
        return len(self._classes)


def discover(
    channel: str | None = None, *, package: str = "providers", plugins: bool = True
) -> ProviderRegistry:
    """Import the adapters of ``channel`` (all when ``None``) and register them.

    Looks in ``<package>/<folder>/*.py`` (folder = the channel up to its first dot, so
    ``sms.otp`` adapters live in ``sms/``), in ``<package>/console.py`` (serves every channel)
    and, when ``plugins``, in the ``fusion_stream.providers`` entry-point group. A duplicate
    name within a channel, or a module that fails to import, raises ConfigurationError.
    """
    if channel is not None and channel not in CHANNELS:
        raise ConfigurationError(f"unknown channel {channel!r}; known: {', '.join(CHANNELS)}")
    registry = ProviderRegistry()
    modules = list(_package_modules(package, channel))
    if plugins:
        modules += _plugin_modules(registry)
    for module in modules:
        registry.register_module(module)
    return registry if channel is None else registry.only(channel)


def _import(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ConfigurationError:
        raise
    except Exception as exc:
        raise ConfigurationError(f"provider module {name} failed to import: {exc!r}") from exc


def _package_modules(package: str, channel: str | None) -> Iterator[ModuleType]:
    root = _import(package)
    if importlib.util.find_spec(f"{package}.console") is not None:
        yield _import(f"{package}.console")  # top-level module, not a channel folder
    folders = {channel.split(".")[0]} if channel else None
    for info in pkgutil.iter_modules(root.__path__):
        if not info.ispkg or info.name.startswith("_"):
            continue
        if folders is not None and info.name not in folders:
            continue
        folder = _import(f"{package}.{info.name}")
        yield folder
        subs = pkgutil.walk_packages(folder.__path__, f"{folder.__name__}.", _walk_error)
        for sub in subs:
            if not sub.name.rsplit(".", 1)[-1].startswith("_"):
                yield _import(sub.name)


def _walk_error(name: str) -> None:
    raise ConfigurationError(f"provider package {name} failed to import")


def _plugin_modules(registry: ProviderRegistry) -> list[ModuleType]:
    """Load the entry points: a provider class is registered now, a module is returned."""
    modules = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            obj = ep.load()
        except Exception as exc:
            raise ConfigurationError(
                f"provider entry point {ep.name!r} ({ep.value}) failed to load: {exc!r}"
            ) from exc
        if isinstance(obj, ModuleType):
            modules.append(obj)
        elif isinstance(obj, type) and issubclass(obj, BaseProvider):
            registry.register(obj)
        else:
            raise ConfigurationError(
                f"provider entry point {ep.name!r} ({ep.value}) is neither a module "
                "nor a BaseProvider subclass"
            )
    return modules


class ProviderPool:
    """One adapter instance per (channel, name), created on first use, all closed together."""

    def __init__(self, registry: ProviderRegistry, context: ProviderContext) -> None:
        self.registry = registry
        self.context = context
        self._instances: dict[tuple[str, str], BaseProvider[Any]] = {}

    def get(self, channel: str, name: str) -> BaseProvider[Any]:
        key = (channel, name)
        instance = self._instances.get(key)
        if instance is None:
            instance = self._instances[key] = self.registry.get(channel, name)(self.context)
        return instance

    async def close(self) -> None:
        """Close every adapter; one failing close is logged and does not stop the others."""
        instances, self._instances = list(self._instances.items()), {}
        results = await asyncio.gather(
            *(inst.close() for _, inst in instances), return_exceptions=True
        )
        for (key, _), result in zip(instances, results, strict=True):
            if isinstance(result, BaseException):
                log.error("closing provider %s/%s failed: %r", *key, result)

    async def __aenter__(self) -> ProviderPool:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
