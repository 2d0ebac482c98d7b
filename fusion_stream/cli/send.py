"""``fusion-stream send ...`` (produce one event) and ``fusion-stream outcomes`` (watch them)."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import click

from fusion_stream.codec import AvroCodec
from fusion_stream.errors import DecodeError, FusionError
from fusion_stream.settings import get_settings
from fusion_stream.topics import bootstrap_servers, get_topics


def _codec() -> AvroCodec:
    settings = get_settings()
    return AvroCodec.from_settings(settings)


def produce(channel: str, payload: dict[str, Any], *, count: int = 1) -> list[str]:
    """Encode ``payload`` for ``channel`` and produce it ``count`` times; returns job ids."""
    from confluent_kafka import Producer

    topics = get_topics()
    spec = topics.channel(channel)
    codec = _codec()
    producer = Producer(
        {"bootstrap.servers": bootstrap_servers(get_settings().broker), "acks": "all"}
    )
    errors: list[str] = []

    def on_delivery(err: Any, _msg: Any) -> None:
        if err is not None:
            errors.append(str(err))

    job_ids = []
    for i in range(count):
        record = dict(payload)
        if count > 1 or not record.get("job_id"):
            record["job_id"] = (
                f"{payload['job_id']}-{i}" if payload.get("job_id") else str(uuid.uuid4())
            )
        record.setdefault("created_at", int(time.time() * 1000))
        value = codec.encode(spec.value_schema, record)
        producer.produce(
            spec.topic, key=record["job_id"].encode(), value=value, on_delivery=on_delivery
        )
        producer.poll(0)
        job_ids.append(record["job_id"])
    remaining = producer.flush(30)
    if remaining or errors:
        raise click.ClickException(f"delivery failed: {errors[:3] or f'{remaining} not flushed'}")
    return job_ids


def _report(channel: str, job_ids: list[str]) -> None:
    if len(job_ids) == 1:
        click.echo(job_ids[0])
    else:
        click.echo(f"produced {len(job_ids)} {channel} events ({job_ids[0]} .. {job_ids[-1]})")


def _json_option(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON: {exc}") from exc


@click.group()
def send() -> None:
    """Produce events (Avro-encoded) to a channel topic; prints the job id."""


@send.command("webhook")
@click.option("--url", required=True)
@click.option("--method", default="POST", show_default=True)
@click.option("--json", "body", help="JSON body (args) for POST/PUT/DELETE.")
@click.option("--data", help="JSON object of query parameters (GET).")
@click.option("--form", is_flag=True, help="Send args form-encoded (isBody=0).")
@click.option("--header", "headers", multiple=True, help="Header 'Name: value' (repeatable).")
@click.option("--timeout", type=float, help="Seconds (default 15).")
@click.option("--callback-url", help="Where to POST the response (callback=1).")
@click.option("--job-id", help="Job id (default: a new UUID).")
@click.option("--count", default=1, show_default=True, help="Produce N events (ids suffixed -i).")
def send_webhook(
    url: str,
    method: str,
    body: str | None,
    data: str | None,
    form: bool,
    headers: tuple[str, ...],
    timeout: float | None,
    callback_url: str | None,
    job_id: str | None,
    count: int,
) -> None:
    """A webhook call, as the old worker's POST task took it."""
    header_map = {}
    for header in headers:
        name, sep, value = header.partition(":")
        if not sep:
            raise click.BadParameter(f"header {header!r} is not 'Name: value'")
        header_map[name.strip()] = value.strip()
    payload: dict[str, Any] = {
        "job_id": job_id,
        "task_type": "webhook",
        "url": url,
        "method": method.upper(),
        "args": _json_option(body),
        "data": _json_option(data),
        "isBody": 0 if form else 1,
        "headers": header_map,
        "timeout": timeout,
        "callback": 1 if callback_url else 0,
        "callback_url": callback_url,
    }
    _report("webhook", _produce_or_fail("webhook", payload, count))


@send.command("sms")
@click.option("--contact", required=True)
@click.option("--message", required=True)
@click.option("--country-code", default="91", show_default=True)
@click.option("--provider", default=None, help="config.provider (default: the channel default).")
@click.option("--otp", "is_otp", is_flag=True, help="Send on the OTP lane (fusion.sms.otp).")
@click.option("--job-id")
@click.option("--count", default=1, show_default=True)
def send_sms(
    contact: str,
    message: str,
    country_code: str,
    provider: str | None,
    is_otp: bool,
    job_id: str | None,
    count: int,
) -> None:
    """An SMS (or, with --otp, a login OTP)."""
    payload = {
        "job_id": job_id,
        "task_type": "otp" if is_otp else "sms",
        "contact": contact,
        "message": message,
        "countryCode": country_code,
        "isOTP": is_otp,
        "config": {"provider": provider},
    }
    channel = "sms.otp" if is_otp else "sms"
    _report(channel, _produce_or_fail(channel, payload, count))


@send.command("json")
@click.argument("channel")
@click.argument("payload")
@click.option("--count", default=1, show_default=True)
def send_json(channel: str, payload: str, count: int) -> None:
    """Any channel: PAYLOAD is the record as JSON (field names as in schemas/)."""
    record = _json_option(payload)
    if not isinstance(record, dict):
        raise click.BadParameter("payload must be a JSON object")
    _report(channel, _produce_or_fail(channel, record, count))


def _produce_or_fail(channel: str, payload: dict[str, Any], count: int) -> list[str]:
    try:
        return produce(channel, payload, count=count)
    except FusionError as exc:
        raise click.ClickException(str(exc)) from exc


@click.command()
@click.option("--follow", "-f", is_flag=True, help="Keep watching for new outcomes.")
@click.option("--job-id", help="Only this job.")
@click.option("--json", "as_json", is_flag=True, help="Print each outcome as one JSON line.")
@click.option("--from-beginning/--from-end", default=True, show_default=True)
def outcomes(follow: bool, job_id: str | None, as_json: bool, from_beginning: bool) -> None:
    """Print outcomes from the outcomes topic in readable form."""
    from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, Consumer, TopicPartition

    topics = get_topics()
    codec = _codec()
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap_servers(get_settings().broker),
            "group.id": f"fusion-outcomes-cli-{uuid.uuid4()}",
            "enable.auto.commit": False,
        }
    )
    meta = consumer.list_topics(topics.outcomes, timeout=10).topics[topics.outcomes]
    start = OFFSET_BEGINNING if from_beginning else OFFSET_END
    parts = [TopicPartition(topics.outcomes, p, start) for p in meta.partitions]
    consumer.assign(parts)
    idle_since = time.monotonic()
    try:
        while True:
            msg = consumer.poll(0.5)
            if msg is None:
                if not follow and time.monotonic() - idle_since > 2:
                    break
                continue
            idle_since = time.monotonic()
            if msg.error():
                continue
            try:
                record = codec.decode(msg.value() or b"", "outcome")
            except DecodeError as exc:
                click.echo(f"(undecodable outcome at offset {msg.offset()}: {exc})", err=True)
                continue
            if job_id and record.get("job_id") != job_id:
                continue
            click.echo(json.dumps(record, default=str) if as_json else format_outcome(record))
    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()


def format_outcome(o: dict[str, Any]) -> str:
    """One readable line per outcome."""
    when = time.strftime("%H:%M:%S", time.localtime(o["log_time"] / 1000))
    parts = [when, f"{o['status']:<9}", o["channel"], o["job_id"]]
    if o.get("provider"):
        parts.append(f"via {o['provider']}")
    if o.get("response_status") is not None:
        parts.append(f"http={o['response_status']}")
    if o.get("latency_ms") is not None:
        parts.append(f"{o['latency_ms']:.0f}ms")
    if o.get("attempt", 1) > 1:
        parts.append(f"attempt={o['attempt']}")
    if o.get("error"):
        parts.append(f"error={o['error']}")
    return " ".join(str(p) for p in parts)
