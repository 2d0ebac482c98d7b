"""docs/providers.md is what scripts/gen_capabilities.py makes of the registered adapters."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_docs_providers_md_is_current() -> None:
    spec = importlib.util.spec_from_file_location(
        "gen_capabilities", ROOT / "scripts/gen_capabilities.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    committed = (ROOT / "docs/providers.md").read_text(encoding="utf-8")
    assert committed == module.render(), (
        "docs/providers.md is stale: run `python scripts/gen_capabilities.py`"
    )
