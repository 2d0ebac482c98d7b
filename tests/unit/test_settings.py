"""Settings: FUSION_ environment, frozen, secrets masked when printed."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pydantic
import pytest

from fusion_stream.settings import Settings


def test_read_from_the_fusion_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FUSION_BROKER", "kafka://10.0.0.1:9092")
    monkeypatch.setenv("FUSION_MAX_IN_FLIGHT", "250")
    monkeypatch.setenv("FUSION_CHANNELS", '["sms.otp"]')
    monkeypatch.setenv("FUSION_IN_FLIGHT_POLICY", '{"default": "resend"}')
    s = Settings()
    assert (s.broker, s.max_in_flight, s.channels) == ("kafka://10.0.0.1:9092", 250, ["sms.otp"])
    assert s.in_flight_policy == {"default": "resend"}


def test_frozen_and_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    s = Settings()
    with pytest.raises(pydantic.ValidationError):
        s.max_in_flight = 5  # type: ignore[misc]
    monkeypatch.setenv("FUSION_MAX_IN_FLIGHT", "0")
    with pytest.raises(pydantic.ValidationError, match="max_in_flight"):
        Settings()


def test_secrets_are_masked_when_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FUSION_SCHEMA_REGISTRY_AUTH", "sr-key:hunter2-kafka")
    s = Settings()
    assert "hunter2-kafka" not in repr(s) and "hunter2-kafka" not in str(s)
    assert "hunter2-kafka" not in s.model_dump_json()
    assert s.schema_registry_auth is not None
    assert s.schema_registry_auth.get_secret_value() == "sr-key:hunter2-kafka"


def test_codec_from_settings_uses_the_registry_with_its_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from fusion_stream.codec import AvroCodec

    monkeypatch.setenv("FUSION_SCHEMA_REGISTRY_URL", "mock://settings-test")
    monkeypatch.setenv("FUSION_SCHEMA_REGISTRY_AUTH", "sr-key:sr-secret")
    codec = AvroCodec.from_settings(Settings())
    data = codec.encode("webhook_request", {"job_id": "j", "url": "http://127.0.0.1/x"})
    assert data[0] == 0  # Confluent framing: a registry is configured
    assert codec.decode(data, "webhook_request")["job_id"] == "j"
    assert codec._registry._conf["basic.auth.user.info"] == "sr-key:sr-secret"


def test_faust_writes_under_the_temp_dir_unless_told(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FUSION_APP_ID", "acme-fusion")
    assert (
        Settings().faust_data_dir() == Path(tempfile.gettempdir()) / "fusion-stream" / "acme-fusion"
    )
    monkeypatch.setenv("FUSION_DATA_DIR", str(tmp_path))
    assert Settings().faust_data_dir() == tmp_path
