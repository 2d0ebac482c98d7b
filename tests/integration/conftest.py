"""Fixtures for tests against the real broker."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.httpserver import ThreadedServer


@pytest.fixture
def http_server() -> Iterator[ThreadedServer]:
    server = ThreadedServer().start()
    yield server
    server.stop()
