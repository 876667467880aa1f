"""GC pacing changes the whole process's GC thresholds, so it is off unless the process asks for it."""

from __future__ import annotations

import asyncio
import gc
import subprocess
import sys
import threading

import dspy_ash as dspy
from dspy_ash import _gc
from dspy_ash.lm._types import Choice, LMResponse
from dspy_ash.settings import enable_gc_pacing


class Probe(dspy.BaseLM):
    def __init__(self) -> None:
        super().__init__("probe")
        self.seen: list[int] = []

    async def request(self, req):
        await asyncio.sleep(0.01)
        self.seen.append(gc.get_threshold()[0])
        return LMResponse(choices=[Choice(text="x")])


async def _load(lm: Probe, calls: int = 200) -> None:
    await asyncio.gather(*(lm.acall("q") for _ in range(calls)))


async def test_a_library_user_keeps_the_process_gc_thresholds_under_load():
    before = gc.get_threshold()
    lm = Probe()
    await _load(lm)
    assert set(lm.seen) == {before[0]}
    assert dspy.settings.relax_gc is False


async def test_enable_gc_pacing_turns_it_on_process_wide_from_any_thread():
    dspy.configure(num_threads=2)  # this thread owns configure(); the switch is not bound by that rule
    worker = threading.Thread(target=enable_gc_pacing)
    worker.start()
    worker.join()
    lm = Probe()
    await _load(lm)
    assert max(lm.seen) >= _gc.RELAXED_THRESHOLD
    enable_gc_pacing(False)
    lm.seen.clear()
    await _load(lm)
    assert max(lm.seen) < _gc.RELAXED_THRESHOLD


def test_the_environment_variable_turns_it_on_for_a_process():
    code = "import dspy_ash; print(dspy_ash.settings.relax_gc)"  # read from DSPY_ASH_GC_PACING
    outputs = [
        subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        ).stdout.strip()
        for env in ({"DSPY_ASH_GC_PACING": "1"}, {"DSPY_ASH_GC_PACING": "0"}, {})
    ]
    assert outputs == ["True", "False", "False"]
