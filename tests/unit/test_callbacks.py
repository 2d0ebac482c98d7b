"""Outcome callbacks: posted in the background, retried a bounded number of times."""

from __future__ import annotations

import aiohttp
from aiohttp import web

from fusion_stream.callbacks import CallbackPoster
from tests.support.httpserver import ThreadedServer


async def test_callback_is_posted_and_retried_until_accepted() -> None:
    answers = [503, 500, 200]

    async def flaky(request: web.Request, body: bytes) -> web.Response:
        return web.Response(status=answers.pop(0))

    server = ThreadedServer(behaviour=flaky).start()
    try:
        async with aiohttp.ClientSession() as session:
            poster = CallbackPoster(session, attempts=3, backoff=0.01)
            poster.post(f"{server.url}/cb", {"job_id": "j1", "status": "sent"})
            await poster.close(grace=10)
        bodies = [r.json() for r in server.snapshot()]
        assert bodies == [{"job_id": "j1", "status": "sent"}] * 3
    finally:
        server.stop()


async def test_a_dead_callback_gives_up_after_its_attempts() -> None:
    async def down(request: web.Request, body: bytes) -> web.Response:
        return web.Response(status=503)

    server = ThreadedServer(behaviour=down).start()
    try:
        async with aiohttp.ClientSession() as session:
            poster = CallbackPoster(session, attempts=2, backoff=0.01)
            poster.post(f"{server.url}/cb", {"job_id": "j2"})
            await poster.close(grace=10)
        assert len(server.snapshot()) == 2
    finally:
        server.stop()


async def test_a_full_queue_drops_instead_of_blocking() -> None:
    async with aiohttp.ClientSession() as session:
        poster = CallbackPoster(session, attempts=1, max_pending=1, backoff=0.01)
        poster.post("http://127.0.0.1:9/never", {"job_id": "a"})
        poster.post("http://127.0.0.1:9/never", {"job_id": "b"})  # returns at once: dropped
        assert len(poster._tasks) == 1
        await poster.close(grace=5)
