"""Avro codec for schemas/*.avsc: single-object, Confluent and legacy JSON framings."""

from __future__ import annotations

import copy
import io
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import fastavro
from fastavro.schema import fingerprint, to_parsing_canonical_form

from fusion_stream.errors import ConfigurationError, DecodeError, FusionError

SINGLE_OBJECT = "single-object"
CONFLUENT = "confluent"
JSON = "json"
FRAMINGS = (SINGLE_OBJECT, CONFLUENT, JSON)

_SO_MAGIC = b"\xc3\x01"  # https://avro.apache.org/docs/1.11.1/specification/#single-object-encoding
_CONFLUENT_MAGIC = b"\x00"
_JSON_ATTR = "fusion.json"
_ENVELOPE = ("job_id", "task_type", "log_tag", "created_at", "tenant", "callback_url")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_INT_RANGE = {"int": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}

# JSON-text fields of a record: name -> None for a JSON-text field, or the plan of a nested record.
Plan = dict[str, "Plan | None"]


class EncodeError(FusionError, ValueError):
    """A record does not fit its schema or framing (a bug of the producing code)."""

    reason = "encode"


class RegistryUnavailableError(DecodeError):
    """The schema registry could not be asked for a writer schema: retry, do not dead-letter."""

    reason = "registry-unavailable"


class _Invalid(ValueError):
    """A legacy JSON value does not conform; carries the dotted field path."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"field '{path or '<record>'}' {problem}")


@dataclass(frozen=True, slots=True)
class _Entry:
    name: str  # file stem, the name code uses
    subject: str  # Schema Registry subject (record name strategy)
    text: str  # schema JSON as registered
    write: Any  # parsed, logical types kept: encode accepts datetimes
    read: Any  # parsed, timestamp logical types stripped: decode returns epoch millis
    header: bytes  # C3 01 + CRC-64-AVRO fingerprint, little endian
    plan: Plan


class AvroCodec:
    """Encodes and decodes the records of ``schemas_dir`` (one ``<name>.avsc`` each).

    :param schemas_dir: directory of ``*.avsc``; older versions in ``history/`` are known
        writer schemas for single-object records produced before a schema change
    :param registry_url: Schema Registry URL (``mock://...`` in tests); enables Confluent framing
    :param registry_client: a ready ``SchemaRegistryClient`` (auth, TLS), instead of the URL
    """

    def __init__(
        self,
        schemas_dir: Path,
        *,
        registry_url: str | None = None,
        registry_client: Any = None,
        registry_auth: str | None = None,
    ) -> None:
        self._entries: dict[str, _Entry] = {}
        self._writers: dict[bytes, Any] = {}  # fingerprint -> parsed writer schema (read form)
        for path in sorted(Path(schemas_dir).glob("*.avsc")):
            entry = _load_entry(path)
            self._entries[entry.name] = entry
            self._writers[entry.header[2:]] = entry.read
        if not self._entries:
            raise ConfigurationError(f"no *.avsc schema in {schemas_dir}")
        for path in sorted((Path(schemas_dir) / "history").glob("*.avsc")):
            raw = _read_schema_file(path)
            self._writers.setdefault(_fingerprint(raw), _parse(_strip_timestamps(raw), path))
        if registry_client is None and registry_url:
            from confluent_kafka.schema_registry import SchemaRegistryClient

            conf = {"url": registry_url}
            if registry_auth:  # "user:password" (Confluent Cloud: API key and secret)
                conf["basic.auth.user.info"] = registry_auth
            registry_client = SchemaRegistryClient.new_client(conf)
        self._registry = registry_client
        self._ids: dict[str, int] = {}  # schema name -> registered schema id
        self._by_id: dict[int, Any] = {}  # schema id -> parsed writer schema (read form)
        self.default_framing = CONFLUENT if registry_client is not None else SINGLE_OBJECT

    def schema_names(self) -> list[str]:
        return sorted(self._entries)

    @classmethod
    def from_settings(cls, settings: Any) -> AvroCodec:
        """The codec the settings describe (schemas folder, registry URL and credentials)."""
        auth = settings.schema_registry_auth
        return cls(
            settings.schemas_dir,
            registry_url=settings.schema_registry_url,
            registry_auth=auth.get_secret_value() if auth is not None else None,
        )

    def encode(
        self, schema: str, record: Mapping[str, Any], *, framing: str | None = None
    ) -> bytes:
        """Serialize ``record``; JSON-text fields may be given as objects or as JSON text."""
        entry = self._entries.get(schema)
        if entry is None:
            raise EncodeError(f"unknown schema {schema!r}; known: {', '.join(self._entries)}")
        framing = framing or self.default_framing
        if framing == JSON:
            try:
                payload = _conform(record, entry.write, "")
                return json.dumps(
                    {"payload": payload}, ensure_ascii=False, allow_nan=False
                ).encode()
            except (ValueError, TypeError) as exc:
                raise EncodeError(f"{schema}: {exc}") from exc
        buf = io.BytesIO()
        if framing == SINGLE_OBJECT:
            buf.write(entry.header)
        elif framing == CONFLUENT:
            buf.write(_CONFLUENT_MAGIC + self._schema_id(entry).to_bytes(4, "big"))
        else:
            raise EncodeError(f"unknown framing {framing!r}; expected one of {FRAMINGS}")
        try:
            fastavro.schemaless_writer(buf, entry.write, _dump_json(record, entry.plan, ""))
        except EncodeError:
            raise
        except Exception as exc:
            raise EncodeError(f"{schema}: {type(exc).__name__}: {exc}") from exc
        return buf.getvalue()

    def decode(self, data: bytes, schema: str, *, key: str | None = None) -> dict[str, Any]:
        """Decode a record of any framing into ``schema``; raises only DecodeError.

        :param key: the Kafka key, used as ``job_id`` when a legacy JSON payload has none
        """
        if isinstance(data, bytearray | memoryview):
            data = bytes(data)
        if not isinstance(data, bytes):
            raise DecodeError(f"expected bytes, got {type(data).__name__}", raw=None)
        entry = self._entries.get(schema)
        if entry is None:
            raise DecodeError(f"unknown schema {schema!r}", raw=data)
        if data[:2] == _SO_MAGIC:
            if len(data) < 10:
                raise DecodeError(f"{schema}: truncated single-object header", raw=data)
            writer = self._writers.get(data[2:10])
            if writer is None:
                fp = data[2:10].hex()
                raise DecodeError(f"{schema}: unknown schema fingerprint {fp}", raw=data)
            return self._read(data, 10, writer, entry)
        if data[:1] == _CONFLUENT_MAGIC:
            if len(data) < 5:
                raise DecodeError(f"{schema}: truncated Confluent header", raw=data)
            return self._read(
                data, 5, self._writer_by_id(int.from_bytes(data[1:5], "big"), data), entry
            )
        if data.lstrip()[:1] in (b"{", b"["):
            return _decode_legacy(data, entry, key)
        if not data:
            raise DecodeError(f"{schema}: empty record", raw=data)
        raise DecodeError(f"{schema}: unknown framing, first byte 0x{data[0]:02x}", raw=data)

    def _read(self, data: bytes, start: int, writer: Any, entry: _Entry) -> dict[str, Any]:
        buf = io.BytesIO(data)
        buf.seek(start)
        try:
            # same schema: no resolution; otherwise resolve writer -> reader (schema evolution)
            reader = None if writer is entry.read else entry.read
            record = fastavro.schemaless_reader(buf, writer, reader)
        except EOFError as exc:
            raise DecodeError(f"{entry.name}: truncated Avro body", raw=data) from exc
        except Exception as exc:
            problem = f"{type(exc).__name__}: {exc}"
            raise DecodeError(f"{entry.name}: bad Avro body ({problem})", raw=data) from exc
        if buf.tell() != len(data):
            extra = len(data) - buf.tell()
            raise DecodeError(f"{entry.name}: {extra} trailing bytes after the record", raw=data)
        if not isinstance(record, dict):
            raise DecodeError(f"{entry.name}: writer schema is not a record", raw=data)
        try:
            _load_json(record, entry.plan, "")
        except _Invalid as exc:
            raise DecodeError(f"{entry.name}: {exc}", raw=data) from exc
        return record

    def _schema_id(self, entry: _Entry) -> int:
        schema_id = self._ids.get(entry.name)
        if schema_id is not None:
            return schema_id
        if self._registry is None:
            raise EncodeError("Confluent framing needs a schema registry (registry_url)")
        from confluent_kafka.schema_registry import Schema

        try:
            schema_id = int(
                self._registry.register_schema(entry.subject, Schema(entry.text, "AVRO"))
            )
        except Exception as exc:
            raise EncodeError(f"cannot register {entry.subject}: {exc}") from exc
        self._ids[entry.name] = schema_id
        self._by_id.setdefault(schema_id, entry.read)
        return schema_id

    def _writer_by_id(self, schema_id: int, data: bytes) -> Any:
        writer = self._by_id.get(schema_id)
        if writer is not None:
            return writer
        if self._registry is None:
            raise DecodeError("Confluent-framed record but no schema registry configured", raw=data)
        try:
            registered = self._registry.get_schema(schema_id)
        except Exception as exc:
            if getattr(exc, "http_status_code", None) == 404:
                raise DecodeError(f"schema id {schema_id} not in the registry", raw=data) from exc
            msg = f"schema registry unavailable (schema id {schema_id}): {exc}"
            raise RegistryUnavailableError(msg, raw=data) from exc
        try:
            if (registered.schema_type or "AVRO") != "AVRO":
                raise ValueError(f"schema type {registered.schema_type}")
            raw = json.loads(registered.schema_str)
            writer = self._writers.get(_fingerprint(raw)) or _parse(_strip_timestamps(raw), None)
        except Exception as exc:
            raise DecodeError(f"schema id {schema_id} is not usable: {exc}", raw=data) from exc
        self._by_id[schema_id] = writer
        return writer


def _load_entry(path: Path) -> _Entry:
    raw = _read_schema_file(path)
    write = _parse(raw, path)
    fullname = write["name"] if isinstance(write, dict) else ""
    if not fullname or write.get("type") != "record":
        raise ConfigurationError(f"{path}: top level must be a named record")
    return _Entry(
        name=path.stem,
        subject=f"{fullname}-value",
        text=json.dumps(raw, separators=(",", ":")),
        write=write,
        read=_parse(_strip_timestamps(raw), path),
        header=_SO_MAGIC + _fingerprint(raw),
        plan=_plan(write, write.get("__named_schemas", {})),
    )


def _read_schema_file(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"{path}: cannot read schema: {exc}") from exc


def _parse(raw: Any, path: Path | None) -> Any:
    try:
        return fastavro.parse_schema(raw)
    except Exception as exc:
        raise ConfigurationError(
            f"{path or 'registry schema'}: invalid Avro schema: {exc}"
        ) from exc


def _fingerprint(raw: Any) -> bytes:
    # fastavro returns the CRC-64-AVRO digest as hex of its little-endian bytes
    canonical = to_parsing_canonical_form(fastavro.parse_schema(raw))
    return bytes.fromhex(fingerprint(canonical, "CRC-64-AVRO"))


def _strip_timestamps(raw: Any) -> Any:
    """Drop timestamp logical types so the reader returns epoch millis, as the JSON framing does."""
    if isinstance(raw, list):
        return [_strip_timestamps(item) for item in raw]
    if not isinstance(raw, dict):
        return raw
    if str(raw.get("logicalType", "")).startswith(("timestamp-", "local-timestamp-")):
        return raw["type"]
    return {
        k: _strip_timestamps(v) if k in ("type", "fields", "items", "values") else v
        for k, v in raw.items()
    }


def _plan(schema: Any, named: Mapping[str, Any]) -> Plan:
    """Paths of the ``fusion.json`` fields, through nested (optionally null) records."""
    plan: Plan = {}
    for field in schema["fields"]:
        if field.get(_JSON_ATTR):
            plan[field["name"]] = None
            continue
        branches = field["type"] if isinstance(field["type"], list) else [field["type"]]
        for branch in branches:
            branch = named.get(branch, branch) if isinstance(branch, str) else branch
            if isinstance(branch, dict) and branch.get("type") == "record":
                sub = _plan(branch, named)
                if sub:
                    plan[field["name"]] = sub
    return plan


def _dump_json(record: Mapping[str, Any], plan: Plan, path: str) -> Mapping[str, Any]:
    if not plan:
        return record
    out = dict(record)
    for name, sub in plan.items():
        value = out.get(name)
        if value is None:
            continue
        if sub is None:
            out[name] = _json_text(value, path + name)
        elif isinstance(value, Mapping):
            out[name] = _dump_json(value, sub, f"{path}{name}.")
    return out


def _json_text(value: Any, path: str) -> str:
    if isinstance(value, str):
        try:
            json.loads(value)
            return value  # already JSON text
        except ValueError:
            pass  # a plain string: stored as a JSON string
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise EncodeError(f"field '{path}' is not JSON-serialisable: {exc}") from exc


def _load_json(record: dict[str, Any], plan: Plan, path: str) -> None:
    for name, sub in plan.items():
        value = record.get(name)
        if value is None:
            continue
        if sub is None:
            try:
                record[name] = json.loads(value)
            except ValueError as exc:
                raise _Invalid(path + name, f"is not valid JSON text: {exc}") from exc
        elif isinstance(value, dict):
            _load_json(value, sub, f"{path}{name}.")


def _decode_legacy(data: bytes, entry: _Entry, key: str | None) -> dict[str, Any]:
    """The old worker's ``{"payload": {...}}``, conformed to the schema (defaults, old quirks)."""
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise DecodeError(f"{entry.name}: invalid JSON: {exc}", raw=data) from exc
    payload = doc.get("payload") if isinstance(doc, dict) else None
    if not isinstance(payload, dict):
        msg = f'{entry.name}: legacy JSON must be an object with a "payload" object'
        raise DecodeError(msg, raw=data)
    for name in _ENVELOPE:  # envelope fields may sit next to the payload
        if payload.get(name) is None and doc.get(name) is not None:
            payload[name] = doc[name]
    if not payload.get("job_id") and key:
        payload["job_id"] = key
    try:
        return _conform(payload, entry.write, "")
    except (_Invalid, RecursionError) as exc:
        raise DecodeError(f"{entry.name} (legacy JSON): {exc}", raw=data) from exc


def _conform(value: Any, schema: Any, path: str, logical: str | None = None) -> Any:
    """``value`` made to fit ``schema`` (parsed): defaults filled, old worker's quirks coerced."""
    if isinstance(schema, list):  # our unions are ["null", X] (tests/unit/test_schemas.py)
        if value is None and "null" in schema:
            return None
        for branch in schema:
            if branch != "null":
                return _conform(value, branch, path)
        raise _Invalid(path, "must be null")
    if isinstance(schema, dict):
        kind = schema["type"]
        if kind == "record":
            return _conform_record(value, schema, path)
        if kind == "array":
            if not isinstance(value, list | tuple):
                raise _Invalid(path, f"expected an array, got {type(value).__name__}")
            return [_conform(v, schema["items"], f"{path}[{i}]") for i, v in enumerate(value)]
        if kind == "map":
            if not isinstance(value, Mapping):
                raise _Invalid(path, f"expected an object, got {type(value).__name__}")
            return {str(k): _conform(v, schema["values"], f"{path}.{k}") for k, v in value.items()}
        return _conform(value, kind, path, schema.get("logicalType"))
    convert = _PRIMITIVES.get(schema)
    if convert is None:
        raise _Invalid(path, f"has type {schema}, which legacy JSON does not support")
    try:
        return convert(value, schema, logical)
    except (TypeError, ValueError, OverflowError):
        got = f"{type(value).__name__} {value!r:.60}"
        raise _Invalid(path, f"expected {schema}, got {got}") from None


def _conform_record(value: Any, schema: Mapping[str, Any], path: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise _Invalid(path, f"expected an object, got {type(value).__name__}")
    out: dict[str, Any] = {}
    for field in schema["fields"]:
        name = field["name"]
        sub = f"{path}.{name}" if path else name
        item = value.get(name)
        if item is None and not _nullable(field["type"]):
            if "default" not in field:
                raise _Invalid(sub, "is required and missing")
            out[name] = copy.deepcopy(field["default"])
        elif field.get(_JSON_ATTR):
            out[name] = _lenient_json(item)
        else:
            out[name] = _conform(item, field["type"], sub)
    return out


def _nullable(schema: Any) -> bool:
    return schema == "null" or (isinstance(schema, list) and "null" in schema)


def _lenient_json(value: Any) -> Any:
    # the old worker passed JSON fields either as objects or as JSON text; keep non-JSON strings
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _to_null(value: Any, kind: str, logical: str | None) -> None:
    if value is not None:
        raise ValueError(kind)


def _to_bool(value: Any, kind: str, logical: str | None) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | str) and str(value).strip().lower() in ("1", "true", "0", "false"):
        return str(value).strip().lower() in ("1", "true")
    raise ValueError(kind)


def _to_int(value: Any, kind: str, logical: str | None) -> int:
    if isinstance(value, datetime) and logical:
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        result = (aware - _EPOCH) // _MS
    elif isinstance(value, float) and (value.is_integer() or (logical and math.isfinite(value))):
        result = int(value)  # epoch millis computed as time.time() * 1000
    elif isinstance(value, str) and logical and not value.strip().lstrip("-").isdigit():
        return _to_int(datetime.fromisoformat(value.strip()), kind, logical)
    elif isinstance(value, int | str):
        result = int(value)  # ints, "1" / "0" (isBody), bools
    else:
        raise ValueError(kind)
    low, high = _INT_RANGE[kind]
    if not low <= result <= high:
        raise ValueError(kind)
    return result


def _to_float(value: Any, kind: str, logical: str | None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(kind)
    return float(value)


def _to_str(value: Any, kind: str, logical: str | None) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)  # countryCode: 91
    raise ValueError(kind)


_PRIMITIVES: dict[str, Callable[[Any, str, str | None], Any]] = {
    "null": _to_null,
    "boolean": _to_bool,
    "int": _to_int,
    "long": _to_int,
    "float": _to_float,
    "double": _to_float,
    "string": _to_str,
}
