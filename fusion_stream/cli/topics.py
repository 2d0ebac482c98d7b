"""`fusion-stream topics`: show the topics of topics.yaml and provision them on the cluster."""

from __future__ import annotations

from pathlib import Path

import click
from confluent_kafka.admin import AdminClient

from fusion_stream.errors import ConfigurationError
from fusion_stream.settings import get_settings
from fusion_stream.topics import (
    REPLICATION_ENV,
    TopicsApplyError,
    TopicsConfig,
    apply_topics,
    bootstrap_servers,
    load_topics,
)

file_option = click.option(
    "--file",
    "path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="topics file [default: FUSION_TOPICS_FILE or ./topics.yaml of the project]",
)
replication_option = click.option(
    "--replication-factor",
    type=click.IntRange(min=1),
    envvar=REPLICATION_ENV,
    default=None,
    help=f"replication factor of every topic (1 on a single-node broker) [env {REPLICATION_ENV}]",
)


@click.group()
def topics() -> None:
    """Kafka topics declared in topics.yaml."""


@topics.command("apply")
@click.option("--dry-run", is_flag=True, help="show what would change; change nothing")
@file_option
@replication_option
def apply(dry_run: bool, path: Path | None, replication_factor: int | None) -> None:
    """Create missing topics, add partitions, align configs. Never deletes anything."""
    config = _load(path, replication_factor)
    broker = get_settings().broker
    admin = AdminClient({"bootstrap.servers": bootstrap_servers(broker)})
    try:
        changes = apply_topics(config, admin, dry_run=dry_run)
    except TopicsApplyError as exc:
        for change in exc.applied:
            click.echo(str(change))
        raise click.ClickException(f"topics apply on {broker}: {exc}") from exc
    prefix = "[dry run] " if dry_run else ""
    for change in changes:
        click.echo(f"{prefix}{change}")
    if not [c for c in changes if c.kind != "warning"]:
        click.echo(f"{prefix}nothing to do")


@topics.command("list")
@file_option
@replication_option
def list_(path: Path | None, replication_factor: int | None) -> None:
    """Print the declared topics."""
    config = _load(path, replication_factor)
    rows: list[tuple[str, ...]] = [("TOPIC", "ROLE", "PARTITIONS", "RF", "SCHEMA", "CONFIGS")]
    for t in config.all_topics():
        configs = " ".join(f"{k}={v}" for k, v in sorted(t.configs.items()))
        role = t.role
        if t.role == "retry":
            role = f"retry {config.tier(t.name).delay_seconds:g}s"
        schema = t.value_schema or "-"
        rows.append((t.name, role, str(t.partitions), str(t.replication_factor), schema, configs))
    widths = [max(len(r[i]) for r in rows) for i in range(5)] + [0]
    for line in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())


def _load(path: Path | None, replication_factor: int | None) -> TopicsConfig:
    settings = get_settings()
    try:
        if path is None:
            return load_topics(
                settings.topics_file,
                schemas_dir=settings.schemas_dir,
                replication_factor=replication_factor,
            )
        return load_topics(path, replication_factor=replication_factor)
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from exc
