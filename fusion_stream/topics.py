"""topics.yaml: the one place that names topics; load and validate it, apply it to a cluster."""

from __future__ import annotations

import difflib
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewPartitions,
    NewTopic,
    ResourceType,
)

from fusion_stream.errors import ConfigurationError, TopicsFileError

#: every TopicSpec.role
ROLES = ("channel", "dlq", "retry", "outcomes", "provider-config", "other")
#: value_schema of topics that carry another topic's original bytes (retry tiers)
RAW = "raw"
#: env var overriding every topic's replication factor (a single-node broker wants 1)
REPLICATION_ENV = "FUSION_TOPICS_REPLICATION_FACTOR"

# Topic-level configs of Kafka 3.9 (describe_configs of a topic); a typo fails at load time,
# with its line, instead of at the broker. Add names here when the broker learns new ones.
KAFKA_TOPIC_CONFIGS = frozenset(
    """cleanup.policy compression.gzip.level compression.lz4.level compression.type
    compression.zstd.level delete.retention.ms file.delete.delay.ms flush.messages flush.ms
    follower.replication.throttled.replicas index.interval.bytes
    leader.replication.throttled.replicas local.retention.bytes local.retention.ms
    max.compaction.lag.ms max.message.bytes message.downconversion.enable
    message.format.version message.timestamp.after.max.ms message.timestamp.before.max.ms
    message.timestamp.difference.max.ms message.timestamp.type min.cleanable.dirty.ratio
    min.compaction.lag.ms min.insync.replicas preallocate remote.log.copy.disable
    remote.log.delete.on.disable remote.storage.enable retention.bytes retention.ms
    segment.bytes segment.index.bytes segment.jitter.ms segment.ms
    unclean.leader.election.enable""".split()
)
#: configs whose value is a comma-separated set (order does not matter when comparing)
_LIST_CONFIGS = frozenset(
    {
        "cleanup.policy",
        "leader.replication.throttled.replicas",
        "follower.replication.throttled.replicas",
    }
)


@dataclass(frozen=True)
class TopicSpec:
    """One topic as declared: what `apply` makes the cluster hold."""

    name: str
    partitions: int
    replication_factor: int
    configs: Mapping[str, str]
    value_schema: str | None
    role: str


@dataclass(frozen=True)
class RetryTier:
    """A retry topic and its one fixed delay."""

    topic: str
    delay_seconds: float


@dataclass(frozen=True)
class RetryPolicy:
    """How a channel retries: tiers in order, attempts (the first try counts) and time budget.

    Which tier a given failure goes to is decided in one place: ``fusion_stream.retry``.
    """

    tiers: tuple[RetryTier, ...]
    max_attempts: int
    budget_seconds: float
    #: per ``task_type`` policies (what a task type does not set, it takes from the channel)
    task_types: Mapping[str, RetryPolicy] = field(default_factory=dict)

    def for_task(self, task_type: str | None) -> RetryPolicy:
        """The policy of an event of ``task_type``: its override, else the channel's."""
        return self.task_types.get(task_type or "", self)

    def map_tiers(self, fn: Callable[[RetryTier], RetryTier]) -> RetryPolicy:
        return replace(
            self,
            tiers=tuple(fn(t) for t in self.tiers),
            task_types={k: p.map_tiers(fn) for k, p in self.task_types.items()},
        )


@dataclass(frozen=True)
class ChannelSpec:
    """A channel: its topic, value schema, dead-letter topic and retry policy."""

    name: str
    topic: str
    value_schema: str
    dlq: str
    retry: RetryPolicy
    otp: bool = False


@dataclass(frozen=True)
class Change:
    """One thing `apply_topics` did (or, in a dry run, would do).

    :param kind: ``create``, ``partitions``, ``config`` or ``warning`` (cannot be fixed here)
    """

    kind: str
    topic: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind:<10} {self.topic}: {self.detail}"


@dataclass(frozen=True)
class TopicsConfig:
    """Every declared topic, the channels and the retry tiers."""

    topics: tuple[TopicSpec, ...]
    channels: Mapping[str, ChannelSpec]
    retry_tiers: Mapping[str, RetryTier]
    path: Path | None = None
    _by_topic: Mapping[str, ChannelSpec] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_topic = {c.topic: c for c in self.channels.values()}
        by_topic.update({c.dlq: c for c in self.channels.values()})
        object.__setattr__(self, "_by_topic", by_topic)

    def all_topics(self) -> list[TopicSpec]:
        return list(self.topics)

    def topic(self, name: str) -> TopicSpec:
        for spec in self.topics:
            if spec.name == name:
                return spec
        raise ConfigurationError(f"topic {name!r} is not declared in {self.path}")

    def channel(self, name: str) -> ChannelSpec:
        try:
            return self.channels[name]
        except KeyError:
            known = ", ".join(self.channels)
            raise ConfigurationError(f"unknown channel {name!r} (known: {known})") from None

    def channel_for_topic(self, topic: str) -> ChannelSpec:
        """The channel whose topic or dead-letter topic is ``topic``."""
        try:
            return self._by_topic[topic]
        except KeyError:
            raise ConfigurationError(f"topic {topic!r} belongs to no channel") from None

    def tier(self, topic: str) -> RetryTier:
        try:
            return self.retry_tiers[topic]
        except KeyError:
            known = ", ".join(self.retry_tiers)
            raise ConfigurationError(f"unknown retry tier {topic!r} (known: {known})") from None

    @property
    def outcomes(self) -> str:
        return self._one("outcomes")

    @property
    def provider_config(self) -> str:
        return self._one("provider-config")

    def dlq_topics(self) -> list[str]:
        return [t.name for t in self.topics if t.role == "dlq"]

    def _one(self, role: str) -> str:
        return next(t.name for t in self.topics if t.role == role)

    def with_replication_factor(self, factor: int | None) -> TopicsConfig:
        """Every topic with ``factor`` replicas; min.insync.replicas lowered to fit it."""
        if factor is None:
            return self
        if factor < 1:
            raise ConfigurationError(f"replication factor must be >= 1, got {factor}")

        def fit(spec: TopicSpec) -> TopicSpec:
            configs = dict(spec.configs)
            if int(configs.get("min.insync.replicas", "1")) > factor:
                configs["min.insync.replicas"] = str(factor)
            return replace(spec, replication_factor=factor, configs=MappingProxyType(configs))

        return replace(self, topics=tuple(fit(t) for t in self.topics))

    def with_prefix(self, prefix: str) -> TopicsConfig:
        """The same config with every topic name prefixed (isolated topics for tests)."""

        def tier(t: RetryTier) -> RetryTier:
            return replace(t, topic=prefix + t.topic)

        channels = {
            name: replace(
                c,
                topic=prefix + c.topic,
                dlq=prefix + c.dlq,
                retry=c.retry.map_tiers(tier),
            )
            for name, c in self.channels.items()
        }
        return TopicsConfig(
            topics=tuple(replace(t, name=prefix + t.name) for t in self.topics),
            channels=MappingProxyType(channels),
            retry_tiers=MappingProxyType(
                {prefix + k: tier(t) for k, t in self.retry_tiers.items()}
            ),
            path=self.path,
        )


def bootstrap_servers(url: str) -> str:
    """Faust-style broker URL(s) (``kafka://h:p;kafka://h2:p``) as ``h:p,h2:p``."""
    hosts = []
    for part in re.split(r"[;,]", url):
        host = re.sub(r"^[a-z][a-z0-9+.-]*://", "", part.strip(), flags=re.I).strip("/")
        if host:
            hosts.append(host if ":" in host else f"{host}:9092")
    if not hosts:
        raise ConfigurationError(f"no broker in URL {url!r}")
    return ",".join(hosts)


def replication_override() -> int | None:
    """The replication factor forced by ``FUSION_TOPICS_REPLICATION_FACTOR``, if set."""
    raw = os.environ.get(REPLICATION_ENV, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigurationError(f"{REPLICATION_ENV} must be an integer >= 1, got {raw!r}")
    return int(raw)


# --- loading: YAML nodes keep their marks so every error names its line ---------------------


class _Map(dict[Any, Any]):
    """A YAML mapping that remembers the lines of its keys and values, and duplicate keys."""

    def __init__(self) -> None:
        super().__init__()
        self.key_lines: dict[Any, int] = {}
        self.value_lines: dict[Any, int] = {}
        self.duplicates: list[tuple[Any, int]] = []


class _Seq(list[Any]):
    """A YAML sequence that remembers the line of each item."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[int] = []


class _MarkingLoader(yaml.SafeLoader):
    """SafeLoader building _Map/_Seq (1-based lines) and recording duplicate keys."""


def _construct_map(loader: _MarkingLoader, node: yaml.MappingNode) -> _Map:
    loader.flatten_mapping(node)
    result = _Map()
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str | int | float | bool | None):
            raise yaml.constructor.ConstructorError(
                None, None, "a mapping key must be a scalar", key_node.start_mark
            )
        if key in result:
            result.duplicates.append((key, key_node.start_mark.line + 1))
            continue
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1
        result.value_lines[key] = value_node.start_mark.line + 1
    return result


def _construct_seq(loader: _MarkingLoader, node: yaml.SequenceNode) -> _Seq:
    result = _Seq()
    for item in node.value:
        result.append(loader.construct_object(item, deep=True))
        result.lines.append(item.start_mark.line + 1)
    return result


_MarkingLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_map)
_MarkingLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_seq)

_TOPIC_NAME = re.compile(r"^[A-Za-z0-9._-]{1,249}$")
_CHANNEL_NAME = re.compile(r"^[a-z][a-z0-9._-]*$")
_SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DURATION = re.compile(r"^(\d+)\s*(ms|s|m|h|d)$")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_LAYER = {"partitions", "replication_factor", "configs"}


class _Invalid(Exception):
    """A field is wrong; becomes a TopicsFileError once the file name is added."""

    def __init__(self, at: _At, message: str) -> None:
        where = f"{at.where}: " if at.where else ""
        super().__init__(f"{at.line}: {where}{message}")


@dataclass(frozen=True)
class _At:
    """A value of the document with its line and field path (``channels.sms.retry``)."""

    value: Any
    line: int
    where: str

    def mapping(self, allowed: Iterable[str] | None = None, required: Iterable[str] = ()) -> _At:
        if not isinstance(self.value, _Map):
            raise _Invalid(self, f"expected a mapping, got {_kind(self.value)}")
        for key, line in self.value.duplicates:
            raise _Invalid(_At(key, line, _join(self.where, key)), "duplicate key")
        for key in self.keys():
            if not isinstance(key.value, str):
                raise _Invalid(key, f"key {key.value!r} must be a string")
            if allowed is not None and key.value not in allowed:
                raise _Invalid(key, f"unknown key{_hint(key.value, allowed)}")
        for name in required:
            if name not in self.value:
                raise _Invalid(self, f"missing required key {name!r}")
        return self

    def __contains__(self, key: str) -> bool:
        return key in self.value

    def __getitem__(self, key: str) -> _At:
        return _At(self.value[key], self.value.value_lines[key], _join(self.where, key))

    def keys(self) -> list[_At]:
        m = self.value
        return [_At(k, m.key_lines[k], _join(self.where, k)) for k in m]

    def entries(self) -> list[tuple[_At, _At]]:
        return [(key, self[key.value]) for key in self.keys()]

    def items(self) -> list[_At]:
        if not isinstance(self.value, _Seq) or not self.value:
            raise _Invalid(self, f"expected a non-empty list, got {_kind(self.value)}")
        return [
            _At(v, line, f"{self.where}[{i}]")
            for i, (v, line) in enumerate(zip(self.value, self.value.lines, strict=True))
        ]

    def integer(self, minimum: int = 1) -> int:
        if isinstance(self.value, bool) or not isinstance(self.value, int):
            raise _Invalid(self, f"expected an integer, got {_kind(self.value)}")
        if self.value < minimum:
            raise _Invalid(self, f"must be >= {minimum}, got {self.value}")
        return self.value

    def boolean(self) -> bool:
        if not isinstance(self.value, bool):
            raise _Invalid(self, f"expected true or false, got {_kind(self.value)}")
        return self.value

    def string(self, pattern: re.Pattern[str] | None = None, what: str = "value") -> str:
        if not isinstance(self.value, str) or not self.value.strip():
            raise _Invalid(self, f"expected a non-empty string, got {_kind(self.value)}")
        if pattern and not pattern.match(self.value.strip()):
            raise _Invalid(self, f"invalid {what} {self.value!r}")
        return self.value.strip()

    def millis(self) -> int:
        if isinstance(self.value, int) and not isinstance(self.value, bool):
            return self.value
        match = _DURATION.match(self.value.strip()) if isinstance(self.value, str) else None
        if not match:
            raise _Invalid(self, f"bad duration {self.value!r} (10s, 1m, 1h, 14d or integer ms)")
        return int(match[1]) * _UNIT_MS[match[2]]

    def seconds(self) -> float:
        if (ms := self.millis()) <= 0:
            raise _Invalid(self, "must be a positive duration")
        return ms / 1000


@dataclass(frozen=True)
class _Layer:
    """Partial topic settings; later layers win, configs merge key by key."""

    partitions: int | None = None
    replication_factor: int | None = None
    configs: Mapping[str, str] = field(default_factory=dict)


class _Parser:
    """Turns the loaded document into a TopicsConfig, checking every field."""

    def __init__(self, schemas: Path | None) -> None:
        self.schemas = schemas
        self.seen: dict[str, _At] = {}
        self.specs: list[TopicSpec] = []

    def parse(self, doc: Any) -> TopicsConfig:
        top = _At(doc, 1, "").mapping(
            {"defaults", "dlq_defaults", "channels", "retry_tiers", "topics"},
            ["defaults", "channels", "retry_tiers", "topics"],
        )
        base = self.layer(top["defaults"].mapping(_LAYER, ["partitions", "replication_factor"]))
        dlq = self.layer(top["dlq_defaults"].mapping(_LAYER)) if "dlq_defaults" in top else _Layer()

        tiers: dict[str, RetryTier] = {}
        tier_layers = []
        for key, entry in top["retry_tiers"].mapping().entries():
            name = self.topic_name(key)
            entry.mapping(_LAYER | {"delay"}, ["delay"])
            tiers[name] = RetryTier(name, entry["delay"].seconds())
            tier_layers.append((name, self.layer(entry)))

        channels: dict[str, ChannelSpec] = {}
        section = top["channels"].mapping()
        if not section.value:
            raise _Invalid(section, "declare at least one channel")
        for key, c in section.entries():
            name = key.string(_CHANNEL_NAME, "channel name")
            c.mapping(
                _LAYER | {"topic", "value_schema", "dlq", "retry", "otp"},
                ["topic", "value_schema", "dlq", "retry"],
            )
            spec = ChannelSpec(
                name=name,
                topic=self.topic_name(c["topic"]),
                value_schema=self.schema(c["value_schema"]),
                dlq=self.topic_name(c["dlq"]),
                retry=self.retry(c["retry"], tiers),
                otp=c["otp"].boolean() if "otp" in c else False,
            )
            channels[name] = spec
            self.add(spec.topic, "channel", spec.value_schema, base, self.layer(c))
            self.add(spec.dlq, "dlq", spec.value_schema, base, dlq)
        for name, layer in tier_layers:
            self.add(name, "retry", RAW, base, layer)

        roles: dict[str, _At] = {}
        for key, t in top["topics"].mapping().entries():
            name = self.topic_name(key)
            t.mapping(_LAYER | {"role", "value_schema"})
            role = t["role"].string() if "role" in t else "other"
            if role not in {"outcomes", "provider-config", "other"}:
                raise _Invalid(
                    t["role"], f"unknown role {role!r} (outcomes, provider-config, other)"
                )
            if role in roles and role != "other":
                first = roles[role]
                raise _Invalid(t["role"], f"a second {role!r} topic (first: {first.where})")
            roles.setdefault(role, t)
            schema = self.schema(t["value_schema"]) if t.value.get("value_schema") else None
            self.add(name, role, schema, base, self.layer(t))
        for role in ("outcomes", "provider-config"):
            if role not in roles:
                section_key = _At(None, top.value.key_lines["topics"], "topics")
                raise _Invalid(section_key, f"no topic with role {role!r}")

        return TopicsConfig(
            topics=tuple(self.specs),
            channels=MappingProxyType(channels),
            retry_tiers=MappingProxyType(tiers),
        )

    def topic_name(self, at: _At) -> str:
        name = at.string(_TOPIC_NAME, "topic name (letters, digits, '.', '_', '-')")
        if name in {".", ".."}:
            raise _Invalid(at, f"invalid topic name {name!r}")
        if name in self.seen:
            first, second = sorted([self.seen[name], at], key=lambda a: a.line)
            raise _Invalid(
                second, f"duplicate topic {name!r} (also {first.where}, line {first.line})"
            )
        self.seen[name] = at
        return name

    def schema(self, at: _At) -> str:
        name = at.string(_SCHEMA_NAME, "schema name")
        if name != RAW and self.schemas and not (self.schemas / f"{name}.avsc").is_file():
            raise _Invalid(at, f"no schema file {name}.avsc in {self.schemas}")
        return name

    def retry(
        self, at: _At, tiers: Mapping[str, RetryTier], base: RetryPolicy | None = None
    ) -> RetryPolicy:
        keys = {"tiers", "max_attempts", "budget"}
        if base is None:
            at.mapping(keys | {"task_types"}, ["tiers", "max_attempts", "budget"])
        else:
            at.mapping(keys)  # a task type's override: any subset of the channel's keys
        chosen = []
        for item in at["tiers"].items() if "tiers" in at else []:
            if (topic := item.string()) not in tiers:
                raise _Invalid(item, f"unknown retry tier {topic!r} (declare it in retry_tiers)")
            chosen.append(tiers[topic])
        policy = RetryPolicy(
            tuple(chosen) or (base.tiers if base else ()),
            at["max_attempts"].integer() if "max_attempts" in at else base.max_attempts,  # type: ignore[union-attr]
            at["budget"].seconds() if "budget" in at else base.budget_seconds,  # type: ignore[union-attr]
        )
        if base is None and "task_types" in at:
            overrides = {
                str(key.value): self.retry(value, tiers, policy)
                for key, value in at["task_types"].mapping().entries()
            }
            policy = replace(policy, task_types=MappingProxyType(overrides))
        return policy

    def layer(self, at: _At) -> _Layer:
        return _Layer(
            partitions=at["partitions"].integer() if "partitions" in at else None,
            replication_factor=(
                at["replication_factor"].integer() if "replication_factor" in at else None
            ),
            configs=self.configs(at["configs"]) if "configs" in at else {},
        )

    def configs(self, at: _At) -> dict[str, str]:
        out: dict[str, str] = {}
        for key, value in at.mapping().entries():
            name = key.value
            if name not in KAFKA_TOPIC_CONFIGS:
                raise _Invalid(key, f"unknown Kafka topic config{_hint(name, KAFKA_TOPIC_CONFIGS)}")
            if isinstance(value.value, _Seq) and name in _LIST_CONFIGS:
                out[name] = ",".join(item.string() for item in value.items())
            elif value.value is None or isinstance(value.value, _Map | _Seq):
                raise _Invalid(value, f"expected a single value, got {_kind(value.value)}")
            elif isinstance(value.value, bool):
                out[name] = str(value.value).lower()
            else:
                out[name] = str(value.millis() if name.endswith(".ms") else value.value)
        return out

    def add(self, name: str, role: str, schema: str | None, *layers: _Layer) -> None:
        partitions, replication, configs = 1, 1, dict[str, str]()
        for layer in layers:
            partitions = layer.partitions or partitions
            replication = layer.replication_factor or replication
            configs.update(layer.configs)
        spec = TopicSpec(name, partitions, replication, MappingProxyType(configs), schema, role)
        self.specs.append(spec)


def _join(where: str, key: Any) -> str:
    return f"{where}.{key}" if where else str(key)


def _kind(value: Any) -> str:
    if isinstance(value, _Map):
        return "a mapping"
    if isinstance(value, _Seq):
        return "a list"
    return "nothing" if value is None else f"{type(value).__name__} {value!r}"


def _hint(key: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(key, sorted(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _parse_file(path: Path, schemas: Path | None) -> TopicsConfig:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TopicsFileError(f"{path}: cannot read: {exc}") from exc
    try:
        doc = yaml.load(text, Loader=_MarkingLoader)
        return replace(_Parser(schemas).parse(doc), path=path)
    except _Invalid as exc:
        raise TopicsFileError(f"{path}:{exc}") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise TopicsFileError(f"{path}:{line}: invalid YAML: {exc.problem or exc.context}") from exc
    except yaml.YAMLError as exc:
        raise TopicsFileError(f"{path}: invalid YAML: {exc}") from exc


#: (file, schemas dir, replication) -> (file's mtime and size, its config)
_cache: dict[tuple[str, str, int | None], tuple[tuple[int, int], TopicsConfig]] = {}


def load_topics(
    path: Path, *, schemas_dir: Path | None = None, replication_factor: int | None = None
) -> TopicsConfig:
    """Read and validate topics.yaml (cached until the file changes).

    :param schemas_dir: folder of the .avsc files each value_schema must name (default: the
        ``schemas`` folder next to the file); not checked when the folder does not exist
    :param replication_factor: override every topic's replication factor
    :raises TopicsFileError: the file is missing or malformed (message: file, line, field)
    """
    path = Path(path)
    schemas = schemas_dir if schemas_dir is not None else path.parent / "schemas"
    try:
        stat = path.stat()
    except OSError as exc:
        raise TopicsFileError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    key = (str(path.resolve()), str(schemas), replication_factor)
    stamp = (stat.st_mtime_ns, stat.st_size)
    cached = _cache.get(key)
    if cached is None or cached[0] != stamp:
        config = _parse_file(path, schemas if schemas.is_dir() else None)
        cached = _cache[key] = (stamp, config.with_replication_factor(replication_factor))
    return cached[1]


def get_topics() -> TopicsConfig:
    """The topics of this deployment: settings' topics_file, with the replication override."""
    from fusion_stream.settings import get_settings

    settings = get_settings()
    return load_topics(
        settings.topics_file,
        schemas_dir=settings.schemas_dir,
        replication_factor=replication_override(),
    )


# --- applying: create, grow and reconfigure; never delete --------------------------------------


class TopicsApplyError(ConfigurationError):
    """The cluster refused some changes; ``applied`` holds the ones that went through."""

    def __init__(self, message: str, applied: list[Change]) -> None:
        self.applied = applied
        super().__init__(message)


@dataclass
class _Plan:
    """What the cluster lacks, found by one look at its metadata and topic configs."""

    create: list[TopicSpec] = field(default_factory=list)
    grow: list[tuple[TopicSpec, int]] = field(default_factory=list)
    alter: dict[str, list[tuple[str, str | None, str]]] = field(default_factory=dict)
    warnings: list[Change] = field(default_factory=list)

    def pending(self) -> bool:
        return bool(self.create or self.grow or self.alter)


def apply_topics(
    config: TopicsConfig, admin: AdminClient, *, dry_run: bool, timeout: float = 30.0
) -> list[Change]:
    """Make the cluster hold every declared topic; returns what changed (nothing twice).

    Creates missing topics, raises partition counts, sets the configs we declare that differ.
    Never deletes a topic or a config, never lowers partitions or touches the replication
    factor: those come back as ``warning`` changes. ``dry_run`` sends the same requests with
    ``validate_only`` (the broker checks them) and changes nothing.

    :raises TopicsApplyError: the broker is unreachable or refused a change
    """
    plan = _plan(config, admin, timeout)
    applied: list[Change] = []
    failures: dict[str, list[str]] = {}  # "what: error" -> topics
    kwargs = {"validate_only": dry_run, "request_timeout": timeout}

    def collect(futures: Mapping[Any, Any], changes: Mapping[str, list[Change]], what: str) -> None:
        for key, future in futures.items():
            topic = getattr(key, "name", key)
            try:
                future.result()
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:  # a concurrent apply
                    failures.setdefault(f"{what}: {_error_text(exc)}", []).append(topic)
                    continue
            applied.extend(changes[topic])

    if plan.create:
        new = [
            NewTopic(t.name, t.partitions, t.replication_factor, config=dict(t.configs))
            for t in plan.create
        ]
        changes = {t.name: [Change("create", t.name, _describe_new(t))] for t in plan.create}
        collect(admin.create_topics(new, operation_timeout=timeout, **kwargs), changes, "create")
    if plan.grow:
        new_partitions = [NewPartitions(t.name, t.partitions) for t, _ in plan.grow]
        changes = {
            t.name: [Change("partitions", t.name, f"{have} -> {t.partitions}")]
            for t, have in plan.grow
        }
        collect(admin.create_partitions(new_partitions, **kwargs), changes, "add partitions")
    if plan.alter:
        resources = [
            ConfigResource(
                ResourceType.TOPIC,
                name,
                incremental_configs=[
                    ConfigEntry(key, new, incremental_operation=AlterConfigOpType.SET)
                    for key, _, new in diffs
                ],
            )
            for name, diffs in plan.alter.items()
        ]
        changes = {
            name: [Change("config", name, f"{key}: {old} -> {new}") for key, old, new in diffs]
            for name, diffs in plan.alter.items()
        }
        collect(admin.incremental_alter_configs(resources, **kwargs), changes, "alter configs")
    applied.extend(plan.warnings)

    if failures:
        message = "; ".join(f"{_some(topics)}: {error}" for error, topics in failures.items())
        raise TopicsApplyError(message, applied)
    if plan.pending() and not dry_run:
        _settle(config, admin, timeout)
    return applied


def _plan(config: TopicsConfig, admin: AdminClient, timeout: float) -> _Plan:
    try:
        metadata = admin.list_topics(timeout=timeout)
    except KafkaException as exc:
        raise TopicsApplyError(f"cannot list topics: {_error_text(exc)}", []) from exc
    plan = _Plan()
    present = []
    for t in config.all_topics():
        if t.name not in metadata.topics:
            plan.create.append(t)
            continue
        present.append(t)
        partitions = metadata.topics[t.name].partitions
        if len(partitions) < t.partitions:
            plan.grow.append((t, len(partitions)))
        elif len(partitions) > t.partitions:
            detail = f"has {len(partitions)} partitions, declares {t.partitions}: never lowered"
            plan.warnings.append(Change("warning", t.name, detail))
        replicas = sorted({len(p.replicas) for p in partitions.values()})
        if replicas != [t.replication_factor]:
            found = "/".join(map(str, replicas))
            detail = f"replication factor is {found}, declares {t.replication_factor}: not changed"
            plan.warnings.append(Change("warning", t.name, detail))
    if present:
        resources = [ConfigResource(ResourceType.TOPIC, t.name) for t in present]
        futures = admin.describe_configs(resources, request_timeout=timeout)
        declared = {t.name: t.configs for t in present}
        for resource, future in futures.items():
            try:
                current = future.result()
            except KafkaException as exc:
                message = f"{resource.name}: describe configs: {_error_text(exc)}"
                raise TopicsApplyError(message, []) from exc
            for key, value in declared[resource.name].items():
                entry = current.get(key)
                have = entry.value if entry is not None else None
                if have is None or _canonical(key, have) != _canonical(key, value):
                    plan.alter.setdefault(resource.name, []).append((key, have, value))
    return plan


def _settle(config: TopicsConfig, admin: AdminClient, timeout: float) -> None:
    """Wait (bounded) until the broker's metadata shows what was just applied, so whatever
    runs next (a worker, a second apply) sees it; gives up quietly after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if not _plan(config, admin, timeout).pending():
                return
        except TopicsApplyError:
            pass  # a topic created a moment ago may not describe yet
        time.sleep(0.2)


def _some(names: list[str], shown: int = 3) -> str:
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def _canonical(key: str, value: str) -> str:
    if key in _LIST_CONFIGS:
        return ",".join(sorted(v.strip() for v in value.split(",") if v.strip()))
    return value.strip().lower()


def _describe_new(spec: TopicSpec) -> str:
    configs = " ".join(f"{k}={v}" for k, v in sorted(spec.configs.items()))
    return f"partitions={spec.partitions} replication_factor={spec.replication_factor} {configs}"


def _error_text(exc: KafkaException) -> str:
    error = exc.args[0] if exc.args else None
    if not isinstance(error, KafkaError):
        return str(exc)
    text = f"{error.name()}: {error.str()}"
    if error.code() == KafkaError.INVALID_REPLICATION_FACTOR:
        text += f" (on a single-node broker use --replication-factor 1 or {REPLICATION_ENV}=1)"
    return text
