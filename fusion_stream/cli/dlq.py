"""``fusion-stream dlq``: inspect dead letters (stats, list, show) and replay them safely."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import click

from fusion_stream import dlq as d
from fusion_stream import headers as h
from fusion_stream.errors import ConfigurationError, DecodeError
from fusion_stream.settings import get_settings
from fusion_stream.topics import ChannelSpec, TopicsConfig, bootstrap_servers, get_topics


def _now_ms() -> int:
    return int(time.time() * 1000)


def _topics() -> TopicsConfig:
    try:
        return get_topics()
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from exc


def _channel(topics: TopicsConfig, name: str) -> ChannelSpec:
    try:
        return topics.channel(name)
    except ConfigurationError as exc:
        raise click.BadParameter(str(exc), param_hint="CHANNEL") from exc


def _read(spec: ChannelSpec) -> list[d.DeadLetter]:
    """Every record of the channel's DLQ (tombstones included)."""
    try:
        return d.read_dlq(bootstrap_servers(get_settings().broker), spec.dlq)
    except d.DlqError as exc:
        raise click.ClickException(str(exc)) from exc


def _parsed(parse: Callable[[str], float]) -> Callable[[Any, Any, str | None], float | None]:
    def callback(_ctx: Any, _param: Any, value: str | None) -> float | None:
        try:
            return None if value is None else parse(value)
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from exc

    return callback


def filter_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option(
            "--status",
            "statuses",
            multiple=True,
            type=click.Choice(d.STATUSES),
            help="Terminal status (repeatable).",
        ),
        click.option("--error-class", help="Error class, short (PermanentError) or full name."),
        click.option("--provider", help="Provider that failed (fusion.provider)."),
        click.option(
            "--since",
            callback=_parsed(d.parse_duration),
            help="Dead-lettered within this long (30m, 2h, 7d).",
        ),
        click.option(
            "--job-id",
            "job_ids",
            multiple=True,
            help="Job id or shell pattern ('order-*'), or PARTITION:OFFSET (repeatable).",
        ),
        click.option("--limit", type=click.IntRange(min=1), help="At most N dead letters."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _filter(
    statuses: tuple[str, ...],
    error_class: str | None,
    provider: str | None,
    since: float | None,
    job_ids: tuple[str, ...],
) -> d.Filter:
    return d.Filter(frozenset(statuses), error_class, provider, since, job_ids)


@click.group()
def dlq() -> None:
    """Dead letters: inspect (stats, list, show) and replay them to their channel."""


@dlq.command("stats")
@click.argument("channel", required=False)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per channel.")
def stats(channel: str | None, as_json: bool) -> None:
    """Live dead letters per channel: count, oldest age, by status, error class, provider."""
    topics = _topics()
    specs = [_channel(topics, channel)] if channel else list(topics.channels.values())
    now = _now_ms()
    for spec in specs:
        s = d.stats(d.live(_read(spec)))
        oldest = None if s.oldest_ms is None else max(0.0, (now - s.oldest_ms) / 1000)
        if as_json:
            doc = {
                "channel": spec.name,
                "topic": spec.dlq,
                "live": s.live,
                "oldest_age_seconds": oldest,
                "by_status": dict(s.by_status),
                "by_error_class": dict(s.by_error_class),
                "by_provider": dict(s.by_provider),
                "by_stage": dict(s.by_stage),
            }
            click.echo(json.dumps(doc))
            continue
        line = f"{spec.name} ({spec.dlq}): {s.live} live dead letter{'s' * (s.live != 1)}"
        click.echo(line + (f", oldest {d.human_age(oldest)}" if s.live else ""))
        for label, counter in (
            ("status", s.by_status),
            ("error class", s.by_error_class),
            ("provider", s.by_provider),
            ("stage", s.by_stage),
        ):
            if counter:
                counts = ", ".join(f"{k}={v}" for k, v in counter.most_common())
                click.echo(f"  {label:<12} {counts}")


def _row(letter: d.DeadLetter, now: int) -> dict[str, Any]:
    return {
        "job_id": letter.job_id,
        "partition": letter.partition,
        "offset": letter.offset,
        "age_seconds": letter.age_seconds(now),
        "status": letter.status,
        "attempts": letter.attempts,
        "provider": letter.provider,
        "error_class": letter.error_class,
        "stage": letter.stage,
        "error": d.mask_text(letter.error),
    }


@dlq.command("list")
@click.argument("channel")
@filter_options
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def list_(
    channel: str,
    statuses: tuple[str, ...],
    error_class: str | None,
    provider: str | None,
    since: float | None,
    job_ids: tuple[str, ...],
    limit: int | None,
    as_json: bool,
) -> None:
    """One line per live dead letter, oldest first."""
    spec = _channel(_topics(), channel)
    now = _now_ms()
    letters = d.live(_read(spec))
    chosen = _filter(statuses, error_class, provider, since, job_ids).select(letters, now)
    shown = chosen[:limit] if limit else chosen
    if as_json:
        for letter in shown:
            click.echo(json.dumps(_row(letter, now)))
    elif shown:
        rows = [("JOB_ID", "P:OFFSET", "AGE", "STATUS", "ATTEMPTS", "PROVIDER", "ERROR")]
        for letter in shown:
            r = _row(letter, now)
            attempts = "-" if r["attempts"] is None else str(r["attempts"])
            age = d.human_age(r["age_seconds"])
            error = r["error"] or r["error_class"]  # the error line starts with its class
            rows.append((r["job_id"], letter.ref, age, r["status"], attempts, r["provider"], error))
        widths = [max(len(row[i]) for row in rows) for i in range(6)]
        for row in rows:
            cells = [c.ljust(w) for c, w in zip(row[:6], widths, strict=True)]
            click.echo("  ".join([*cells, row[6]]).rstrip())
    more = f" (first {len(shown)} shown)" if len(shown) < len(chosen) else ""
    click.echo(f"{len(chosen)} of {len(letters)} live dead letters in {spec.dlq}{more}", err=True)


def _header_value(name: str, value: bytes) -> str:
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        return f"<{len(value)} bytes, not UTF-8> {value[:32].hex()}"
    if d.is_secret_key(name):
        return d.MASK
    text = d.mask_text(text)
    if (name.endswith("-ms") or name.endswith("timestamp")) and text.isdigit():
        text += f"  ({_iso(int(text))})"
    return text


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")


def _excerpt(value: bytes, size: int = 64) -> str:
    """The first bytes of an undecodable record, printable, credentials masked."""
    text = value[:size].decode("utf-8", "backslashreplace")
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return d.mask_text(text) + ("..." if len(value) > size else "")


@dlq.command("show")
@click.argument("channel")
@click.argument("job_id")
def show(channel: str, job_id: str) -> None:
    """Headers and decoded payload of a dead letter (JOB_ID, or PARTITION:OFFSET).

    Values of credential-like fields (authkey, token, password, secret, api_key, ...) are
    masked; so is the code in an OTP's message.
    """
    from fusion_stream.codec import AvroCodec

    spec = _channel(_topics(), channel)
    records = _read(spec)
    found = [x for x in d.live(records) if job_id in (x.job_id, x.ref)]
    if not found:
        seen = any(r.job_id == job_id for r in records)
        why = " (it was resolved: tombstoned)" if seen else ""
        raise click.ClickException(f"no live dead letter {job_id!r} in {spec.dlq}{why}")
    settings = get_settings()
    codec = AvroCodec(settings.schemas_dir, registry_url=settings.schema_registry_url)
    now = _now_ms()
    for i, letter in enumerate(found):
        if i:
            click.echo("")
        when = _iso(letter.timestamp_ms) if letter.timestamp_ms else "?"
        click.echo(
            f"dead letter {letter.job_id} in {spec.dlq} partition {letter.partition} offset "
            f"{letter.offset}, dead-lettered {when} ({d.human_age(letter.age_seconds(now))} ago)"
        )
        click.echo("headers:")
        for name, value in letter.headers:
            click.echo(f"  {name}: {_header_value(name, value)}")
        value = letter.value or b""
        key = letter.job_id if letter.key is not None else None
        try:
            payload = codec.decode(value, spec.value_schema, key=key)
        except DecodeError as exc:
            click.echo(f"payload: undecodable as {spec.value_schema}: {exc}")
            click.echo(f"  {len(value)} bytes; first bytes hex: {value[:16].hex(' ')}")
            click.echo(f"  excerpt: {_excerpt(value)}")
            continue
        click.echo(f"payload ({spec.value_schema}, secrets masked):")
        masked = d.mask_payload(payload, otp=d.is_otp(spec, payload))
        text = json.dumps(masked, indent=2, ensure_ascii=False, default=str)
        click.echo("\n".join("  " + line for line in text.splitlines()))


class _Progress:
    """One progress line on stderr: rewritten in place on a terminal, every 10% otherwise."""

    def __init__(self, total: int) -> None:
        self.tty = sys.stderr.isatty()
        self.step = max(1, total // 10)
        self.done = False
        self.last = 0.0

    def __call__(self, r: d.ReplayResult) -> None:
        if self.done:
            return
        self.done = r.produced == r.total and (
            len(r.failed) + r.delivered + r.unconfirmed >= r.total
        )
        line = (
            f"replay: produced {r.produced}/{r.total}, acknowledged {r.delivered}, "
            f"failed {len(r.failed)}"
        )
        if self.tty:
            if self.done or time.monotonic() - self.last > 0.1:
                self.last = time.monotonic()
                click.echo("\r" + line, nl=self.done, err=True)
        elif self.done or r.produced % self.step == 0:
            click.echo(line, err=True)


@dlq.command("replay")
@click.argument("channel")
@filter_options
@click.option("--dry-run", is_flag=True, help="Show what would be replayed; produce nothing.")
@click.option("--rate", callback=_parsed(d.parse_rate), help="Records per second (50/s, 600/m).")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option(
    "--include-undecodable",
    is_flag=True,
    help="Also replay records that did not decode (stage=deserialize).",
)
def replay(
    channel: str,
    statuses: tuple[str, ...],
    error_class: str | None,
    provider: str | None,
    since: float | None,
    job_ids: tuple[str, ...],
    limit: int | None,
    dry_run: bool,
    rate: float | None,
    yes: bool,
    include_undecodable: bool,
) -> None:
    """Re-produce matching live dead letters (original key and bytes) to the channel topic.

    Each goes to its original partition, without the retry-history headers, with
    fusion.replayed-from. The worker's delivery ledger turns a job already sent into a
    `duplicate` outcome; a replayed copy that is sent gets its dead letter tombstoned.
    --limit counts the dead letters actually replayed.
    """
    from confluent_kafka import Producer

    from fusion_stream.codec import AvroCodec
    from fusion_stream.ratelimit import TokenBucket

    spec = _channel(_topics(), channel)
    settings = get_settings()
    now = _now_ms()
    letters = _filter(statuses, error_class, provider, since, job_ids).select(
        d.live(_read(spec)), now
    )
    bootstrap = bootstrap_servers(settings.broker)
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True})
    meta = producer.list_topics(spec.topic, timeout=30).topics.get(spec.topic)
    if meta is None or meta.error is not None or not meta.partitions:
        raise click.ClickException(f"channel topic {spec.topic} is not on the cluster")
    planned, refused = d.plan_replay(
        letters,
        spec,
        codec=AvroCodec(settings.schemas_dir, registry_url=settings.schema_registry_url),
        partitions=len(meta.partitions),
        now_ms=now,
        otp_ttl_seconds=settings.otp_ttl,
        include_undecodable=include_undecodable,
        limit=limit,
    )
    prefix = "[dry run] " if dry_run else ""
    click.echo(
        f"{prefix}{len(letters)} live dead letters match in {spec.dlq}: "
        f"{len(planned)} to replay to {spec.topic}, {len(refused)} refused"
    )
    for item in refused[:20]:
        click.echo(f"  refused {item.letter.job_id} ({item.letter.ref}): {item.reason}")
    if len(refused) > 20:
        click.echo(f"  ... and {len(refused) - 20} more refused")
    if dry_run:
        for p in planned:
            age = d.human_age(p.letter.age_seconds(now))
            click.echo(
                f"  would replay {p.letter.job_id} ({p.letter.ref}, {p.letter.status}, "
                f"{age} old) -> {spec.topic}[{p.partition}]"
            )
        click.echo(f"{prefix}nothing produced")
        return
    if not planned:
        click.echo("nothing to replay")
        return
    if not yes:
        pace = f" at {rate:g}/s (about {len(planned) / rate:.0f}s)" if rate else ""
        click.confirm(
            f"Replay {len(planned)} dead letters to {spec.topic}{pace}?", abort=True, err=True
        )
    bucket = TokenBucket(rate) if rate else None
    result = d.ReplayResult(total=len(planned))
    interrupted = False
    try:
        asyncio.run(
            d.replay(
                planned,
                producer,
                spec.topic,
                bucket=bucket,
                progress=_Progress(len(planned)),
                result=result,
            )
        )
    except KeyboardInterrupt:
        interrupted = True
    click.echo(
        f"replayed {result.delivered} of {result.total} dead letters to {spec.topic}"
        f" (acknowledged by the broker); {len(refused)} refused"
        + (f"; {len(result.failed)} failed" if result.failed else "")
        + (f"; {result.unconfirmed} not confirmed" if result.unconfirmed else "")
        + ("; interrupted" if interrupted else "")
    )
    for letter, error in result.failed[:20]:
        click.echo(f"  failed {letter.job_id} ({letter.ref}): {error}", err=True)
    if result.delivered:
        click.echo(
            f"the copies carry {h.REPLAYED}; watch them with `fusion-stream outcomes --follow`: "
            "each ends sent (its dead letter is then tombstoned), duplicate or failed again"
        )
    if interrupted or not result.ok:
        sys.exit(1)
