"""``fusion-stream sink``: a loopback HTTP endpoint printing what it receives (for make run)."""

from __future__ import annotations

import click


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8099, show_default=True)
@click.option("--status", default=200, show_default=True, help="Status every request gets.")
def sink(host: str, port: int, status: int) -> None:
    """Answer every request with STATUS and print a line about it."""
    from aiohttp import web

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        click.echo(f"sink: {request.method} {request.path_qs} {len(body)} bytes: {body[:200]!r}")
        return web.json_response({"ok": status < 400, "received": len(body)}, status=status)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    web.run_app(
        app,
        host=host,
        port=port,
        print=lambda *a: click.echo(f"sink listening on http://{host}:{port}/"),
    )
