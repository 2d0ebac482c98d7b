"""schemas/*.avsc parse and keep the conventions producers and the codec rely on."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import fastavro
import pytest

SCHEMAS_DIR = Path(__file__).resolve().parents[2] / "schemas"
REQUESTS = ["sms_request", "email_request", "push_request", "webhook_request", "whatsapp_request"]
ALL = [*REQUESTS, "outcome", "provider_config"]

# Fields with no default. Adding a field here breaks every old record: give it a default instead.
REQUIRED = {
    "sms_request": {"job_id", "contact", "message"},
    "email_request": {"job_id", "to", "subject", "message"},
    "push_request": {"job_id"},
    "webhook_request": {"job_id", "url"},
    "whatsapp_request": {"job_id", "contact"},
    "outcome": {"job_id", "channel", "task", "status", "message", "created_at", "log_time", "host"},
    "provider_config": {"provider_id"},
}

# Free-form JSON carried as text (dotted paths through nested records).
JSON_TEXT = {
    "sms_request": {"flowAuth", "variables"},
    "email_request": set(),
    "push_request": {"android.data", "android.notification", "ios.aps"},
    "webhook_request": {"data", "args", "body.callback_payload", "integration_payload"},
    "whatsapp_request": set(),
    "outcome": {"job_result"},
    "provider_config": set(),
}

ENVELOPE = {
    "job_id": "string",
    "task_type": "string",
    "log_tag": ["null", "string"],
    "created_at": {"type": "long", "logicalType": "timestamp-millis"},
    "tenant": ["null", "string"],
    "callback_url": ["null", "string"],
}


def load(name: str) -> dict[str, Any]:
    return json.loads((SCHEMAS_DIR / f"{name}.avsc").read_text())


def fields(schema: dict[str, Any], prefix: str = "") -> list[tuple[str, dict[str, Any]]]:
    """Every field, nested records included, as (dotted path, field)."""
    out = []
    for field in schema["fields"]:
        path = prefix + field["name"]
        out.append((path, field))
        branches = field["type"] if isinstance(field["type"], list) else [field["type"]]
        for branch in branches:
            if isinstance(branch, dict) and branch.get("type") == "record":
                out.extend(fields(branch, path + "."))
    return out


def test_the_directory_holds_exactly_the_known_schemas() -> None:
    assert sorted(p.stem for p in SCHEMAS_DIR.glob("*.avsc")) == sorted(ALL)


@pytest.mark.parametrize("name", ALL)
def test_schema_parses_as_a_named_record(name: str) -> None:
    raw = load(name)
    parsed = fastavro.parse_schema(raw)
    assert raw["type"] == "record"
    assert raw["namespace"] == "io.fusionstream"
    assert parsed["name"].startswith("io.fusionstream.")


@pytest.mark.parametrize("name", REQUESTS)
def test_request_schemas_start_with_the_common_envelope(name: str) -> None:
    top = {f["name"]: f for f in load(name)["fields"]}
    for field_name, field_type in ENVELOPE.items():
        assert top[field_name]["type"] == field_type, field_name
    assert "default" not in top["job_id"]
    assert top["task_type"]["default"] == ""
    assert top["created_at"]["default"] == 0


@pytest.mark.parametrize("name", ALL)
def test_only_the_agreed_fields_are_required(name: str) -> None:
    required = {path for path, f in fields(load(name)) if "default" not in f}
    assert required == REQUIRED[name]


@pytest.mark.parametrize("name", ALL)
def test_unions_are_null_first_with_a_null_default(name: str) -> None:
    # the codec's legacy-JSON conformance and Avro's default rule both rely on this shape
    for path, field in fields(load(name)):
        if isinstance(field["type"], list):
            assert len(field["type"]) == 2 and field["type"][0] == "null", path
            assert field["default"] is None, path


@pytest.mark.parametrize("name", ALL)
def test_json_text_fields_are_marked_nullable_strings(name: str) -> None:
    marked = {path for path, f in fields(load(name)) if f.get("fusion.json")}
    assert marked == JSON_TEXT[name]
    for path, field in fields(load(name)):
        if path in marked:
            assert field["type"] == ["null", "string"] and field["default"] is None, path


@pytest.mark.parametrize("name", ALL)
def test_defaults_are_valid_for_their_types(name: str) -> None:
    """A record of only the required fields serializes: every default fits its type."""
    parsed = fastavro.parse_schema(load(name))
    minimal = {
        "job_id": "j",
        "contact": "9876543210",
        "message": "m",
        "to": ["a@example.org"],
        "subject": "s",
        "url": "http://127.0.0.1/",
        "channel": "sms",
        "task": "sendSMS",
        "status": "sent",
        "created_at": 1,
        "log_time": 2,
        "host": "h",
        "provider_id": "p",
    }
    record = {k: v for k, v in minimal.items() if k in REQUIRED[name]}
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, parsed, record, strict_allow_default=True)
    buf.seek(0)
    decoded = fastavro.schemaless_reader(buf, parsed, None)
    assert isinstance(decoded, dict)
    for field in load(name)["fields"]:
        # plain fastavro returns timestamps as datetimes (the codec returns epoch millis)
        logical = isinstance(field["type"], dict) and "logicalType" in field["type"]
        if "default" in field and not logical:
            assert decoded[field["name"]] == field["default"], field["name"]


@pytest.mark.parametrize("name", ALL)
def test_defaults_are_documented_in_the_readme(name: str) -> None:
    readme = (SCHEMAS_DIR / "README.md").read_text()
    assert f"`{name}`" in readme
