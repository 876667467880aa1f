"""docs/cli.md is the commands' own --help as it stands (regenerate: python scripts/cli_reference.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).parents[3]


def test_the_cli_reference_is_current() -> None:
    spec = importlib.util.spec_from_file_location("cli_reference", ROOT / "scripts" / "cli_reference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = module.render()
    assert "## `dspy-ash runs watch`" in text and "## `dspy-ash demo`" in text
    current = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert current == text, "docs/cli.md is not current: run python scripts/cli_reference.py"
