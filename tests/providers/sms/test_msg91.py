"""MSG91 adapter (``providers/sms/msg91.py``): Flow, SendOTP v5 and v2, on a loopback server."""

from __future__ import annotations

from typing import Any

import pytest

from fusion_stream.envelope import Job
from fusion_stream.errors import ConfigurationError, PermanentError, TransientError
from providers.sms.msg91 import Msg91

#: what Flow and v2 answer (the message is the request id used in DLRs)
SENT = {"type": "success", "message": "3763646c3058373530393938"}
#: what SendOTP v5 answers
OTP_SENT = {"type": "success", "request_id": "3567736c53515771356c4878"}


def sms_job(channel: str = "sms", **payload: Any) -> Job:
    base = {"contact": "9876543210", "countryCode": "91", "message": "Your report is ready"}
    return Job(job_id="job-1", channel=channel, payload={**base, **payload})


def flow_job(**payload: Any) -> Job:
    return sms_job(
        config={"provider": "msg91", "template_id": "64a1f0c2d6fc0512", "dlt_template_id": None},
        variables={"name": "Ada", "time": "10:30"},
        **payload,
    )


def otp_job(**payload: Any) -> Job:
    fields = {"isOTP": True, "otp": "482913", "message": "482913 is your code", **payload}
    return sms_job("sms.otp", **fields)


def settings(base_url: str, **extra: str) -> dict[str, str]:
    return {"authkey": "k3y", "sender": "ACMEHC", "base_url": base_url, **extra}


class FlowContract:
    """The shared suite through the Flow API."""

    provider = Msg91
    reply = {"status": 200, "json_body": SENT}
    message_id = SENT["message"]

    @staticmethod
    def job(base_url: str) -> Job:
        return flow_job()

    @staticmethod
    def config(base_url: str) -> dict[str, str]:
        return settings(base_url)


class LegacyContract(FlowContract):
    """The shared suite through the v2 send API."""

    @staticmethod
    def job(base_url: str) -> Job:
        return sms_job()


class OtpContract(FlowContract):
    """The shared suite through SendOTP v5."""

    reply = {"status": 200, "json_body": OTP_SENT}
    message_id = OTP_SENT["request_id"]

    @staticmethod
    def config(base_url: str) -> dict[str, str]:
        return settings(base_url, otp_template_id="otp-tpl-1")

    @staticmethod
    def job(base_url: str) -> Job:
        return otp_job()


CONTRACTS = [FlowContract, LegacyContract, OtpContract]


@pytest.fixture
def msg91(context, provider_config, server) -> Msg91:
    provider_config["msg91"] = settings(server.url, otp_template_id="otp-tpl-1")
    return Msg91(context)


async def test_flow_request(msg91, server) -> None:
    server.reply(json_body=SENT)
    result = await msg91.send(flow_job(senderId="CLINIC"))
    (request,) = server.requests
    assert (request.method, request.path) == ("POST", "/api/v5/flow/")
    assert request.headers["authkey"] == "k3y"
    assert request.headers["Content-Type"] == "application/json"
    assert request.json() == {
        "template_id": "64a1f0c2d6fc0512",
        "short_url": "0",
        "sender": "CLINIC",
        "recipients": [{"mobiles": "919876543210", "name": "Ada", "time": "10:30"}],
    }
    assert result.message_id == SENT["message"] and result.details["api"] == "flow"


@pytest.mark.parametrize("flow_auth", [{"flow_id": "6123"}, {"template_id": "6123"}])
async def test_flow_template_from_flow_auth(msg91, server, flow_auth) -> None:
    server.reply(json_body=SENT)
    await msg91.send(sms_job(flowAuth={"authkey_ref": "vault:msg91", **flow_auth}))
    assert server.requests[0].path == "/api/v5/flow/"
    assert server.requests[0].json()["template_id"] == "6123"


async def test_legacy_v2_request(msg91, server) -> None:
    server.reply(json_body=SENT)
    job = sms_job(config={"dlt_template_id": "1107161234567890123", "route": None})
    result = await msg91.send(job)
    (request,) = server.requests
    assert (request.method, request.path) == ("POST", "/api/v2/sendsms")
    assert request.headers["authkey"] == "k3y"
    assert request.json() == {
        "sender": "ACMEHC",
        "route": "4",
        "country": "91",
        "unicode": 0,
        "sms": [{"message": "Your report is ready", "to": ["919876543210"]}],
        "DLT_TE_ID": "1107161234567890123",
    }
    assert result.details["api"] == "v2"


async def test_legacy_v2_unicode_route_and_international(msg91, server) -> None:
    server.reply(json_body=SENT)
    job = sms_job(contact="+966501234567", message="موعدك غدا", config={"route": "1"})
    await msg91.send(job)
    body = server.requests[0].json()
    assert (body["country"], body["unicode"], body["route"]) == ("0", 1, "1")
    assert body["sms"][0]["to"] == ["966501234567"]


async def test_legacy_v2_needs_a_sender(context, provider_config, server) -> None:
    provider_config["msg91"] = {"authkey": "k", "base_url": server.url}
    with pytest.raises(ConfigurationError, match="sender"):
        await Msg91(context).send(sms_job())
    assert server.requests == []


async def test_send_otp_request(msg91, server) -> None:
    server.reply(json_body=OTP_SENT)
    result = await msg91.send(otp_job(variables={"company": "Acme"}))
    (request,) = server.requests
    assert (request.method, request.path) == ("POST", "/api/v5/otp")
    assert request.headers["authkey"] == "k3y"
    assert dict(request.query) == {
        "template_id": "otp-tpl-1",
        "mobile": "919876543210",
        "otp": "482913",
    }
    assert request.json() == {"company": "Acme"}
    assert result.message_id == OTP_SENT["request_id"] and result.details["api"] == "otp"


@pytest.mark.parametrize(
    ("job", "api"),
    [
        (sms_job(isOTP=True, otp="1234"), "otp"),  # isOTP on the sms topic
        (otp_job(config={"template_id": "event-otp-tpl"}), "otp"),
        (otp_job(contact="+447400123456"), "v2"),  # SendOTP only for Indian numbers
        (otp_job(otp=None), "v2"),  # no code of our own: MSG91 would invent another
        (sms_job(isOTP=False, otp="1234"), "v2"),
        (flow_job(isOTP=True), "flow"),  # no otp field: the Flow template sends the text
    ],
)
async def test_api_choice(msg91, job, api) -> None:
    assert msg91.api_for(job)[0] == api


async def test_otp_uses_the_event_template(msg91, server) -> None:
    server.reply(json_body=OTP_SENT)
    await msg91.send(otp_job(config={"template_id": "event-otp-tpl"}))
    assert server.requests[0].query["template_id"] == "event-otp-tpl"


async def test_otp_without_any_template_falls_back_to_v2(context, provider_config, server):
    provider_config["msg91"] = settings(server.url)
    server.reply(json_body=SENT)
    await Msg91(context).send(otp_job())
    assert server.requests[0].path == "/api/v2/sendsms"


async def test_otp_answer_with_message_only(msg91, server) -> None:
    server.reply(json_body={"type": "success", "message": "3763646c3058373530393938"})
    assert (await msg91.send(otp_job())).message_id == "3763646c3058373530393938"


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("306", TransientError),  # route time window
        ("202", PermanentError),  # invalid mobile
        ("203", PermanentError),  # invalid sender / DLT
        ("207", PermanentError),  # invalid authkey
        ("301", PermanentError),  # insufficient balance
        ("311", PermanentError),  # duplicate within 10 s: never resent
        ("418", PermanentError),  # IP not whitelisted
        (106, PermanentError),  # codes may come as numbers
        ("999", PermanentError),  # unknown
    ],
)
@pytest.mark.parametrize("make_job", [flow_job, sms_job, otp_job], ids=["flow", "v2", "otp"])
async def test_200_error_body(msg91, server, code, kind, make_job) -> None:
    server.reply(json_body={"type": "error", "message": "Authentication failure", "code": code})
    with pytest.raises(kind) as info:
        await msg91.send(make_job())
    assert type(info.value) is kind
    assert f"code {code}" in str(info.value) and "Authentication failure" in str(info.value)


async def test_error_without_code_is_permanent(msg91, server) -> None:
    server.reply(json_body={"type": "error", "message": "Invalid template"})
    with pytest.raises(PermanentError, match="Invalid template"):
        await msg91.send(otp_job())


async def test_4xx_error_body_maps_its_code(msg91, server) -> None:
    server.reply(status=401, json_body={"type": "error", "message": "slow", "code": "306"})
    with pytest.raises(TransientError, match="code 306"):
        await msg91.send(flow_job())
