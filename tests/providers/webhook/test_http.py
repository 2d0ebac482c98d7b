"""Webhook adapter (``providers/webhook/http.py``) against a recording loopback server."""

from __future__ import annotations

from typing import Any

import pytest

from fusion_stream.envelope import Job
from fusion_stream.errors import DeliveryError, PermanentError, RejectedError, TransientError
from providers.http import MAX_RESPONSE_BYTES
from providers.webhook.http import HttpWebhook


def webhook_job(url: str, **payload: Any) -> Job:
    return Job(job_id="job-1", channel="webhook", payload={"url": url, **payload})


class CONTRACT:
    """Drives this adapter through the shared suite in tests/providers/test_contract.py."""

    provider = HttpWebhook
    reply = {"status": 200, "json_body": {"received": True}}
    message_id = None  # a webhook has no message id

    @staticmethod
    def job(base_url: str) -> Job:
        return webhook_job(f"{base_url}/hook", args={"patient": "p-1"}, isBody=1)

    @staticmethod
    def config(base_url: str) -> dict[str, str]:
        return {}


@pytest.fixture
def webhook(context) -> HttpWebhook:
    return HttpWebhook(context)


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE", "PATCH"])
async def test_each_method(webhook, server, method) -> None:
    result = await webhook.send(webhook_job(server.url_for("/hook"), method=method.lower()))
    assert result.status == 200
    assert [(r.method, r.path) for r in server.requests] == [(method, "/hook")]


async def test_post_is_the_default_method(webhook, server) -> None:
    await webhook.send(webhook_job(server.url_for("/hook")))
    assert server.requests[0].method == "POST"


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
async def test_is_body_1_sends_json(webhook, server, method) -> None:
    args = {"name": "Ada", "visits": [1, 2], "meta": {"a": None}}
    await webhook.send(webhook_job(server.url_for("/h"), method=method, args=args, isBody=1))
    request = server.requests[0]
    assert request.headers["Content-Type"].startswith("application/json")
    assert request.json() == args


@pytest.mark.parametrize("flag", [0, "0", None])
async def test_is_body_0_sends_form(webhook, server, flag) -> None:
    args = {"name": "Ada Lovelace", "age": 36, "tags": ["a", "b"], "skip": None}
    await webhook.send(webhook_job(server.url_for("/h"), args=args, isBody=flag))
    request = server.requests[0]
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.form() == [("name", "Ada Lovelace"), ("age", "36"), ("tags", "a"), ("tags", "b")]


async def test_headers_forwarded_with_user_agent(webhook, server) -> None:
    headers = {"Authorization": "Bearer t0k", "X-Tenant": "clinic-7", "X-Count": 3}
    await webhook.send(webhook_job(server.url_for("/h"), headers=headers))
    got = server.requests[0].headers
    assert got["Authorization"] == "Bearer t0k" and got["X-Tenant"] == "clinic-7"
    assert got["X-Count"] == "3"
    assert got["User-Agent"].startswith("fusion-stream/")


async def test_tenant_user_agent_wins(webhook, server) -> None:
    await webhook.send(webhook_job(server.url_for("/h"), headers={"user-agent": "clinic/1"}))
    assert server.requests[0].headers.getall("User-Agent") == ["clinic/1"]


async def test_tenant_content_type_kept_for_json(webhook, server) -> None:
    headers = {"content-type": "application/vnd.api+json"}
    await webhook.send(webhook_job(server.url_for("/h"), headers=headers, args=[1], isBody=1))
    assert server.requests[0].headers.getall("Content-Type") == ["application/vnd.api+json"]
    assert server.requests[0].json() == [1]


async def test_get_sends_data_as_query(webhook, server) -> None:
    data = {"id": 42, "q": "a b&c", "ids": [1, 2]}
    await webhook.send(webhook_job(server.url_for("/h"), method="GET", data=data, args={"x": 1}))
    request = server.requests[0]
    assert list(request.query.items()) == [("id", "42"), ("q", "a b&c"), ("ids", "1"), ("ids", "2")]
    assert request.body == b""


async def test_timeout_is_transient(webhook, server) -> None:
    server.reply(hang=True)
    with pytest.raises(TransientError, match=r"timed out after 0\.2s"):
        await webhook.send(webhook_job(server.url_for("/h"), timeout=0.2))


@pytest.mark.parametrize("status", [499, 500, 503])
async def test_499_and_5xx_are_transient(webhook, server, status) -> None:
    server.reply(status=status, body="busy")
    with pytest.raises(TransientError) as info:
        await webhook.send(webhook_job(server.url_for("/h")))
    assert f"status={status}" in str(info.value) and "body='busy'" in str(info.value)


@pytest.mark.parametrize("status", [400, 401, 404, 410])
async def test_other_4xx_are_permanent(webhook, server, status) -> None:
    server.reply(status=status, body="nope")
    with pytest.raises(PermanentError) as info:
        await webhook.send(webhook_job(server.url_for("/h")))
    assert not isinstance(info.value, TransientError)


def callback_job(server, **payload: Any) -> Job:
    return webhook_job(
        server.url_for("/hook"),
        callback=1,
        callback_url=server.url_for("/cb"),
        body={"callback_headers": {"X-Cb-Key": "k1"}, "callback_payload": {"job": "j-9"}},
        **payload,
    )


async def test_callback_posts_response_status_and_payload(webhook, server) -> None:
    server.reply(path="/hook", status=201, json_body={"id": 5})
    result = await webhook.send(callback_job(server))
    (cb,) = server.on("/cb")
    assert cb.method == "POST" and cb.headers["X-Cb-Key"] == "k1"
    assert cb.json() == {"resp": {"id": 5}, "status_code": 201, "job": "j-9"}
    assert result.details["callback"]["status"] == 200


async def test_callback_sends_text_when_the_response_is_not_json(webhook, server) -> None:
    server.reply(path="/hook", body="OK")
    await webhook.send(callback_job(server))
    assert server.on("/cb")[0].json()["resp"] == "OK"


async def test_callback_after_permanent_failure(webhook, server) -> None:
    server.reply(path="/hook", status=404, body="gone")
    with pytest.raises(PermanentError):
        await webhook.send(callback_job(server))
    assert server.on("/cb")[0].json()["status_code"] == 404


async def test_no_callback_after_transient_failure(webhook, server) -> None:
    server.reply(path="/hook", status=503)
    with pytest.raises(TransientError):
        await webhook.send(callback_job(server))
    assert server.on("/cb") == []


async def test_no_callback_unless_asked(webhook, server) -> None:
    job = callback_job(server)
    job.payload["callback"] = 0
    result = await webhook.send(job)
    assert server.on("/cb") == [] and result.details["callback"] is None


async def test_failing_callback_does_not_fail_the_job(webhook, server) -> None:
    server.reply(path="/cb", status=500, body="down")
    result = await webhook.send(callback_job(server))
    assert result.status == 200
    assert result.details["callback"]["status"] == 500
    assert "500" in result.details["callback"]["error"]


async def test_unreachable_callback_does_not_fail_the_job(webhook, server, refused_url) -> None:
    job = callback_job(server)
    job.payload["callback_url"] = f"{refused_url}/cb"
    result = await webhook.send(job)
    assert result.status == 200
    assert result.details["callback"]["status"] is None
    assert "connection failed" in result.details["callback"]["error"]


async def test_callback_with_bad_scheme_is_recorded(webhook, server) -> None:
    job = callback_job(server)
    job.payload["callback_url"] = "ftp://127.0.0.1/cb"
    result = await webhook.send(job)
    assert "http(s)" in result.details["callback"]["error"]


async def test_callback_gets_the_bounded_body(webhook, server) -> None:
    server.reply(path="/hook", body=b"y" * (MAX_RESPONSE_BYTES + 10))
    result = await webhook.send(callback_job(server))
    assert len(server.on("/cb")[0].json()["resp"]) == MAX_RESPONSE_BYTES
    assert len(result.response) <= 300


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"integration_payload": {"ehr": "epic"}}, {"ehr": "epic"}),
        ({"args": {"integration_payload": {"ehr": "cerner"}}}, {"ehr": "cerner"}),
        ({}, None),
    ],
)
async def test_integration_payload_in_details(webhook, server, payload, expected) -> None:
    result = await webhook.send(webhook_job(server.url_for("/h"), **payload))
    assert result.details["integration_payload"] == expected
    assert result.details["latency_ms"] >= 0


async def test_response_excerpt_is_bounded(webhook, server, settings) -> None:
    server.reply(json_body={"text": "z" * 5000})
    result = await webhook.send(webhook_job(server.url_for("/h")))
    assert 0 < len(result.response) <= settings.response_excerpt


@pytest.mark.parametrize(
    "url", ["ftp://127.0.0.1/x", "file:///etc/passwd", "javascript:alert(1)", "http://", "", None]
)
async def test_bad_url_rejected(webhook, server, url) -> None:
    with pytest.raises(RejectedError):
        await webhook.send(Job(job_id="j", channel="webhook", payload={"url": url}))
    assert server.requests == []


@pytest.mark.parametrize(
    "payload",
    [
        {"method": "TRACE"},
        {"timeout": "soon"},
        {"timeout": 0},
        {"headers": ["X-A: 1"]},
        {"headers": {"X-A": "1\r\nX-Injected: 1"}},
        {"args": [1, 2], "isBody": 0},
    ],
)
async def test_invalid_event_rejected(webhook, server, payload) -> None:
    with pytest.raises(RejectedError):
        await webhook.send(webhook_job(server.url_for("/h"), **payload))
    assert server.requests == []


async def test_large_tenant_timeout_is_clamped(webhook) -> None:
    request = webhook.build_request(webhook_job("http://127.0.0.1:9/h", timeout=86400))
    assert request.timeout == HttpWebhook.max_timeout


async def test_default_timeout_from_settings(webhook, settings) -> None:
    request = webhook.build_request(webhook_job("http://127.0.0.1:9/h"))
    assert request.timeout == settings.webhook_timeout


@pytest.mark.parametrize("answer", [{"status": 404}, {"hang": True}, {"drop": True}])
async def test_error_line_never_shows_path_or_query(webhook, server, answer) -> None:
    server.reply(**answer)
    url = server.url_for("/h/secret-path?token=abc")
    with pytest.raises(DeliveryError) as info:
        await webhook.send(webhook_job(url, timeout=0.2))
    assert "secret" not in info.value.one_line() and "token" not in info.value.one_line()
    assert "\n" not in info.value.one_line()


async def test_refused_error_line_never_shows_path_or_query(webhook, refused_url) -> None:
    with pytest.raises(TransientError) as info:
        await webhook.send(webhook_job(f"{refused_url}/secret-path?token=abc"))
    assert "secret" not in info.value.one_line() and "token" not in info.value.one_line()
