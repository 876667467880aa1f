"""`configure()` has one owner, as in DSPy: other threads and tasks use `context()`, and nothing leaks."""

from __future__ import annotations

import asyncio
import sys
import threading
import types
from concurrent.futures import ThreadPoolExecutor

import pytest

import dspy_ash as dspy
from dspy_ash.errors import ConfigureOwnershipError, DspyAshError, UnknownSettingError
from dspy_ash.lm._types import Choice, LMResponse


class NamedLM(dspy.BaseLM):
    async def request(self, req):
        return LMResponse(choices=[Choice(text=self.model)])


def test_a_pooled_thread_never_carries_one_requests_settings_into_the_next():
    main = NamedLM("main")
    dspy.configure(lm=main)

    def request_a() -> tuple[int, object, object]:
        try:
            dspy.configure(lm=NamedLM("A"), cache_namespace="tenant-a")
        except RuntimeError:  # what code written for DSPy catches
            pass
        return threading.get_ident(), dspy.settings.lm, dspy.settings.cache_namespace

    def request_b() -> tuple[int, object, object]:
        return threading.get_ident(), dspy.settings.lm, dspy.settings.cache_namespace

    with ThreadPoolExecutor(max_workers=1) as pool:
        a = pool.submit(request_a).result()
        b = pool.submit(request_b).result()
    assert a[0] == b[0], "both requests ran on the one pooled thread"
    assert a[1:] == (main, None)
    assert b[1:] == (main, None)
    assert dspy.settings.lm is main


def test_configure_from_a_thread_that_is_not_the_owner_raises_as_dspy():
    dspy.configure(num_threads=3)
    with ThreadPoolExecutor(max_workers=1) as pool:
        failure = pool.submit(lambda: _raised(lambda: dspy.configure(num_threads=99))).result()
        setattr_failure = pool.submit(
            lambda: _raised(lambda: setattr(dspy.settings, "num_threads", 98))
        ).result()
    for exc in (failure, setattr_failure):
        assert isinstance(exc, ConfigureOwnershipError)
        assert isinstance(exc, RuntimeError) and isinstance(exc, DspyAshError)
        assert str(exc).startswith(
            "dspy.settings can only be changed by the thread that initially configured it."
        )
        assert "context(" in str(exc)
    assert dspy.settings.num_threads == 3


def test_context_is_how_a_pooled_thread_overrides_settings_per_request():
    dspy.configure(lm=NamedLM("main"))

    def request(tenant: str) -> tuple[str, str | None]:
        with dspy.context(lm=NamedLM(tenant), cache_namespace=tenant):
            inside = (dspy.settings.lm.model, dspy.settings.cache_namespace)
        assert (dspy.settings.lm.model, dspy.settings.cache_namespace) == ("main", None)
        return inside

    with ThreadPoolExecutor(max_workers=1) as pool:
        results = [pool.submit(request, t).result() for t in ("tenant-a", "tenant-b", "tenant-a")]
    assert results == [("tenant-a", "tenant-a"), ("tenant-b", "tenant-b"), ("tenant-a", "tenant-a")]


def test_the_first_thread_to_configure_is_the_owner_whichever_it_is():
    t = threading.Thread(target=lambda: dspy.configure(num_threads=3))
    t.start()
    t.join()
    assert dspy.settings.num_threads == 3  # a process-wide default, visible in every thread
    with pytest.raises(ConfigureOwnershipError, match="thread that initially configured"):
        dspy.configure(num_threads=4)
    assert dspy.settings.num_threads == 3


def test_a_fresh_thread_may_use_context_and_its_change_dies_with_the_block():
    dspy.configure(num_threads=3)
    seen: list[object] = []

    def worker() -> None:
        seen.append(_raised(lambda: dspy.configure(num_threads=5)))
        with dspy.context(num_threads=5):
            seen.append(dspy.settings.num_threads)
        seen.append(dspy.settings.num_threads)

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert isinstance(seen[0], ConfigureOwnershipError) and seen[1:] == [5, 3]


async def test_configure_from_another_task_raises_as_dspy_and_context_overrides_it():
    dspy.configure(num_threads=8)  # this test's task becomes the owner task

    async def other() -> int:
        with pytest.raises(ConfigureOwnershipError) as info:
            dspy.configure(num_threads=99)
        assert isinstance(info.value, RuntimeError)
        assert str(info.value) == (
            "dspy.configure(...) can only be called from the same async task that called it first. Please "
            "use `dspy.context(...)` in other async tasks instead."
        )
        with dspy.context(num_threads=99):
            await asyncio.sleep(0)
            return dspy.settings.num_threads

    assert await asyncio.gather(*[asyncio.create_task(other()) for _ in range(5)]) == [99] * 5
    assert dspy.settings.num_threads == 8
    dspy.configure(num_threads=9)  # the owner task may configure again
    assert dspy.settings.num_threads == 9


async def test_configure_from_a_worker_thread_of_the_loop_raises():
    dspy.configure(num_threads=8)
    exc = await asyncio.to_thread(_raised, lambda: dspy.configure(num_threads=77))
    assert isinstance(exc, ConfigureOwnershipError) and "thread" in str(exc)
    assert dspy.settings.num_threads == 8


def test_the_owner_thread_outside_any_task_may_always_configure():
    dspy.configure(num_threads=2)

    async def first() -> None:
        dspy.configure(num_threads=3)  # the first task to configure becomes the owner task

    async def second() -> None:
        dspy.configure(num_threads=5)

    asyncio.run(first())
    dspy.configure(num_threads=4)  # not inside a task: allowed, as in DSPy
    with pytest.raises(ConfigureOwnershipError, match="same async task"):
        asyncio.run(second())
    assert dspy.settings.num_threads == 4


async def test_in_ipython_any_task_may_configure(monkeypatch):
    fake = types.ModuleType("IPython")
    fake.get_ipython = lambda: object()  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "IPython", fake)
    dspy.configure(num_threads=8)

    async def cell() -> None:  # each notebook cell runs in its own task
        dspy.configure(num_threads=12)

    await asyncio.create_task(cell())
    assert dspy.settings.num_threads == 12


def test_unknown_setting_is_refused_and_names_it():
    with pytest.raises(UnknownSettingError) as info:
        dspy.configure(not_a_setting=1)
    assert "'not_a_setting'" in str(info.value)
    assert isinstance(info.value, TypeError) and isinstance(info.value, DspyAshError)
    assert "not_a_setting" not in dspy.settings


def test_a_typo_gets_a_suggestion_and_changes_nothing():
    lm = NamedLM("kept")
    dspy.configure(lm=lm)
    with pytest.raises(UnknownSettingError, match=r"'num_thread'\. Did you mean 'num_threads'\?"):
        dspy.configure(lm=NamedLM("lost"), num_thread=4)
    assert dspy.settings.lm is lm and dspy.settings.num_threads == 8
    with pytest.raises(UnknownSettingError, match="'lmm'"), dspy.context(lmm=None):
        pass
    with pytest.raises(UnknownSettingError, match="'tracee'"):
        dspy.settings.tracee = []


def test_every_setting_dspy_defines_is_accepted():
    for name in ("branch_idx", "caller_predict", "trace", "stream_listeners", "interpreter_factory"):
        with dspy.context(**{name: None}):
            assert dspy.settings[name] is None
    dspy.configure(branch_idx=1)
    assert dspy.settings.branch_idx == 1


def _raised(fn) -> BaseException | None:
    try:
        fn()
    except Exception as exc:
        return exc
    return None
