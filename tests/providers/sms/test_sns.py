"""SNS adapter (``providers/sms/sns.py``): moto for the API, a loopback server for the wire."""

from __future__ import annotations

import dataclasses
import threading
from typing import Any
from urllib.parse import parse_qs

import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sns.models import sns_backends

from fusion_stream.envelope import Job
from fusion_stream.errors import ConfigurationError, PermanentError, TransientError
from fusion_stream.ratelimit import RateLimiter
from providers.sms.sns import SnsSms

REGION = "ap-south-1"
XMLNS = "http://sns.amazonaws.com/doc/2010-03-31/"
PUBLISHED = (
    f'<PublishResponse xmlns="{XMLNS}"><PublishResult>'
    "<MessageId>567910cd-659e-55d4-8ccb-5aaf14679dc0</MessageId></PublishResult>"
    "<ResponseMetadata><RequestId>d74b8436-ae13-5ab4-a9ff-ce54dfea72a0</RequestId>"
    "</ResponseMetadata></PublishResponse>"
)


def aws_error(code: str, message: str, kind: str = "Sender") -> str:
    return (
        f'<ErrorResponse xmlns="{XMLNS}"><Error><Type>{kind}</Type><Code>{code}</Code>'
        f"<Message>{message}</Message></Error><RequestId>r-1</RequestId></ErrorResponse>"
    )


def sms_job(**payload: Any) -> Job:
    base = {"contact": "9876543210", "countryCode": "91", "message": "Your report is ready"}
    return Job(job_id="job-1", channel="sms", payload={**base, **payload})


def settings(**extra: str) -> dict[str, str]:
    return {
        "region": REGION,
        "aws_access_key_id": "AKIDEXAMPLE",
        "aws_secret_access_key": "wJalrXUtnFEMI/K7MDENG",
        **extra,
    }


@pytest.fixture
def sns(context, provider_config) -> SnsSms:
    provider_config["sns"] = settings()
    return SnsSms(context)


@pytest.fixture
def wired(context, provider_config, server) -> SnsSms:
    """The adapter pointed at the loopback server (``base_url``), 2 s timeouts."""
    provider_config["sns"] = settings(base_url=server.url, timeout="2")
    return SnsSms(context)


def published(request: Any) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.body.decode()).items()}


async def test_publish_through_moto(sns) -> None:
    with mock_aws():
        result = await sns.send(sms_job())
        messages = sns_backends[DEFAULT_ACCOUNT_ID][REGION].sms_messages
    assert messages[result.message_id] == ("+919876543210", "Your report is ready")
    assert result.provider == "sns" and result.status == 200


async def test_publish_runs_off_the_event_loop(sns) -> None:
    threads: list[str] = []

    def record(**kwargs: Any) -> None:
        threads.append(threading.current_thread().name)

    with mock_aws():
        await sns.send(sms_job())  # makes the client
        sns._client[1].meta.events.register("before-call.sns.Publish", record)
        await sns.send(sms_job())
    assert threads and threads[0] != threading.main_thread().name


async def test_wire_request_is_a_signed_publish(wired, server) -> None:
    server.reply(body=PUBLISHED, headers={"Content-Type": "text/xml"})
    job = sms_job(senderId="ACMEHC", config={"dlt_template_id": "1107161234567890123"})
    result = await wired.send(job)
    (request,) = server.requests
    assert (request.method, request.path) == ("POST", "/")
    auth = request.headers["Authorization"]
    assert auth.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert f"/{REGION}/sns/aws4_request" in auth
    form = published(request)
    assert (form["Action"], form["PhoneNumber"]) == ("Publish", "+919876543210")
    assert form["Message"] == "Your report is ready"
    attributes = {
        form[f"MessageAttributes.entry.{n}.Name"]: (
            form[f"MessageAttributes.entry.{n}.Value.DataType"],
            form[f"MessageAttributes.entry.{n}.Value.StringValue"],
        )
        for n in range(1, 4)
    }
    assert attributes == {
        "AWS.SNS.SMS.SMSType": ("String", "Transactional"),
        "AWS.SNS.SMS.SenderID": ("String", "ACMEHC"),
        "AWS.MM.SMS.TemplateId": ("String", "1107161234567890123"),
    }
    assert result.message_id == "567910cd-659e-55d4-8ccb-5aaf14679dc0"


@pytest.mark.parametrize(
    ("contact", "india"),
    [("9876543210", True), ("+447400123456", False)],
)
def test_india_dlt_attributes_only_for_91(context, provider_config, contact, india) -> None:
    provider_config["sns"] = settings(entity_id="1101000000000012", template_id="1107000000000099")
    params = SnsSms(context).publish_params(sms_job(contact=contact))
    names = set(params["MessageAttributes"])
    assert ({"AWS.MM.SMS.EntityId", "AWS.MM.SMS.TemplateId"} <= names) is india
    assert params["MessageAttributes"]["AWS.SNS.SMS.SMSType"]["StringValue"] == "Transactional"


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (400, "InvalidParameter", PermanentError),
        (400, "ParameterValueInvalid", PermanentError),
        (400, "ValidationException", PermanentError),
        (403, "AuthorizationError", PermanentError),
        (403, "InvalidSecurity", PermanentError),
        (400, "OptedOutException", PermanentError),
        (400, "Throttling", TransientError),
        (400, "ThrottledException", TransientError),
        (400, "KMSThrottling", TransientError),
        (429, "TooManyRequestsException", TransientError),
        (500, "InternalError", TransientError),
        (503, "SomethingNew", TransientError),  # unknown code, server side
        (400, "SomethingNew", PermanentError),
    ],
)
async def test_error_codes(wired, server, status, code, kind) -> None:
    server.reply(
        status=status, body=aws_error(code, "refused"), headers={"Content-Type": "text/xml"}
    )
    with pytest.raises(kind) as info:
        await wired.send(sms_job())
    assert type(info.value) is kind
    assert f"code {code}" in str(info.value) and f"status={status}" in str(info.value)
    assert len(server.requests) == 1  # botocore does not retry on its own


async def test_error_text_masks_the_number(wired, server) -> None:
    message = "Invalid parameter: PhoneNumber Reason: +919876543210 is not valid to publish to"
    server.reply(status=400, body=aws_error("InvalidParameter", message))
    with pytest.raises(PermanentError) as info:
        await wired.send(sms_job())
    assert "9876543210" not in info.value.one_line() and "3210" in info.value.one_line()


async def test_connection_refused_is_transient(context, provider_config, refused_url) -> None:
    provider_config["sns"] = settings(base_url=refused_url)
    with pytest.raises(TransientError, match="Publish"):
        await SnsSms(context).send(sms_job())


async def test_timeout_is_transient(context, provider_config, server) -> None:
    provider_config["sns"] = settings(base_url=server.url, timeout="0.2")
    server.reply(hang=True)
    with pytest.raises(TransientError, match="Timeout"):
        await SnsSms(context).send(sms_job())


async def test_missing_region_is_a_configuration_error(context, provider_config) -> None:
    provider_config["sns"] = {"aws_access_key_id": "AKID", "aws_secret_access_key": "s"}
    with pytest.raises(ConfigurationError, match="'region'"):
        await SnsSms(context).send(sms_job())


async def test_client_follows_settings_changes(sns, provider_config) -> None:
    with mock_aws():
        await sns.send(sms_job())
        first = sns._client
        await sns.send(sms_job())
        assert sns._client is first
        provider_config["sns"] = settings(sms_type="Promotional")
        await sns.send(sms_job())
        assert sns._client is not first


def test_too_long_text_is_rejected(sns) -> None:
    with pytest.raises(PermanentError, match="1601 characters"):
        sns.publish_params(sms_job(message="x" * 1601))


async def test_throttling_slows_the_account_down(context, provider_config, server) -> None:
    limiter = RateLimiter()
    limited = dataclasses.replace(context, limiter=limiter)
    provider_config["sns"] = settings(base_url=server.url, timeout="2", rate_per_second="20")
    adapter = SnsSms(limited)
    server.reply(status=400, body=aws_error("Throttling", "Rate exceeded"))
    with pytest.raises(TransientError):
        await adapter.send(sms_job())
    assert len(server.requests) == 1  # it took a token: the call was throttled first
    bucket = limiter.bucket(adapter.rate_key(), 20.0)
    assert bucket is not None and bucket.tokens() == 0  # penalised: no send for a while
