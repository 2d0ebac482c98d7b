"""The stub provider: a separate aiohttp process on 127.0.0.1 that answers like an SMS/webhook API.

``python -m bench.stub --port 8765 --latency-ms 20`` answers every request after the latency
with ``{"status": "success", "message_id": ...}`` and counts it. A request carrying a token
``BT<epoch nanoseconds>`` (in its path, query or body; the bench puts the produce time there)
also records its end-to-end latency: arrival time minus that timestamp. ``BO<ns>`` does the
same for an OTP, whose latencies are also kept apart (``otp_latencies_ms``).

Control endpoints (the bench's, never a provider's):

- ``GET  /_bench/stats``          count, first/last arrival; ``?full=1`` adds every arrival
  time and latency (ns / ms) recorded since the last reset
- ``POST /_bench/reset``          forget everything counted so far
- ``POST /_bench/config?latency_ms=N&status=S``   change latency / status on the fly
"""

from __future__ import annotations

import argparse
import asyncio
import re
import time
from array import array

from aiohttp import web

TOKEN = re.compile(rb"B([TO])(\d{16,20})")


class Stats:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.count = 0
        self.arrivals = array("q")  # ns, every request
        self.latencies = array("d")  # ms, requests that carried a BT/BO token
        self.otp_latencies = array("d")  # ms, requests that carried a BO token
        self.tokenless = 0

    def record(self, arrival_ns: int, produced_ns: int | None, otp: bool = False) -> None:
        self.count += 1
        self.arrivals.append(arrival_ns)
        if produced_ns is None:
            self.tokenless += 1
            return
        latency = (arrival_ns - produced_ns) / 1e6
        self.latencies.append(latency)
        if otp:
            self.otp_latencies.append(latency)


def make_app(latency_ms: float, status: int) -> web.Application:
    stats = Stats()
    config: dict[str, float] = {"latency": latency_ms / 1000.0, "status": status}

    async def handle(request: web.Request) -> web.Response:
        arrival = time.time_ns()
        match = TOKEN.search(request.raw_path.encode())
        if match is None and request.can_read_body:
            match = TOKEN.search(await request.read())
        if match:
            stats.record(arrival, int(match.group(2)), otp=match.group(1) == b"O")
        else:
            stats.record(arrival, None)
        if config["latency"] > 0:
            await asyncio.sleep(config["latency"])
        n = stats.count
        return web.json_response(
            {"status": "success" if config["status"] < 400 else "error", "message_id": f"stub-{n}"},
            status=int(config["status"]),
        )

    async def get_stats(request: web.Request) -> web.Response:
        body: dict[str, object] = {
            "count": stats.count,
            "otp_count": len(stats.otp_latencies),
            "tokenless": stats.tokenless,
            "first_ns": stats.arrivals[0] if stats.arrivals else None,
            "last_ns": stats.arrivals[-1] if stats.arrivals else None,
        }
        if request.query.get("full"):
            body["arrivals_ns"] = stats.arrivals.tolist()
            body["latencies_ms"] = stats.latencies.tolist()
            body["otp_latencies_ms"] = stats.otp_latencies.tolist()
        return web.json_response(body)

    async def reset(request: web.Request) -> web.Response:
        stats.reset()
        return web.json_response({"count": 0})

    async def configure(request: web.Request) -> web.Response:
        if "latency_ms" in request.query:
            config["latency"] = float(request.query["latency_ms"]) / 1000.0
        if "status" in request.query:
            config["status"] = int(request.query["status"])
        return web.json_response(
            {"latency_ms": config["latency"] * 1000, "status": config["status"]}
        )

    app = web.Application(client_max_size=1 << 20)
    app.router.add_get("/_bench/stats", get_stats)
    app.router.add_post("/_bench/reset", reset)
    app.router.add_post("/_bench/config", configure)
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.stub", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--status", type=int, default=200)
    args = parser.parse_args(argv)
    if args.host not in ("127.0.0.1", "::1", "localhost"):
        parser.error("the stub binds loopback only")
    web.run_app(
        make_app(args.latency_ms, args.status),
        host=args.host,
        port=args.port,
        access_log=None,
        backlog=1024,
        print=lambda *_: print(f"stub listening on http://{args.host}:{args.port}/", flush=True),
    )


if __name__ == "__main__":
    main()
