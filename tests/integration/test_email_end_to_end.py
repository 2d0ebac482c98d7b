"""End to end on the real broker: a worker subprocess sends email events through SES and S3 (moto
in server mode on loopback), and each event ends in its outcome."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import boto3
import pytest
from confluent_kafka import Consumer, Producer
from moto.core import DEFAULT_ACCOUNT_ID
from moto.server import ThreadedMotoServer
from moto.ses.models import ses_backends

from fusion_stream.codec import AvroCodec
from fusion_stream.settings import ROOT
from tests.conftest import TopicSet, bootstrap

pytestmark = pytest.mark.integration

CODEC = AvroCodec(ROOT / "schemas")
SENDER = "noreply@clinic.com"


@pytest.fixture
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"))
    yield url
    server.stop()


def aws(service: str, url: str) -> Any:
    return boto3.client(
        service,
        region_name="us-east-1",
        endpoint_url=url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def worker_env(moto_url: str) -> dict[str, str]:
    """Where the worker's SES adapter sends: its own settings, and the AWS SDK's standard
    variables (which boto3 reads when no endpoint setting reaches the adapter)."""
    return {
        "FUSION_PROVIDERS__SES__ENDPOINT_URL": moto_url,
        "FUSION_PROVIDERS__SES__AWS_ACCESS_KEY_ID": "testing",
        "FUSION_PROVIDERS__SES__AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }


def email_event(job_id: str, **fields: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "job_id": job_id,
        "task_type": "appointment_reminder",
        "tenant": "acme",
        "to": ["pat@x.com"],
        "cc": ["cc@x.com"],
        "bcc": ["audit@x.com"],
        "subject": f"Appointment {job_id}",
        "message": "<p>See you <b>tomorrow</b></p>",
        "sender_name": "City Clinic",
        "config": {
            "provider": "ses",
            "config_fields": {
                "sender_id_name": None,
                "sender_id_email": SENDER,
                "reply_to": "desk@clinic.com",
            },
        },
    }
    record.update(fields)
    return record


def produce(topic_set: TopicSet, records: list[dict[str, Any]]) -> None:
    topic = topic_set.config().channel("email").topic
    producer = Producer({"bootstrap.servers": bootstrap()})
    for record in records:
        value = CODEC.encode("email_request", record)
        producer.produce(topic, key=record["job_id"].encode(), value=value)
    assert producer.flush(60) == 0


def terminal_outcomes(topic_set: TopicSet, want: set[str], timeout: float = 180) -> dict[str, Any]:
    """The terminal outcome of each job in ``want`` (reads until all are in or time is up)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap(),
            "group.id": f"{topic_set.prefix}reader-{time.time()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic_set.config().outcomes])
    found: dict[str, Any] = {}
    deadline = time.monotonic() + timeout
    try:
        while set(found) != want and time.monotonic() < deadline:
            for msg in consumer.consume(100, 0.5):
                if msg.error() is None:
                    outcome = CODEC.decode(msg.value() or b"", "outcome")
                    if outcome["status"] != "retrying":
                        found[outcome["job_id"]] = outcome
    finally:
        consumer.close()
    return found


def parse(raw: str) -> EmailMessage:
    message = message_from_bytes(raw.encode(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_email_events_are_sent_through_ses_with_attachments(
    topic_set: TopicSet, worker_factory: Any, moto_url: str
) -> None:
    aws("sesv2", moto_url).create_email_identity(EmailIdentity=SENDER)
    s3 = aws("s3", moto_url)
    s3.create_bucket(Bucket="docs")
    report = b"%PDF-1.4\x00\xff" + bytes(range(256)) * 200
    s3.put_object(Bucket="docs", Key="reports/résumé.pdf", Body=report)
    s3.put_object(Bucket="docs", Key="kept.pdf", Body=b"kept")

    worker = worker_factory(topic_set, env=worker_env(moto_url))
    worker.start()
    produce(
        topic_set,
        [
            email_event("plain", to=["pat@x.com", "not-an-address"]),
            email_event(
                "attached",
                files=["https://docs.s3.us-east-1.amazonaws.com/reports/r%C3%A9sum%C3%A9.pdf"],
                is_template=True,
                template="<h1>Your report</h1>",
            ),
            email_event(
                "unverified",
                files=["s3://docs/kept.pdf"],
                config={"provider": "ses", "config_fields": {"sender_id_email": "x@stranger.io"}},
            ),
            email_event("nobody", to=["na@na.com"], cc=[], bcc=[]),
        ],
    )
    outcomes = terminal_outcomes(topic_set, {"plain", "attached", "unverified", "nobody"})
    assert set(outcomes) == {"plain", "attached", "unverified", "nobody"}, worker.log_text()[-3000:]

    plain, attached = outcomes["plain"], outcomes["attached"]
    assert {o["provider"] for o in outcomes.values()} == {"ses"}
    assert plain["status"] == "sent"
    result = plain["job_result"]
    assert result["message"] == "Published"
    assert plain["message"] == "Published"  # the old worker's state string, for dashboards
    assert plain["task"] == "send_plain_email"
    assert [d["field"] for d in result["dropped_recipients"]] == ["to"]
    assert attached["status"] == "sent"
    assert attached["task"] == "send_template_attachment_email"

    unverified = outcomes["unverified"]
    assert unverified["status"] == "failed"
    assert "Message Rejected by SES" in (unverified["error"] or "")
    assert unverified["message"] == "Message Rejected by SES"
    assert outcomes["nobody"]["status"] == "rejected"

    messages = {
        parse(m.raw_data)["Subject"]: m
        for m in ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages
    }
    assert set(messages) == {"Appointment plain", "Appointment attached"}
    sent = messages["Appointment plain"]
    assert sent.id == plain["provider_message_id"]
    headers = parse(sent.raw_data)
    assert headers["From"] == f"City Clinic <{SENDER}>"
    assert headers["Reply-To"] == "desk@clinic.com" and headers["Cc"] == "cc@x.com"
    assert headers["Bcc"] is None and "audit@x.com" in sent.destinations
    [part] = parse(messages["Appointment attached"].raw_data).iter_attachments()
    assert part.get_filename() == "résumé.pdf" and part.get_payload(decode=True) == report

    # Sent: the attachment is gone from S3. Rejected by SES: its attachment stays.
    remaining = [o["Key"] for o in s3.list_objects_v2(Bucket="docs").get("Contents", [])]
    assert remaining == ["kept.pdf"]
    assert worker.stop() == 0
