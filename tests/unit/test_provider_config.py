"""The provider-config view: records by provider_id, tombstones, undecodable records."""

from __future__ import annotations

import logging

import pytest

from fusion_stream.codec import AvroCodec
from fusion_stream.provider_config import SCHEMA, ProviderConfigReader, ProviderConfigView
from fusion_stream.settings import ROOT

RECORD = {
    "provider_id": "acme-msg91",
    "provider": "msg91",
    "allowed_country_codes": ["91", "966"],
    "settings": {"authkey": "k", "sender": "ACME"},
    "fallbacks": ["sns-default"],
    "updated_at": 1_767_225_600_000,
}


@pytest.fixture(scope="module")
def codec() -> AvroCodec:
    return AvroCodec(ROOT / "schemas")


def test_view_get_and_for_provider() -> None:
    view = ProviderConfigView(
        {
            "acme-msg91": RECORD,
            "msg91": {"provider": "msg91", "settings": {"authkey": "default"}},
            "sns": {"provider": None, "settings": {"region": "ap-south-1"}},
            "twilio_sms": {"provider": "msg91", "settings": {"authkey": "x"}},
        }
    )
    assert view.get("acme-msg91") == RECORD
    assert view.get("nope") is None
    assert view.for_provider("msg91") == {"authkey": "default"}  # its own record only
    assert view.for_provider("sns") == {"region": "ap-south-1"}  # provider unset: any
    assert view.for_provider("twilio_sms") == {}  # keyed twilio_sms but configures msg91
    assert view.for_provider("vonage") == {}
    assert list(view) == ["acme-msg91", "msg91", "sns", "twilio_sms"] and len(view) == 4


def test_the_key_is_the_provider_id_and_tombstones_delete() -> None:
    view = ProviderConfigView()
    view.apply("acme", {**RECORD, "provider_id": "something-else"})
    assert view.get("acme") == {**RECORD, "provider_id": "acme"}  # the Kafka key wins
    view.apply("acme", None)
    view.apply("never-there", None)
    assert view.get("acme") is None and len(view) == 0


def test_reader_applies_records_tombstones_and_skips_garbage(
    codec: AvroCodec, caplog: pytest.LogCaptureFixture
) -> None:
    reader = ProviderConfigReader("127.0.0.1:1", "t.fusion.provider-config", codec)
    reader._apply_message(b"acme-msg91", codec.encode(SCHEMA, RECORD), 0)
    assert reader.get("acme-msg91") == RECORD
    assert reader.for_provider("msg91") == {}

    with caplog.at_level(logging.ERROR):
        reader._apply_message(b"acme-msg91", b"\xc3\x01garbage", 1)
    assert reader.get("acme-msg91") == RECORD  # a bad write never drops a whitelist
    assert "offset 1 undecodable" in caplog.text and "authkey" not in caplog.text

    changed = {**RECORD, "allowed_country_codes": ["44"], "settings": {}}
    reader._apply_message(b"acme-msg91", codec.encode(SCHEMA, changed), 2)
    assert reader.get("acme-msg91") == changed  # last write wins

    minimal = codec.encode(SCHEMA, {"provider_id": "bare"})
    reader._apply_message(None, minimal, 3)  # no key: the record's provider_id
    assert reader.get("bare") == {
        "provider_id": "bare",
        "provider": None,
        "allowed_country_codes": [],
        "settings": {},
        "fallbacks": [],
        "updated_at": 0,
    }

    reader._apply_message(b"acme-msg91", None, 4)
    assert reader.get("acme-msg91") is None and list(reader) == ["bare"]


def test_legacy_json_records_are_read_too(codec: AvroCodec) -> None:
    reader = ProviderConfigReader("127.0.0.1:1", "t", codec)
    legacy = (
        b'{"payload": {"provider_id": "old", "provider": "msg91", "allowed_country_codes": ["91"]}}'
    )
    reader._apply_message(b"old", legacy, 0)
    assert reader.get("old") is not None
    assert reader.get("old")["allowed_country_codes"] == ["91"]  # type: ignore[index]
