"""AvroCodec: framings, JSON-text fields, legacy JSON, schema evolution, malformed input."""

from __future__ import annotations

import io
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import fastavro
import pytest
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fusion_stream.codec import (
    CONFLUENT,
    JSON,
    SINGLE_OBJECT,
    AvroCodec,
    EncodeError,
    RegistryUnavailableError,
)
from fusion_stream.errors import DecodeError

SCHEMAS_DIR = Path(__file__).resolve().parents[2] / "schemas"
T0 = 1_732_870_800_000  # 2024-11-29T09:00:00Z in epoch millis

EXAMPLES: dict[str, dict[str, Any]] = {
    "sms_request": {
        "job_id": "sms-0001",
        "task_type": "appointment_reminder",
        "log_tag": "clinic-42",
        "created_at": T0,
        "tenant": "acme-health",
        "callback_url": "http://127.0.0.1:8080/cb",
        "contact": "9876543210",
        "message": "Your appointment with Dr. Rao is at 10:30 tomorrow.",
        "countryCode": "91",
        "senderId": "ACMEHC",
        "config": {"provider": "msg91", "template_id": "tpl-7", "dlt_template_id": "1107"},
        "provider_id": "msg91-acme",
        "credit_deducted": 1.0,
        "flowAuth": {"authkey_ref": "vault:msg91", "flow_id": "6123"},
        "variables": {"name": "Asha", "time": "10:30"},
    },
    "email_request": {
        "job_id": "email-0001",
        "created_at": T0,
        "to": ["asha@example.org"],
        "cc": ["front-desk@example.org"],
        "subject": "Your lab report is ready",
        "message": "<p>Dear Asha, your report is attached.</p>",
        "sender_name": "Acme Health",
        "config": {
            "provider": "ses",
            "config_fields": {
                "sender_id_name": "Acme Health",
                "sender_id_email": "no-reply@example.org",
                "reply_to": "care@example.org",
            },
        },
        "files": ["https://files.example.org/r/123.pdf"],
    },
    "push_request": {
        "job_id": "push-0001",
        "android": {
            "collapse_key": "reminder",
            "registration_ids": ["fcm-token-1", "fcm-token-2"],
            "data": {"screen": "appointments", "id": 77},
            "notification": {"title": "Reminder", "body": "Appointment at 10:30"},
        },
        "ios": {"category": "REMINDER", "tokens": ["apns-1"], "aps": {"alert": "Hi", "badge": 1}},
        "config": {"provider": "fcm"},
    },
    "webhook_request": {
        "job_id": "hook-0001",
        "task_type": "lab_result",
        "url": "http://127.0.0.1:9000/hook",
        "method": "POST",
        "args": {"patient": "p-9", "result": [1.5, 2.25]},
        "isBody": 1,
        "timeout": 5.0,
        "callback": 1,
        "headers": {"X-Tenant": "acme"},
        "body": {"callback_headers": {"X-Sig": "abc"}, "callback_payload": {"ok": True}},
        "integration_payload": {"system": "his", "ref": "A-1"},
    },
    "whatsapp_request": {
        "job_id": "wa-0001",
        "contact": "9876543210",
        "countryCode": "91",
        "template_name": "appointment_reminder",
        "template_params": ["Asha", "10:30"],
        "language": "en",
        "config": {"provider": "meta"},
    },
    "outcome": {
        "job_id": "sms-0001",
        "channel": "sms",
        "task": "sendSMS",
        "task_type": "appointment_reminder",
        "provider": "msg91",
        "status": "sent",
        "message": "sms sent to 98******10 via msg91",
        "provider_message_id": "3663686a6c4a",
        "response_status": 200,
        "latency_ms": 182.5,
        "created_at": T0,
        "log_time": T0 + 250,
        "host": "fusion-stream-0",
        "tags": ["sms", "msg91"],
        "job_result": {"type": "success", "message": "3663686a6c4a"},
        "source_topic": "fusion.sms",
        "source_partition": 3,
        "source_offset": 12345,
        "segments": 1,
        "encoding": "GSM-7",
    },
    "provider_config": {
        "provider_id": "msg91-acme",
        "provider": "msg91",
        "allowed_country_codes": ["91", "971"],
        "settings": {"route": "4", "sender": "ACMEHC"},
        "fallbacks": ["twilio-acme"],
        "updated_at": T0,
    },
}


@pytest.fixture(scope="module")
def codec() -> AvroCodec:
    return AvroCodec(SCHEMAS_DIR)


@pytest.fixture
def registry() -> Any:
    return SchemaRegistryClient.new_client({"url": "mock://fusion-codec-test"})


@pytest.fixture
def rcodec(registry: Any) -> AvroCodec:
    return AvroCodec(SCHEMAS_DIR, registry_client=registry)


def contains(decoded: dict[str, Any], expected: dict[str, Any]) -> bool:
    """Every value of ``expected`` is in ``decoded`` (nested records may carry more defaults)."""
    for name, value in expected.items():
        got = decoded.get(name)
        if isinstance(value, dict) and isinstance(got, dict) and name not in ("headers",):
            if not contains(got, value):
                return False
        elif got != value:
            return False
    return True


# ---- realistic records in the three framings ------------------------------------------------


def test_schema_names_are_the_file_stems(codec: AvroCodec) -> None:
    assert codec.schema_names() == sorted(EXAMPLES)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_round_trips_in_every_framing(
    name: str, codec: AvroCodec, rcodec: AvroCodec
) -> None:
    record = EXAMPLES[name]
    single = codec.decode(codec.encode(name, record), name)
    assert contains(single, record)
    assert codec.decode(codec.encode(name, record, framing=JSON), name) == single
    assert rcodec.decode(rcodec.encode(name, record), name) == single
    # a second reader that knows nothing yet finds the writer schema by id in the registry
    fresh = AvroCodec(SCHEMAS_DIR, registry_client=rcodec._registry)
    assert fresh.decode(rcodec.encode(name, record), name) == single


def crc64_avro(data: bytes) -> int:
    """The Avro spec's reference fingerprint, written out independently of fastavro."""
    empty = 0xC15D213AA4D7A795
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (empty & -(fp & 1))
        table.append(fp)
    fp = empty
    for byte in data:
        fp = (fp >> 8) ^ table[(fp ^ byte) & 0xFF]
    return fp


def test_single_object_framing_is_magic_and_little_endian_fingerprint(codec: AvroCodec) -> None:
    data = codec.encode("sms_request", EXAMPLES["sms_request"])
    canonical = fastavro.schema.to_parsing_canonical_form(
        fastavro.parse_schema(json.loads((SCHEMAS_DIR / "sms_request.avsc").read_text()))
    )
    assert data[:2] == b"\xc3\x01"
    assert data[2:10] == crc64_avro(canonical.encode()).to_bytes(8, "little")
    assert codec.default_framing == SINGLE_OBJECT


def test_confluent_framing_uses_the_registered_id(rcodec: AvroCodec, registry: Any) -> None:
    data = rcodec.encode("outcome", EXAMPLES["outcome"])
    registered = registry.get_latest_version("io.fusionstream.Outcome-value")
    assert rcodec.default_framing == CONFLUENT
    assert data[0] == 0 and int.from_bytes(data[1:5], "big") == registered.schema_id
    assert registry.get_schema(registered.schema_id).schema_str  # the full schema is registered


def test_registry_url_builds_a_client() -> None:
    codec = AvroCodec(SCHEMAS_DIR, registry_url="mock://fusion-codec-url")
    data = codec.encode("whatsapp_request", EXAMPLES["whatsapp_request"])
    assert data[0] == 0
    assert codec.decode(data, "whatsapp_request")["template_params"] == ["Asha", "10:30"]


def test_registry_codec_still_reads_single_object_and_json(
    codec: AvroCodec, rcodec: AvroCodec
) -> None:
    record = EXAMPLES["sms_request"]
    expected = codec.decode(codec.encode("sms_request", record), "sms_request")
    assert rcodec.decode(codec.encode("sms_request", record), "sms_request") == expected
    assert rcodec.decode(codec.encode("sms_request", record, framing=JSON), "sms_request") == (
        expected
    )


def test_json_framing_writes_the_legacy_payload_shape(codec: AvroCodec) -> None:
    doc = json.loads(codec.encode("push_request", EXAMPLES["push_request"], framing=JSON))
    assert set(doc) == {"payload"}
    assert doc["payload"]["android"]["data"] == {"screen": "appointments", "id": 77}
    assert doc["payload"]["created_at"] == 0


# ---- JSON-text fields and timestamps --------------------------------------------------------


def test_json_text_fields_accept_objects_or_text(codec: AvroCodec) -> None:
    as_object = dict(EXAMPLES["sms_request"], flowAuth={"flow_id": "6123"})
    as_text = dict(EXAMPLES["sms_request"], flowAuth='{"flow_id": "6123"}')
    for record in (as_object, as_text):
        decoded = codec.decode(codec.encode("sms_request", record), "sms_request")
        assert decoded["flowAuth"] == {"flow_id": "6123"}


def test_a_plain_string_in_a_json_text_field_stays_a_string(codec: AvroCodec) -> None:
    record = dict(EXAMPLES["webhook_request"], data="name=Asha&id=7")
    for framing in (SINGLE_OBJECT, JSON):
        data = codec.encode("webhook_request", record, framing=framing)
        decoded = codec.decode(data, "webhook_request")
        assert decoded["data"] == "name=Asha&id=7"


def test_encode_does_not_modify_the_callers_record(codec: AvroCodec) -> None:
    record = json.loads(json.dumps(EXAMPLES["push_request"]))
    codec.encode("push_request", record)
    codec.encode("push_request", record, framing=JSON)
    assert record == EXAMPLES["push_request"]


def test_timestamps_accept_datetimes_and_decode_as_epoch_millis(codec: AvroCodec) -> None:
    when = datetime(2024, 11, 29, 9, 0, tzinfo=UTC)
    record = dict(EXAMPLES["sms_request"], created_at=when, expires_at=when)
    for framing in (SINGLE_OBJECT, JSON):
        decoded = codec.decode(codec.encode("sms_request", record, framing=framing), "sms_request")
        assert decoded["created_at"] == T0 and decoded["expires_at"] == T0


# ---- schema evolution -----------------------------------------------------------------------


def old_sms_schema() -> dict[str, Any]:
    """sms_request as it was before expires_at, otp and variables were added."""
    raw = json.loads((SCHEMAS_DIR / "sms_request.avsc").read_text())
    raw["fields"] = [
        f for f in raw["fields"] if f["name"] not in {"expires_at", "otp", "variables"}
    ]
    return raw


def old_sms_body() -> bytes:
    buf = io.BytesIO()
    record = {"job_id": "old-1", "contact": "9876543210", "message": "hi", "flowAuth": '{"a": 1}'}
    fastavro.schemaless_writer(buf, fastavro.parse_schema(old_sms_schema()), record)
    return buf.getvalue()


def test_a_record_of_an_older_registered_schema_gets_the_new_defaults(
    rcodec: AvroCodec, registry: Any
) -> None:
    old_id = registry.register_schema(
        "io.fusionstream.SmsRequest-value", Schema(json.dumps(old_sms_schema()), "AVRO")
    )
    decoded = rcodec.decode(b"\x00" + old_id.to_bytes(4, "big") + old_sms_body(), "sms_request")
    assert decoded["job_id"] == "old-1" and decoded["flowAuth"] == {"a": 1}
    assert decoded["expires_at"] is None and decoded["otp"] is None and decoded["variables"] is None


def test_single_object_records_of_a_schema_kept_in_history_still_decode(tmp_path: Path) -> None:
    shutil.copytree(SCHEMAS_DIR, tmp_path / "schemas")
    canonical = fastavro.schema.to_parsing_canonical_form(fastavro.parse_schema(old_sms_schema()))
    data = b"\xc3\x01" + crc64_avro(canonical.encode()).to_bytes(8, "little") + old_sms_body()
    with pytest.raises(DecodeError, match="unknown schema fingerprint"):
        AvroCodec(tmp_path / "schemas").decode(data, "sms_request")

    (tmp_path / "schemas" / "history").mkdir()
    (tmp_path / "schemas" / "history" / "sms_request.v1.avsc").write_text(
        json.dumps(old_sms_schema())
    )
    decoded = AvroCodec(tmp_path / "schemas").decode(data, "sms_request")
    assert decoded["job_id"] == "old-1" and decoded["variables"] is None


class UnreachableRegistry:
    """A registry client whose server cannot be reached."""

    def get_schema(self, schema_id: int) -> Any:
        raise ConnectionError("connection refused: 127.0.0.1:8081")

    def register_schema(self, subject: str, schema: Any) -> int:
        raise ConnectionError("connection refused: 127.0.0.1:8081")


def test_an_unreachable_registry_is_a_distinct_decode_error() -> None:
    codec = AvroCodec(SCHEMAS_DIR, registry_client=UnreachableRegistry())
    data = b"\x00\x00\x00\x00\x07" + old_sms_body()
    with pytest.raises(RegistryUnavailableError, match="connection refused") as info:
        codec.decode(data, "sms_request")
    assert isinstance(info.value, DecodeError) and info.value.raw == data
    with pytest.raises(EncodeError, match="cannot register"):
        codec.encode("sms_request", EXAMPLES["sms_request"])


# ---- encode errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schema", "record", "framing", "match"),
    [
        ("nope", {}, None, "unknown schema"),
        ("sms_request", EXAMPLES["sms_request"], "avro-json", "unknown framing"),
        ("sms_request", EXAMPLES["sms_request"], CONFLUENT, "needs a schema registry"),
        ("sms_request", {"job_id": "j", "message": "m"}, None, "contact"),
        ("sms_request", {"job_id": "j", "message": "m"}, JSON, "contact"),
        ("sms_request", dict(EXAMPLES["sms_request"], countryCode=91), None, "countryCode"),
        ("outcome", dict(EXAMPLES["outcome"], job_result={"at": object()}), None, "job_result"),
        ("outcome", dict(EXAMPLES["outcome"], latency_ms=float("nan")), JSON, "outcome"),
    ],
)
def test_encode_errors_name_the_problem(
    codec: AvroCodec, schema: str, record: dict[str, Any], framing: str | None, match: str
) -> None:
    with pytest.raises(EncodeError, match=match):
        codec.encode(schema, record, framing=framing)


# ---- malformed input: always DecodeError, raw bytes kept -----------------------------------


def _sms(codec: AvroCodec) -> bytes:
    return codec.encode("sms_request", EXAMPLES["sms_request"], framing=SINGLE_OBJECT)


def _bad_utf8(codec: AvroCodec) -> bytes:
    data = bytearray(_sms(codec))
    assert data[10:12] == b"\x10s"  # job_id "sms-0001": length 8 (zigzag 0x10), then "s"
    data[11] = 0xFF
    return bytes(data)


def _bad_json_text(codec: AvroCodec) -> bytes:
    parsed = fastavro.parse_schema(json.loads((SCHEMAS_DIR / "sms_request.avsc").read_text()))
    buf = io.BytesIO()
    buf.write(_sms(codec)[:10])
    record = {"job_id": "j", "contact": "1", "message": "m", "flowAuth": "{not json"}
    fastavro.schemaless_writer(buf, parsed, record)
    return buf.getvalue()


MALFORMED = [
    ("empty", lambda c: b"", "empty"),
    ("unknown magic", lambda c: b"\x01garbage", "unknown framing"),
    ("short single-object header", lambda c: b"\xc3\x01\x00\x01", "truncated"),
    ("unknown fingerprint", lambda c: b"\xc3\x01" + b"\x11" * 8 + _sms(c)[10:], "fingerprint"),
    ("truncated body", lambda c: _sms(c)[:-7], "truncated"),
    ("trailing garbage", lambda c: _sms(c) + b"\x00\x02", "trailing"),
    (
        "another schema's record",
        lambda c: c.encode("email_request", EXAMPLES["email_request"]),
        "sms_request",
    ),
    ("invalid utf-8 in a string", _bad_utf8, "bad Avro body"),
    ("invalid JSON in a JSON-text field", _bad_json_text, "flowAuth"),
    ("short Confluent header", lambda c: b"\x00\x00\x01", "truncated"),
    ("unknown Confluent id", lambda c: b"\x00\x00\x00\x03\xe7" + _sms(c)[10:], "schema id 999"),
    ("invalid JSON", lambda c: b'{"payload": {"contact": ', "invalid JSON"),
    ("invalid utf-8 JSON", lambda c: b'{"payload": {"contact": "\xff"}}', "invalid JSON"),
    ("JSON array", lambda c: b'[{"payload": {}}]', "must be an object"),
    ("JSON without payload", lambda c: b'{"job_id": "j", "contact": "1"}', "payload"),
    ("JSON payload not an object", lambda c: b'{"payload": "contact=1"}', "payload"),
    (
        "missing required field",
        lambda c: b'{"payload": {"job_id": "j", "message": "m"}}',
        "'contact' is required",
    ),
    (
        "missing job_id and no key",
        lambda c: b'{"payload": {"contact": "1", "message": "m"}}',
        "'job_id' is required",
    ),
    (
        "wrong type",
        lambda c: b'{"payload": {"job_id": "j", "contact": {"n": 1}, "message": "m"}}',
        "'contact' expected string",
    ),
    (
        "wrong nested type",
        lambda c: (
            b'{"payload": {"job_id": "j", "contact": "1", "message": "m",'
            b' "config": {"provider": ["a"]}}}'
        ),
        "'config.provider'",
    ),
    (
        "wrong boolean",
        lambda c: b'{"payload": {"job_id": "j", "contact": "1", "message": "m", "isOTP": "maybe"}}',
        "'isOTP' expected boolean",
    ),
]


@pytest.mark.parametrize(("case", "build", "match"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_records_raise_decode_error_with_the_raw_bytes(
    rcodec: AvroCodec, case: str, build: Any, match: str
) -> None:
    rcodec.encode("sms_request", EXAMPLES["sms_request"])  # id 1 exists in the registry
    data = build(rcodec)
    with pytest.raises(DecodeError, match=match) as info:
        rcodec.decode(data, "sms_request")
    assert info.value.raw == data


def test_confluent_record_without_a_registry_is_a_decode_error(codec: AvroCodec) -> None:
    data = b"\x00\x00\x00\x00\x01" + _sms(codec)[10:]
    with pytest.raises(DecodeError, match="no schema registry") as info:
        codec.decode(data, "sms_request")
    assert info.value.raw == data


@pytest.mark.parametrize("data", [None, "text", 42])
def test_non_bytes_input_is_a_decode_error(codec: AvroCodec, data: Any) -> None:
    with pytest.raises(DecodeError, match="expected bytes"):
        codec.decode(data, "sms_request")


def test_unknown_schema_name_is_a_decode_error(codec: AvroCodec) -> None:
    with pytest.raises(DecodeError, match="unknown schema 'fax_request'"):
        codec.decode(_sms(codec), "fax_request")


# ---- the old worker's JSON payloads ---------------------------------------------------------

LEGACY = [
    (
        "sms_request",
        {
            "payload": {
                "contact": "9876543210",
                "message": "hi",
                "countryCode": 91,
                "config": {"provider": "msg91"},
            }
        },
        {
            "job_id": "job-1",
            "countryCode": "91",
            "config": {"provider": "msg91", "route": None},
            "isOTP": False,
            "created_at": 0,
            "task_type": "",
            "variables": None,
        },
    ),
    (
        "sms_request",
        {
            "job_id": "otp-7",
            "task_type": "login_otp",
            "payload": {
                "contact": 9876543210,
                "message": "OTP 123456",
                "isOTP": "true",
                "otp": 123456,
                "flowAuth": '{"flow_id": "61"}',
                "expires_at": 1.7e12,
                "credit_deducted": 1,
                "created_at": "2024-11-29T09:00:00+00:00",
                "unknown_old_field": "dropped",
            },
        },
        {
            "job_id": "otp-7",
            "task_type": "login_otp",
            "contact": "9876543210",
            "isOTP": True,
            "otp": "123456",
            "flowAuth": {"flow_id": "61"},
            "expires_at": 1_700_000_000_000,
            "credit_deducted": 1.0,
            "created_at": T0,
        },
    ),
    (
        "webhook_request",
        {
            "payload": {
                "url": "http://127.0.0.1:9000/h",
                "method": "GET",
                "isBody": "0",
                "callback": "1",
                "data": {"q": "1"},
                "timeout": "10",
                "headers": {"X-Id": "7"},
                "body": {"callback_payload": {"ok": 1}},
            }
        },
        {
            "job_id": "job-1",
            "isBody": 0,
            "callback": 1,
            "data": {"q": "1"},
            "args": None,
            "timeout": 10.0,
            "headers": {"X-Id": "7"},
            "body": {"callback_headers": {}, "callback_payload": {"ok": 1}},
        },
    ),
    (
        "email_request",
        {
            "job_id": "mail-3",
            "payload": {
                "to": ["a@example.org"],
                "cc": None,
                "subject": "s",
                "message": "<b>m</b>",
                "is_template": 0,
                "config": {"config_fields": {"reply_to": "r@x.org"}},
            },
        },
        {
            "job_id": "mail-3",
            "cc": [],
            "bcc": [],
            "files": [],
            "is_template": False,
            "config": {
                "provider": None,
                "config_fields": {
                    "sender_id_name": None,
                    "sender_id_email": None,
                    "reply_to": "r@x.org",
                },
            },
        },
    ),
    (
        "push_request",
        {
            "payload": {
                "android": {
                    "registration_ids": ["t1"],
                    "data": {"k": "v"},
                    "notification": '{"title": "T"}',
                }
            }
        },
        {
            "job_id": "job-1",
            "ios": None,
            "android": {
                "collapse_key": None,
                "api_key": None,
                "registration_ids": ["t1"],
                "data": {"k": "v"},
                "notification": {"title": "T"},
            },
        },
    ),
    (
        "whatsapp_request",
        {
            "payload": {
                "contact": "9876543210",
                "countryCode": 91,
                "template_name": "otp",
                "template_params": ["123456", 5],
            }
        },
        {"job_id": "job-1", "countryCode": "91", "template_params": ["123456", "5"]},
    ),
]


@pytest.mark.parametrize(("schema", "doc", "expected"), LEGACY)
def test_legacy_json_payloads_decode(
    codec: AvroCodec, schema: str, doc: dict[str, Any], expected: dict[str, Any]
) -> None:
    decoded = codec.decode(json.dumps(doc).encode(), schema, key="job-1")
    assert contains(decoded, expected), decoded
    assert "unknown_old_field" not in decoded
    # what the legacy path returns is a valid record: it re-encodes as Avro unchanged
    assert codec.decode(codec.encode(schema, decoded), schema) == decoded


def test_legacy_json_with_leading_whitespace_decodes(codec: AvroCodec) -> None:
    data = b'  \n{"payload": {"contact": "1", "message": "m"}}'
    assert codec.decode(data, "sms_request", key="k")["job_id"] == "k"


# ---- properties over generated records ------------------------------------------------------

JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**60), 2**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
JSON_TEXT_FIELD = st.none() | st.dictionaries(st.text(max_size=5), JSON_VALUES, max_size=3)


def records(schema: Any) -> st.SearchStrategy[Any]:
    """Values of an Avro schema (raw JSON form); JSON-text fields get JSON objects."""
    if isinstance(schema, list):
        return st.one_of([records(branch) for branch in schema])
    if isinstance(schema, dict):
        kind = schema["type"]
        if kind == "record":
            return st.fixed_dictionaries(
                {
                    f["name"]: JSON_TEXT_FIELD if f.get("fusion.json") else records(f["type"])
                    for f in schema["fields"]
                }
            )
        if kind == "array":
            return st.lists(records(schema["items"]), max_size=3)
        if kind == "map":
            return st.dictionaries(st.text(max_size=6), records(schema["values"]), max_size=3)
        return records(kind)
    return {
        "null": st.none(),
        "boolean": st.booleans(),
        "int": st.integers(-(2**31), 2**31 - 1),
        "long": st.integers(-(2**63), 2**63 - 1),
        "double": st.floats(allow_nan=False, allow_infinity=False),
        "string": st.text(max_size=12),
    }[schema]


STRATEGIES = {
    name: records(json.loads((SCHEMAS_DIR / f"{name}.avsc").read_text())) for name in EXAMPLES
}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_generated_records_round_trip(codec: AvroCodec, name: str, data: st.DataObject) -> None:
    record = data.draw(STRATEGIES[name])
    assert codec.decode(codec.encode(name, record), name) == record
    assert codec.decode(codec.encode(name, record, framing=JSON), name) == record


FUZZ_CODEC = AvroCodec(SCHEMAS_DIR, registry_url="mock://fusion-codec-fuzz")
FUZZ_CODEC.encode("sms_request", EXAMPLES["sms_request"])  # registers id 1


@settings(max_examples=200, deadline=None)
@given(
    name=st.sampled_from(sorted(EXAMPLES)),
    prefix=st.sampled_from([b"", b"\x00\x00\x00\x00\x01", b'{"payload": ', b"{"]),
    body=st.binary(max_size=64),
)
def test_arbitrary_bytes_decode_or_raise_decode_error_only(
    name: str, prefix: bytes, body: bytes
) -> None:
    data = prefix + body
    try:
        FUZZ_CODEC.decode(data, name, key="k")
    except DecodeError as exc:
        assert exc.raw == data


@settings(max_examples=100, deadline=None)
@given(name=st.sampled_from(sorted(EXAMPLES)), body=st.binary(max_size=64))
def test_arbitrary_single_object_bodies_raise_decode_error_only(name: str, body: bytes) -> None:
    header = FUZZ_CODEC.encode(name, EXAMPLES[name], framing=SINGLE_OBJECT)[:10]
    data = header + body
    try:
        FUZZ_CODEC.decode(data, name)
    except DecodeError as exc:
        assert exc.raw == data
