"""The SES adapter against moto on loopback (server mode); SES error answers stubbed in botocore.

SES is not an HttpProvider, so the shared contract suite does not cover it: this module does.
"""

from __future__ import annotations

import io
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber
from moto.core import DEFAULT_ACCOUNT_ID
from moto.server import ThreadedMotoServer
from moto.ses.models import ses_backends

from fusion_stream.envelope import Job
from fusion_stream.errors import (
    ConfigurationError,
    PermanentError,
    RejectedError,
    TransientError,
)
from fusion_stream.outcomes import Status
from fusion_stream.retry import Action, decide
from fusion_stream.settings import ROOT
from fusion_stream.topics import load_topics
from providers.base import ProviderContext
from providers.email._aws import (
    ACCOUNT_PAUSED,
    CONFIG_SET_PAUSED,
    MAIL_FROM,
    PUBLISHED,
    QUOTA_RETRY_AFTER,
    REJECTED,
    SERVER_ERROR,
)
from providers.email.ses import SesEmail, message_tags
from providers.registry import discover

SENDER = "noreply@clinic.com"
POLICY = load_topics(ROOT / "topics.yaml").channel("email").retry


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def aws(service: str, url: str) -> Any:
    return boto3.client(
        service,
        region_name="us-east-1",
        endpoint_url=url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture
def s3(moto_url: str) -> Any:
    """moto reset, the sender verified, bucket ``docs`` created; the S3 client of the test."""
    urllib.request.urlopen(urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST"))
    aws("sesv2", moto_url).create_email_identity(EmailIdentity=SENDER)
    client = aws("s3", moto_url)
    client.create_bucket(Bucket="docs")
    return client


@pytest.fixture
def ses_config(moto_url: str, tmp_path: Path, provider_config: dict[str, Any]) -> dict[str, str]:
    config = {
        "endpoint_url": moto_url,
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
        "temp_dir": str(tmp_path / "work"),
    }
    (tmp_path / "work").mkdir()
    provider_config["ses"] = config
    return config


class CountingExecutor(ThreadPoolExecutor):
    """Records what ran off the event loop."""

    def __init__(self) -> None:
        super().__init__(max_workers=4)
        self.ran: list[str] = []

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        inner = getattr(fn, "func", fn)
        self.ran.append(getattr(inner, "__name__", type(inner).__name__))
        return super().submit(fn, *args, **kwargs)


@pytest.fixture
async def adapter(context: ProviderContext, ses_config: dict[str, str]) -> Any:
    executor = CountingExecutor()
    instance = SesEmail(replace(context, executor=executor))
    yield instance
    await instance.close()
    executor.shutdown()


def job(**payload: Any) -> Job:
    base: dict[str, Any] = {
        "job_id": "job-1",
        "task_type": "appointment reminder",
        "tenant": "acme health",
        "to": ["pat@x.com"],
        "cc": [],
        "bcc": [],
        "subject": "Your appointment",
        "message": "<p>See you <b>tomorrow</b></p>",
        "sender_name": "City Clinic",
        "config": {
            "provider": "ses",
            "config_fields": {
                "sender_id_name": "Clinic Desk",
                "sender_id_email": SENDER,
                "reply_to": "desk@clinic.com",
            },
        },
        "files": [],
        "is_template": False,
    }
    base.update(payload)
    return Job(job_id=base["job_id"], channel="email", payload=base)


def sent() -> list[Any]:
    return list(ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages)


def parse(raw: str) -> EmailMessage:
    message = message_from_bytes(raw.encode(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def keys(s3: Any) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket="docs").get("Contents", [])]


def test_registered_as_ses_for_email() -> None:
    assert discover("email").get("email", "ses") is SesEmail


async def test_plain_email_arrives_with_the_right_headers(adapter: SesEmail, s3: Any) -> None:
    result = await adapter.send(
        job(to=["pat@x.com", "bad@", "na@na.com"], cc=["cc@x.com"], bcc=["audit@x.com"])
    )
    assert result.provider == "ses" and result.message_id and result.status == 200
    assert result.details["message"] == PUBLISHED
    assert result.details["task"] == "send_plain_email"
    assert result.details["recipients"] == 3
    assert [(d["field"], d["index"]) for d in result.details["dropped_recipients"]] == [
        ("to", 1),
        ("to", 2),
    ]
    [message] = sent()
    assert message.id == result.message_id
    assert "audit@x.com" in message.destinations  # Bcc: envelope only
    headers = parse(message.raw_data)
    assert headers["From"] == f"City Clinic <{SENDER}>"  # the event's sender_name wins
    assert headers["To"] == "pat@x.com" and headers["Cc"] == "cc@x.com"
    assert headers["Reply-To"] == "desk@clinic.com"
    assert headers["Bcc"] is None and "audit@" not in message.raw_data
    text = headers.get_body(("plain",))
    assert text is not None and text.get_content().strip() == "See you tomorrow"
    assert adapter.context.executor.ran.count("call_ses") == 1  # type: ignore[union-attr]


async def test_sender_name_falls_back_to_config_then_settings(
    adapter: SesEmail, s3: Any, ses_config: dict[str, str]
) -> None:
    await adapter.send(job(sender_name=None))
    assert parse(sent()[-1].raw_data)["From"] == f"Clinic Desk <{SENDER}>"
    ses_config["sender_name"] = "Default Name"
    await adapter.send(job(sender_name=None, config={"config_fields": {"sender_id_email": SENDER}}))
    assert parse(sent()[-1].raw_data)["From"] == f"Default Name <{SENDER}>"


async def test_configuration_set_and_tags_are_sent(adapter: SesEmail, s3: Any) -> None:
    clients = await adapter.clients(adapter.settings)
    with Stubber(clients.ses) as stub:
        stub.add_response(
            "send_email",
            {"MessageId": "m-1"},
            expected_params={
                "FromEmailAddress": SENDER,
                "Destination": {"ToAddresses": ["pat@x.com"], "BccAddresses": ["b@x.com"]},
                "Content": {"Raw": {"Data": ANY}},
                "ConfigurationSetName": "lh_email_tracker",
                "EmailTags": [
                    {"Name": "task_type", "Value": "appointment_reminder"},
                    {"Name": "tenant", "Value": "acme_health"},
                ],
            },
        )
        result = await adapter.send(job(bcc=["b@x.com"]))
        stub.assert_no_pending_responses()
    assert result.message_id == "m-1"


def test_message_tags_are_sanitised() -> None:
    tags = message_tags(job(task_type="Rappel: rendez-vous é/ü", tenant=None))
    assert tags == [{"Name": "task_type", "Value": "Rappel__rendez-vous____"}]
    assert message_tags(job(task_type="", tenant="x" * 300)) == [
        {"Name": "tenant", "Value": "x" * 256}
    ]


async def test_template_with_attachments_arrives_intact_and_s3_objects_are_deleted(
    adapter: SesEmail, s3: Any, tmp_path: Path
) -> None:
    pdf = b"%PDF-1.4\x00\xff" + bytes(range(256)) * 400
    s3.put_object(Bucket="docs", Key="r/résumé 1.pdf", Body=pdf, ContentType="application/pdf")
    s3.put_object(Bucket="docs", Key="list.csv", Body=b"a,b\n1,2\n")
    result = await adapter.send(
        job(
            files=[
                "https://docs.s3.us-east-1.amazonaws.com/r/r%C3%A9sum%C3%A9%201.pdf",
                "https://s3.amazonaws.com/docs/list.csv",
            ],
            is_template=True,
            template="<h1>Report</h1><p>Attached.</p>",
        )
    )
    assert result.details["task"] == "send_template_attachment_email"
    assert result.details["attachments"] == [
        {"file": "résumé 1.pdf", "bytes": len(pdf)},
        {"file": "list.csv", "bytes": 8},
    ]
    message = parse(sent()[-1].raw_data)
    html = message.get_body(("html",))
    assert html is not None and "<h1>Report</h1>" in html.get_content()
    parts = list(message.iter_attachments())
    assert [p.get_filename() for p in parts] == ["résumé 1.pdf", "list.csv"]
    assert [p.get_content_type() for p in parts] == ["application/pdf", "text/csv"]
    assert parts[0].get_payload(decode=True) == pdf
    assert parts[1].get_payload(decode=True) == b"a,b\n1,2\n"
    assert keys(s3) == []  # deleted once SES accepted
    assert list((tmp_path / "work").iterdir()) == []  # and the temporary copies too
    ran = adapter.context.executor.ran  # type: ignore[union-attr]
    assert {"_download", "build_message", "call_ses", "_delete"} <= set(ran)


async def test_ses_rejection_leaves_s3_objects_and_a_retry_refetches(
    adapter: SesEmail, s3: Any, moto_url: str, tmp_path: Path
) -> None:
    s3.put_object(Bucket="docs", Key="a.pdf", Body=b"pdf")
    event = job(
        files=["s3://docs/a.pdf"],
        config={"config_fields": {"sender_id_email": "unverified@clinic.com"}},
    )
    with pytest.raises(PermanentError) as info:
        await adapter.send(event)
    assert info.value.outcome_message == REJECTED  # type: ignore[attr-defined]
    assert "Message Rejected by SES: MessageRejected" in str(info.value)
    assert keys(s3) == ["a.pdf"] and sent() == []
    assert list((tmp_path / "work").iterdir()) == []
    # The operator verifies the sender and replays: the file is fetched again and sent.
    aws("sesv2", moto_url).create_email_identity(EmailIdentity="unverified@clinic.com")
    result = await adapter.send(event)
    assert result.details["attachments"] == [{"file": "a.pdf", "bytes": 3}]
    assert keys(s3) == []


async def test_missing_s3_object_is_permanent_with_the_key(adapter: SesEmail, s3: Any) -> None:
    s3.put_object(Bucket="docs", Key="here.pdf", Body=b"x")
    with pytest.raises(PermanentError, match=r"'reports/gone\.pdf'") as info:
        await adapter.send(job(files=["s3://docs/here.pdf", "s3://docs/reports/gone.pdf"]))
    assert not isinstance(info.value, TransientError)
    assert sent() == [] and keys(s3) == ["here.pdf"]


async def test_oversized_attachment_is_rejected_before_any_send(
    adapter: SesEmail, s3: Any, ses_config: dict[str, str]
) -> None:
    ses_config["max_attachment_bytes"] = "1000"
    s3.put_object(Bucket="docs", Key="big.bin", Body=b"x" * 1001)
    with pytest.raises(RejectedError, match=r"big\.bin is 1001 bytes"):
        await adapter.send(job(files=["s3://docs/big.bin"]))
    assert sent() == [] and keys(s3) == ["big.bin"]
    assert "call_ses" not in adapter.context.executor.ran  # type: ignore[union-attr]


async def test_attachments_over_the_ses_message_limit_are_rejected_before_any_send(
    adapter: SesEmail, s3: Any, ses_config: dict[str, str]
) -> None:
    ses_config["max_message_bytes"] = "4000"  # 3000 bytes of attachments fit, base64'd
    s3.put_object(Bucket="docs", Key="a.bin", Body=b"a" * 2900)
    s3.put_object(Bucket="docs", Key="b.bin", Body=b"b" * 1500)
    with pytest.raises(RejectedError, match=r"b\.bin is 1500 bytes; at most 100 "):
        await adapter.send(job(files=["s3://docs/a.bin", "s3://docs/b.bin"]))
    s3.delete_object(Bucket="docs", Key="b.bin")
    with pytest.raises(RejectedError, match=r"message is \d+ bytes; SES \(v2\) takes at most 4000"):
        await adapter.send(job(files=["s3://docs/a.bin"]))  # the built message is checked too
    assert sent() == [] and keys(s3) == ["a.bin"]


async def test_delete_failure_is_reported_not_raised(adapter: SesEmail, s3: Any) -> None:
    clients = await adapter.clients(adapter.settings)
    with Stubber(clients.s3(None)) as stub:
        stub.add_response(
            "get_object",
            {"Body": StreamingBody(io.BytesIO(b"data"), 4), "ContentLength": 4},
            {"Bucket": "docs", "Key": "a.txt"},
        )
        stub.add_client_error("delete_object", "AccessDenied", "denied", 403)
        result = await adapter.send(job(files=["s3://docs/a.txt"]))
    assert result.details["message"] == PUBLISHED  # the email is out: never sent again
    assert result.details["attachments_not_deleted"] == ["s3://docs/a.txt"]


async def test_no_valid_recipient_is_rejected(adapter: SesEmail, s3: Any) -> None:
    with pytest.raises(RejectedError, match=r"no valid recipient \(to\[0\] invalid: .*blacklisted"):
        await adapter.send(job(to=["broken"], cc=["na@na.com"]))
    with pytest.raises(RejectedError, match="none given"):
        await adapter.send(job(to=[]))
    assert sent() == []


async def test_too_many_recipients_is_rejected(adapter: SesEmail, s3: Any) -> None:
    with pytest.raises(RejectedError, match="51 recipients; SES takes at most 50"):
        await adapter.send(job(to=[f"p{i}@x.com" for i in range(51)]))


async def test_sender_comes_from_the_event_or_the_setting(
    adapter: SesEmail, s3: Any, ses_config: dict[str, str]
) -> None:
    no_sender = job(config={"config_fields": {}})
    with pytest.raises(ConfigurationError, match="no sender address"):
        await adapter.send(no_sender)
    ses_config["sender_email"] = SENDER
    assert (await adapter.send(no_sender)).details["message"] == PUBLISHED
    with pytest.raises(RejectedError, match="sender address is invalid"):
        await adapter.send(job(config={"config_fields": {"sender_id_email": "nope"}}))


async def test_v1_send_raw_email(adapter: SesEmail, s3: Any, ses_config: dict[str, str]) -> None:
    ses_config["api"] = "v1"
    result = await adapter.send(job(bcc=["audit@x.com"]))
    assert result.details["message"] == PUBLISHED
    [message] = sent()
    assert "audit@x.com" in message.destinations and "audit@" not in message.raw_data


async def test_unreachable_ses_is_transient_server_error(
    adapter: SesEmail, s3: Any, ses_config: dict[str, str], refused_url: str
) -> None:
    ses_config["endpoint_url"] = refused_url
    with pytest.raises(TransientError) as info:
        await adapter.send(job())
    assert info.value.outcome_message == SERVER_ERROR  # type: ignore[attr-defined]
    assert "EndpointConnectionError" in str(info.value)


V2_ERRORS = [
    # code, HTTP status, message, error class, old outcome string, alert
    ("MessageRejected", 400, "Email address is not verified.", PermanentError, REJECTED, False),
    ("MailFromDomainNotVerifiedException", 400, "MX", PermanentError, MAIL_FROM, True),
    (
        "SendingPausedException",
        400,
        "Sending is paused for configuration set lh_email_tracker",
        PermanentError,
        CONFIG_SET_PAUSED,
        True,
    ),
    ("SendingPausedException", 400, "Sending paused for this account.", PermanentError,
     ACCOUNT_PAUSED, True),
    ("MessageRejected", 400, "Sending paused for this account. For more information, ...",
     PermanentError, ACCOUNT_PAUSED, True),
    ("AccountSuspendedException", 400, "restricted", PermanentError, ACCOUNT_PAUSED, True),
    ("TooManyRequestsException", 429, "Too many requests", TransientError, SERVER_ERROR, False),
    ("Throttling", 400, "Maximum sending rate exceeded.", TransientError, SERVER_ERROR, False),
    ("InternalFailure", 500, "boom", TransientError, SERVER_ERROR, False),
    ("ServiceUnavailableNew", 503, "later", TransientError, SERVER_ERROR, False),
    ("NotFoundException", 404, "Configuration set does not exist", PermanentError, SERVER_ERROR,
     True),
    ("BadRequestException", 400, "bad", PermanentError, SERVER_ERROR, False),
    ("LimitExceededException", 400, "too many", PermanentError, SERVER_ERROR, False),
]  # fmt: skip
V1_ERRORS = [
    ("MessageRejected", 400, "Illegal address", PermanentError, REJECTED, False),
    ("MailFromDomainNotVerifiedException", 400, "MX", PermanentError, MAIL_FROM, True),
    ("ConfigurationSetSendingPausedException", 400, "paused", PermanentError, CONFIG_SET_PAUSED,
     True),
    ("AccountSendingPausedException", 400, "paused", PermanentError, ACCOUNT_PAUSED, True),
    ("ConfigurationSetDoesNotExist", 400, "missing", PermanentError, SERVER_ERROR, True),
    ("Throttling", 400, "Maximum sending rate exceeded.", TransientError, SERVER_ERROR, False),
]  # fmt: skip


@pytest.mark.parametrize(
    ("api", "code", "status", "text", "kind", "outcome", "alert"),
    [("v2", *case) for case in V2_ERRORS] + [("v1", *case) for case in V1_ERRORS],
)
async def test_old_error_states(
    adapter: SesEmail,
    s3: Any,
    ses_config: dict[str, str],
    api: str,
    code: str,
    status: int,
    text: str,
    kind: type[Exception],
    outcome: str,
    alert: bool,
) -> None:
    ses_config["api"] = api
    s3.put_object(Bucket="docs", Key="keep.pdf", Body=b"x")
    clients = await adapter.clients(adapter.settings)
    with Stubber(clients.ses) as stub:
        operation = "send_email" if api == "v2" else "send_raw_email"
        stub.add_client_error(operation, code, text, status)
        with pytest.raises(kind) as info:
            await adapter.send(job(files=["s3://docs/keep.pdf"]))
    error = info.value
    assert error.outcome_message == outcome  # type: ignore[attr-defined]
    assert error.alert is alert  # type: ignore[attr-defined]
    assert str(error).startswith(f"provider=ses status={status} {outcome}: {code}")
    assert keys(s3) == ["keep.pdf"]  # nothing deleted: SES did not accept
    decision = decide(error, attempt=1, policy=POLICY, now_ms=0, born_ms=0)
    if kind is TransientError:
        assert decision.action is Action.RETRY
    else:
        assert (decision.action, decision.status) == (Action.DEAD_LETTER, Status.FAILED)


async def test_daily_quota_waits_long_and_rate_throttling_backs_off(
    adapter: SesEmail, s3: Any
) -> None:
    clients = await adapter.clients(adapter.settings)
    with Stubber(clients.ses) as stub:
        stub.add_client_error("send_email", "Throttling", "Daily message quota exceeded.", 400)
        stub.add_client_error("send_email", "Throttling", "Maximum sending rate exceeded.", 400)
        with pytest.raises(TransientError) as daily:
            await adapter.send(job())
        with pytest.raises(TransientError) as rate:
            await adapter.send(job())
    assert daily.value.retry_after == QUOTA_RETRY_AFTER
    assert rate.value.retry_after is None
    assert daily.value.throttled and rate.value.throttled  # type: ignore[attr-defined]
    tier = decide(daily.value, attempt=1, policy=POLICY, now_ms=0, born_ms=0).tier
    assert tier is not None and tier.delay_seconds >= QUOTA_RETRY_AFTER


async def test_settings_from_env_style_strings(
    adapter: SesEmail, s3: Any, ses_config: dict[str, str]
) -> None:
    ses_config.update(
        blacklist="vip@x.com, @blocked.io",
        max_attachment_bytes="2000",
        configuration_set="",
        api="v1",
    )
    settings = adapter.settings
    assert settings.blacklist == ("vip@x.com", "@blocked.io")
    assert settings.max_attachment_bytes == 2000 and settings.message_limit == 10_000_000
    result = await adapter.send(job(to=["vip@x.com", "a@blocked.io", "na@na.com"]))
    assert result.details["recipients"] == 1  # na@na.com: the default list was replaced
    ses_config["blacklist"] = '["only@x.com"]'
    assert adapter.settings.blacklist == ("only@x.com",)


@pytest.mark.parametrize(
    ("config", "named"),
    [
        ({"aws_access_key_id": "AKIA"}, "aws_access_key_id and aws_secret_access_key"),
        ({"api": "v3"}, "'api'"),
        ({"max_message_bytes": "0"}, "'max_message_bytes'"),
        ({"sender_emial": "x@y.com"}, "'sender_emial'"),  # a typo is not silently ignored
    ],
)
async def test_invalid_settings_are_configuration_errors(
    adapter: SesEmail, provider_config: dict[str, Any], config: dict[str, str], named: str
) -> None:
    provider_config["ses"] = config
    with pytest.raises(ConfigurationError, match=named) as info:
        await adapter.send(job())
    assert "AKIA" not in str(info.value)
