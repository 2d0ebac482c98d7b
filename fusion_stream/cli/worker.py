"""``fusion-stream worker``: run the Faust worker with every channel agent."""

from __future__ import annotations

from typing import Any

import click


@click.command()
@click.option("--loglevel", default=None, help="Log level (default: FUSION_LOG_LEVEL or info).")
@click.option(
    "--hint/--no-hint",
    default=False,
    help="Print a command to try from a second terminal once the worker is ready.",
)
def worker(loglevel: str | None, hint: bool) -> None:
    """Consume the channel topics and deliver every event."""
    import faust

    import agents  # noqa: F401  (registers the agents on the app)
    from fusion_stream.app import app, settings
    from fusion_stream.runtime import close_runtime

    @app.on_before_shutdown.connect  # type: ignore[arg-type]
    async def _close(app: object, **kwargs: Any) -> None:
        await close_runtime()

    class Worker(faust.Worker):
        async def on_startup_finished(self) -> None:
            await super().on_startup_finished()
            click.echo("fusion-stream worker ready", err=True)
            if hint:
                click.echo(
                    "\nTry it from a second terminal:\n"
                    "  .venv/bin/fusion-stream send webhook --url http://127.0.0.1:8099/hook "
                    '--method POST --json \'{"hello": "world"}\'\n'
                    "  .venv/bin/fusion-stream outcomes --follow\n",
                    err=True,
                )

    runner = Worker(app, loglevel=loglevel or settings.log_level)
    # Faust's terminal spinner sets the root logger to DEBUG at warning level and above, so
    # every aiokafka/Faust debug line builds a record: 10-14% of the worker's CPU (bench).
    runner.spinner = None
    runner.execute_from_commandline()
