"""Fixtures for provider tests: a scriptable, recording loopback HTTP server and a context."""

from __future__ import annotations

import asyncio
import io
import json
import socket
import struct
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
import pytest
from aiohttp import web
from multidict import CIMultiDict, MultiDict

from fusion_stream.settings import Settings
from providers.base import ProviderContext


@dataclass(frozen=True)
class Reply:
    """What the loopback server answers.

    :param delay: seconds to wait before answering
    :param hang: never answer (the handler waits until the test ends)
    :param drop: reset the connection instead of answering
    """

    status: int = 200
    body: str | bytes = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0
    hang: bool = False
    drop: bool = False

    @classmethod
    def make(cls, json_body: Any = None, **kw: Any) -> Reply:
        """A Reply from keywords; ``json_body`` sets a JSON body and its Content-Type."""
        if json_body is not None:
            kw["body"] = json.dumps(json_body)
            kw["headers"] = {"Content-Type": "application/json", **kw.get("headers", {})}
        return cls(**kw)


@dataclass(frozen=True)
class Recorded:
    """One request the loopback server received."""

    method: str
    path: str
    query: MultiDict[str]
    headers: CIMultiDict[str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> list[tuple[str, str]]:
        return parse_qsl(self.body.decode(), keep_blank_values=True)


class LoopbackServer:
    """An aiohttp server on 127.0.0.1 that records every request and answers from a script.

    ``reply(path=..., **Reply fields)`` sets the answer of one path (``None``: any path without
    its own); ``script(*dicts, path=...)`` queues several: each request takes the next one and
    the last repeats. ``json_body=`` gives a JSON answer. Default: 200, empty body.
    """

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.url = ""
        self._scripts: dict[str | None, list[Reply]] = {None: [Reply()]}
        self._release = asyncio.Event()
        self._runner: web.AppRunner | None = None

    def reply(self, *, path: str | None = None, **fields: Any) -> None:
        self._scripts[path] = [Reply.make(**fields)]

    def script(self, *replies: Mapping[str, Any], path: str | None = None) -> None:
        self._scripts[path] = [Reply.make(**r) for r in replies] or [Reply()]

    def url_for(self, path: str) -> str:
        return self.url + path

    def on(self, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.path == path]

    async def start(self) -> None:
        app = web.Application(client_max_size=16 << 20)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        await web.SockSite(self._runner, sock).start()
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"

    async def stop(self) -> None:
        self._release.set()  # let hanging handlers return
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(
            Recorded(
                method=request.method,
                path=request.path,
                query=MultiDict(request.query),
                headers=CIMultiDict(request.headers),
                body=await request.read(),
            )
        )
        queue = self._scripts.get(request.path) or self._scripts[None]
        reply = queue.pop(0) if len(queue) > 1 else queue[0]
        if reply.hang:
            await self._release.wait()
        elif reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.drop and request.transport is not None:
            sock = request.transport.get_extra_info("socket")
            if sock is not None:  # linger 0: the close sends a TCP reset
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            request.transport.abort()
        body = reply.body.encode() if isinstance(reply.body, str) else reply.body
        # a stream, so aiohttp does not warn about large bodies sent in one write
        return web.Response(status=reply.status, body=io.BytesIO(body), headers=dict(reply.headers))


@pytest.fixture
async def server() -> AsyncIterator[LoopbackServer]:
    srv = LoopbackServer()
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop()


@pytest.fixture
def refused_url() -> str:
    """A loopback URL nobody listens on (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as sess:
        yield sess


@pytest.fixture
def settings() -> Settings:
    return Settings(webhook_timeout=15.0, response_excerpt=300)


@pytest.fixture
def provider_config() -> dict[str, dict[str, str]]:
    """Per-provider settings by provider name; tests fill it in."""
    return {}


@pytest.fixture
def context(
    session: aiohttp.ClientSession, settings: Settings, provider_config: dict[str, dict[str, str]]
) -> ProviderContext:
    return ProviderContext(
        session=session, settings=settings, config=lambda name: provider_config.get(name, {})
    )
