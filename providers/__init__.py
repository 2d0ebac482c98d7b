"""Provider adapters, grouped by channel, and the registry that finds them.

Adding a provider: one module ``providers/<channel>/<name>.py`` with a class that declares
``name`` and ``channels`` (an HttpProvider writes ``build_request`` and ``parse_response``),
and one test module ``tests/providers/<channel>/test_<name>.py`` that exposes ``CONTRACT``
for the shared contract suite (see ``tests/providers/test_contract.py``).
"""

from providers.base import BaseProvider, ProviderContext
from providers.http import HttpProvider, HttpRequest, HttpResponse
from providers.registry import ProviderPool, ProviderRegistry, discover

__all__ = [
    "BaseProvider",
    "HttpProvider",
    "HttpRequest",
    "HttpResponse",
    "ProviderContext",
    "ProviderPool",
    "ProviderRegistry",
    "discover",
]
