"""`configure()`/`context()` across threads and tasks, and which setting names exist, against dspy 3.4.1."""

from __future__ import annotations

import asyncio
import copy
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

import dspy_ash

dspy = pytest.importorskip("dspy")
dspy_settings_module = pytest.importorskip("dspy.dsp.utils.settings")

pytestmark = pytest.mark.oracle


@pytest.fixture
def fresh_dspy(monkeypatch):
    """dspy's settings are module globals: give each scenario a never-configured dspy, restored after."""
    monkeypatch.setattr(dspy_settings_module, "config_owner_thread_id", None)
    monkeypatch.setattr(dspy_settings_module, "config_owner_async_task", None)
    monkeypatch.setattr(
        dspy_settings_module, "main_thread_config", copy.deepcopy(dspy_settings_module.DEFAULT_CONFIG)
    )


def _outcome(fn: Callable[[], Any]) -> Any:
    try:
        return ("ok", fn())
    except Exception as exc:
        return (isinstance(exc, RuntimeError), str(exc))


def _in_pool(fn: Callable[[], Any]) -> Any:
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(_outcome, fn).result()


def _scenario_other_thread(lib: Any) -> list[Any]:
    lib.configure(num_threads=3)
    return [
        _in_pool(lambda: lib.configure(num_threads=4)),
        _in_pool(lambda: setattr(lib.settings, "num_threads", 5)),
        _in_pool(lambda: _with_context(lib, num_threads=6)),
        lib.settings.num_threads,
    ]


def _scenario_first_owner_is_a_worker(lib: Any) -> list[Any]:
    t = threading.Thread(target=lambda: lib.configure(num_threads=3))
    t.start()
    t.join()
    return [_outcome(lambda: lib.configure(num_threads=4)), lib.settings.num_threads]


def _scenario_tasks(lib: Any) -> list[Any]:
    async def main() -> list[Any]:
        lib.configure(num_threads=3)

        async def other() -> Any:
            first = _outcome(lambda: lib.configure(num_threads=4))
            with lib.context(num_threads=5):
                await asyncio.sleep(0)
                return first, lib.settings.num_threads

        seen = await asyncio.gather(asyncio.create_task(other()), asyncio.create_task(other()))
        to_thread = await asyncio.to_thread(_outcome, lambda: lib.configure(num_threads=6))
        lib.configure(num_threads=7)
        return [seen, to_thread, lib.settings.num_threads]

    out = asyncio.run(main())
    lib.configure(num_threads=8)  # the owner thread outside any task

    async def later() -> Any:
        return _outcome(lambda: lib.configure(num_threads=9))

    return [*out, asyncio.run(later()), lib.settings.num_threads]


def _with_context(lib: Any, **kw: Any) -> Any:
    with lib.context(**kw):
        return lib.settings.num_threads


@pytest.mark.parametrize(
    "scenario", [_scenario_other_thread, _scenario_first_owner_is_a_worker, _scenario_tasks]
)
def test_configure_ownership_matches_dspy(fresh_dspy, scenario):
    theirs = scenario(dspy)
    ours = scenario(dspy_ash)
    assert _strip_hints(ours) == theirs


def _strip_hints(value: Any) -> Any:
    """dspy-ash's thread message is DSPy's, then one sentence pointing at `context()`."""
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], str) and value[0] is True:
        return (True, value[1].split(" Use `dspy.context(...)`", 1)[0])
    if isinstance(value, list | tuple):
        return type(value)(_strip_hints(v) for v in value)
    return value


def test_every_dspy_setting_is_a_dspy_ash_setting():
    for name in dspy_settings_module.DEFAULT_CONFIG:
        assert name in dspy_ash.settings, name
        with dspy_ash.context(**{name: dspy_settings_module.DEFAULT_CONFIG[name]}):
            assert dspy_ash.settings[name] == dspy_settings_module.DEFAULT_CONFIG[name]
