"""The RQ baseline's job: one HTTP call with ``requests``, as the old worker's POST task made it."""

from __future__ import annotations

from typing import Any

import requests


def post(url: str, args: Any, timeout: float = 15.0) -> int:
    """POST ``args`` as JSON to ``url`` (a new connection each job, like the old worker)."""
    response = requests.post(url, json=args, timeout=timeout)
    response.raise_for_status()
    return response.status_code
