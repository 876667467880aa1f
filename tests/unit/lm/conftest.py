"""LM unit tests: a fresh process cache in a temporary directory for every test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from lm_fakes import FakeTime

from dspy_ash.lm import _cache as cache_module
from dspy_ash.lm._history import GLOBAL_HISTORY


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path: Path) -> Iterator[None]:
    cache_module.configure_cache(disk_cache_dir=tmp_path / "lm-cache")
    GLOBAL_HISTORY.clear()
    yield
    cache_module._cache = None
    GLOBAL_HISTORY.clear()


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()
