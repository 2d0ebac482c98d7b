"""``fusion-stream providers``: write and read the provider-config topic; list the adapters."""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

from fusion_stream.codec import AvroCodec
from fusion_stream.errors import FusionError
from fusion_stream.provider_config import SCHEMA, read_provider_config
from fusion_stream.settings import get_settings
from fusion_stream.topics import bootstrap_servers, get_topics

if TYPE_CHECKING:
    from providers.base import BaseProvider

MASK = "***"
_CODE = re.compile(r"^\+?\d{1,3}$|^[A-Za-z]{2}$")


def _codec() -> AvroCodec:
    settings = get_settings()
    return AvroCodec.from_settings(settings)


def _pairs(items: tuple[str, ...], what: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():  # never echo the item: it may be a bare secret
            raise click.BadParameter(f"expected KEY={what}")
        out[key.strip()] = value
    return out


@click.group()
def providers() -> None:
    """Provider accounts (the provider-config topic) and the registered adapters."""


@providers.command("set")
@click.argument("provider_id")
@click.option("--provider", help="Adapter name the record configures (unset: any provider).")
@click.option(
    "--allow",
    multiple=True,
    metavar="CODE",
    help="Calling code (91) or region (IN) the account may send to; repeat. None: any.",
)
@click.option("--setting", "settings", multiple=True, metavar="KEY=VALUE", help="Repeatable.")
@click.option(
    "--setting-env",
    multiple=True,
    metavar="KEY=ENV_VAR",
    help="A setting read from an env var (keeps secrets out of shell history).",
)
@click.option("--fallback", multiple=True, metavar="PROVIDER_ID", help="Repeatable, in order.")
@click.option("--delete", is_flag=True, help="Write a tombstone: the record is removed.")
def set_(
    provider_id: str,
    provider: str | None,
    allow: tuple[str, ...],
    settings: tuple[str, ...],
    setting_env: tuple[str, ...],
    fallback: tuple[str, ...],
    delete: bool,
) -> None:
    """Write (replace) the provider-config record PROVIDER_ID, or delete it."""
    if delete and (provider or allow or settings or setting_env or fallback):
        raise click.UsageError("--delete takes no other option")
    bad = [code for code in allow if not _CODE.match(code.strip())]
    if bad:
        raise click.BadParameter(
            f"{', '.join(bad)}: not a calling code or region", param_hint="--allow"
        )
    values = _pairs(settings, "VALUE")
    for key, var in _pairs(setting_env, "ENV_VAR").items():
        if var not in os.environ:
            raise click.BadParameter(f"env var {var!r} is not set", param_hint="--setting-env")
        values[key] = os.environ[var]
    if provider:
        _warn_unknown(provider)
    record = {
        "provider_id": provider_id,
        "provider": provider,
        "allowed_country_codes": [code.strip().removeprefix("+") for code in allow],
        "settings": values,
        "fallbacks": list(fallback),
        "updated_at": int(time.time() * 1000),
    }
    topic = get_topics().provider_config
    _produce(topic, provider_id, None if delete else _codec().encode(SCHEMA, record))
    if delete:
        click.echo(f"deleted {provider_id!r} (tombstone) on {topic}")
    else:
        click.echo(f"set {provider_id!r} on {topic}: {_describe(record)}")


@providers.command("show")
@click.argument("provider_id", required=False)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per record.")
def show(provider_id: str | None, as_json: bool) -> None:
    """Print the provider-config records (setting values masked)."""
    topic = get_topics().provider_config
    try:
        records = asyncio.run(
            read_provider_config(bootstrap_servers(get_settings().broker), topic, _codec())
        )
    except FusionError as exc:
        raise click.ClickException(str(exc)) from exc
    if provider_id is not None:
        if provider_id not in records:
            raise click.ClickException(f"no provider-config record {provider_id!r} in {topic}")
        records = {provider_id: records[provider_id]}
    for record in records.values():
        masked = {**record, "settings": dict.fromkeys(record.get("settings") or {}, MASK)}
        click.echo(json.dumps(masked, sort_keys=True) if as_json else _describe(masked, True))
    if not records:
        click.echo(f"no records in {topic}", err=True)


@providers.command("list")
@click.option("--channel", help="Only this channel.")
def list_(channel: str | None) -> None:
    """Print the registered adapters and their capabilities (``*``: required setting)."""
    from providers.registry import discover

    try:
        registry = discover(channel)
    except FusionError as exc:
        raise click.ClickException(str(exc)) from exc
    rows = [tuple(c.upper() for c in COLUMNS), *capability_rows(registry.classes())]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


#: columns of ``providers list`` and docs/providers.md
COLUMNS = ("channels", "name", "task", "max body", "unicode", "rate/s", "error codes", "settings")


def capability_rows(classes: Iterable[type[BaseProvider[Any]]]) -> list[tuple[str, ...]]:
    """One row per adapter class: what its class attributes declare (``*``: required setting)."""
    from providers.base import CHANNELS

    rows: list[tuple[str, ...]] = []
    for cls in sorted(classes, key=lambda c: (c.channels[0], c.name)):
        model = cls.settings_model
        fields = model.model_fields.items() if model else []
        rate = cls.rate_per_second
        rows.append(
            (
                "all" if set(cls.channels) == set(CHANNELS) else ", ".join(cls.channels),
                cls.name,
                cls.task or "-",
                str(cls.max_body_length) if cls.max_body_length else "-",
                "yes" if cls.supports_unicode else "no",
                f"{rate:g}" if rate else "-",
                str(len(cls.error_codes)),
                ", ".join(f"{k}*" if f.is_required() else k for k, f in fields) or "-",
            )
        )
    return rows


def _warn_unknown(provider: str) -> None:
    from providers.registry import discover

    try:
        known = {name for _, name in discover(plugins=True).all()}
    except FusionError as exc:  # a broken adapter module must not block operating the table
        click.echo(f"warning: cannot list adapters ({exc})", err=True)
        return
    if provider not in known:
        click.echo(f"warning: no adapter named {provider!r} is registered", err=True)


def _produce(topic: str, key: str, value: bytes | None) -> None:
    from confluent_kafka import Producer

    producer = Producer(
        {"bootstrap.servers": bootstrap_servers(get_settings().broker), "acks": "all"}
    )
    errors: list[str] = []

    def on_delivery(err: Any, _msg: Any) -> None:
        if err is not None:
            errors.append(str(err))

    producer.produce(topic, key=key.encode(), value=value, on_delivery=on_delivery)
    if producer.flush(30) or errors:
        raise click.ClickException(f"write to {topic} failed: {errors or 'not flushed in 30s'}")


def _describe(record: dict[str, Any], with_id: bool = False) -> str:
    allow = ",".join(record.get("allowed_country_codes") or []) or "every country"
    settings = ", ".join(f"{k}={MASK}" for k in sorted(record.get("settings") or {})) or "-"
    parts = [record["provider_id"]] if with_id else []
    parts += [
        f"provider={record.get('provider') or '*'}",
        f"allow={allow}",
        f"settings=[{settings}]",
        f"fallbacks={','.join(record.get('fallbacks') or []) or '-'}",
    ]
    if with_id and record.get("updated_at"):
        when = datetime.fromtimestamp(record["updated_at"] / 1000, UTC)
        parts.append(f"updated={when:%Y-%m-%dT%H:%M:%SZ}")
    return "  ".join(parts)
