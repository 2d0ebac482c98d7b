"""``fusion-stream kafka up|down|status``: a local single-node Kafka (KRaft) on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from fusion_stream import localkafka as lk

F = TypeVar("F", bound=Callable[..., Any])


def _port_option(func: F) -> F:
    return click.option(
        "--port",
        type=click.IntRange(1, 65535),
        envvar=lk.ENV_PORT,
        default=lk.DEFAULT_PORT,
        show_default=True,
        show_envvar=True,
        help="Broker (PLAINTEXT) port on 127.0.0.1.",
    )(func)


def _cache_option(func: F) -> F:
    return click.option(
        "--cache-dir",
        type=click.Path(file_okay=False, path_type=Path),
        envvar=lk.ENV_CACHE,
        default=None,
        show_envvar=True,
        help="Root of the per-port state dirs [default: <repo>/.cache/kafka].",
    )(func)


def _progress(message: str) -> None:
    click.echo(message, err=True)


@click.group()
def kafka() -> None:
    """A local single-node Apache Kafka (KRaft) for development and tests.

    Jars come from Maven Central (kafka/pom.xml); state lives in .cache/kafka/<port>/.
    When FUSION_BROKER is set, `up` only checks that broker and `down` does nothing.
    """


@kafka.command()
@_port_option
@click.option(
    "--controller-port",
    type=click.IntRange(1, 65535),
    default=None,
    help="KRaft controller port [default: port+1].",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help=(
        f"Seconds to wait for the broker to answer "
        f"[default: {lk.DEFAULT_TIMEOUT:g}, {lk.DEFAULT_EXTERNAL_TIMEOUT:g} for FUSION_BROKER]."
    ),
)
@click.option("--wipe", is_flag=True, help="Delete the data dir first (a new, empty cluster).")
@_cache_option
def up(
    port: int,
    controller_port: int | None,
    timeout: float | None,
    wipe: bool,
    cache_dir: Path | None,
) -> None:
    """Start the broker unless it already runs, and wait until it answers."""
    external = lk.external_broker()
    try:
        if external:
            bootstrap = lk.use_external(external, timeout or lk.DEFAULT_EXTERNAL_TIMEOUT)
            click.echo(f"using existing broker at {bootstrap} ({lk.ENV_BROKER}={external})")
            return
        result = lk.up(
            port,
            controller_port=controller_port,
            cache_root=cache_dir,
            timeout=timeout or lk.DEFAULT_TIMEOUT,
            wipe=wipe,
            progress=_progress,
        )
    except lk.LocalKafkaError as exc:
        raise click.ClickException(str(exc)) from exc
    paths = result.paths
    if result.started:
        click.echo(f"Kafka {lk.KAFKA_VERSION} is up at {paths.bootstrap} (pid {result.pid})")
    else:
        click.echo(f"Kafka is already running at {paths.bootstrap} (pid {result.pid})")
    click.echo(f"  broker url: {paths.url}")
    click.echo(f"  data dir:   {paths.data_dir}")
    click.echo(f"  log:        {paths.log_file}")


@kafka.command()
@_port_option
@click.option("--wipe", is_flag=True, help="Also delete the data dir (all topics and offsets).")
@_cache_option
def down(port: int, wipe: bool, cache_dir: Path | None) -> None:
    """Stop the broker (SIGTERM, SIGKILL after 30 s); idempotent."""
    external = lk.external_broker()
    if external:
        click.echo(f"{lk.ENV_BROKER}={external} is set: using an existing broker, nothing to stop")
        try:
            local = lk.status(port, cache_root=cache_dir)
        except lk.LocalKafkaError:
            return
        if local.running:
            click.echo(
                f"note: a local broker runs at {local.paths.bootstrap} (pid {local.pid}); "
                f"unset {lk.ENV_BROKER} to stop it with this command"
            )
        return
    try:
        result = lk.down(port, cache_root=cache_dir, wipe=wipe)
    except lk.LocalKafkaError as exc:
        raise click.ClickException(str(exc)) from exc
    paths = result.paths
    if result.pid is None:
        click.echo(f"Kafka is not running at {paths.bootstrap}")
    elif result.killed:
        click.echo(f"Kafka (pid {result.pid}) did not stop on SIGTERM: killed it")
    else:
        click.echo(f"Kafka (pid {result.pid}) at {paths.bootstrap} stopped")
    if result.wiped:
        click.echo(f"deleted {paths.data_dir}")


@kafka.command()
@_port_option
@_cache_option
@click.pass_context
def status(ctx: click.Context, port: int, cache_dir: Path | None) -> None:
    """Show whether the broker runs; exit code 0 if it does, 3 if not."""
    external = lk.external_broker()
    try:
        if external:
            try:
                bootstrap = lk.use_external(external, 5.0)
            except lk.LocalKafkaError as exc:
                click.echo(f"existing broker: not answering ({exc})")
                ctx.exit(3)
            click.echo(f"existing broker at {bootstrap} answers ({lk.ENV_BROKER}={external})")
            return
        state = lk.status(port, cache_root=cache_dir)
    except lk.LocalKafkaError as exc:
        raise click.ClickException(str(exc)) from exc
    paths = state.paths
    if state.running:
        answer = "" if state.listening else " (not accepting connections yet)"
        click.echo(f"running{answer}")
        click.echo(f"  pid:        {state.pid}")
    else:
        click.echo("not running")
    click.echo(f"  port:       {paths.port} (controller {paths.controller_port}) on {lk.HOST}")
    click.echo(f"  data dir:   {paths.data_dir}")
    click.echo(f"  log:        {paths.log_file}")
    if not state.running:
        ctx.exit(3)
