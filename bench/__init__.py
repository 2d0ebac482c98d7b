"""fusion-stream benchmark harness: ``python -m bench`` (``make bench``).

Measures the worker side by side with the RQ worker it replaces and with the raw limits
(a bare aiohttp loop, a bare aiokafka + fastavro loop), all on loopback. See
docs/benchmarks.md for the scenarios, the method and the latest results.
"""
